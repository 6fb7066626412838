"""Rank allocation across layers under one global parameter budget.

A layer of shape out × in kept at rank r costs ``r (out + in)`` parameters; it only saves
anything while ``r < out·in / (out + in)``. Layers whose allocated rank reaches that break-even
point stay dense (and cost ``out · in``).
"""

from __future__ import annotations

import math

import numpy as np

from lrkit.approx.rank import welore_rank

ALLOCATIONS = ("uniform", "energy", "welore")


def break_even_rank(shape) -> int:
    """Largest rank that still saves parameters: ``floor(out·in/(out+in) − ε)``."""
    out, inp = shape
    return max(0, math.ceil(out * inp / (out + inp)) - 1)


def layer_cost(shape, rank) -> int:
    """Parameters of a layer kept at ``rank`` (``None``: dense)."""
    out, inp = shape
    return out * inp if rank is None else rank * (out + inp)


def allocate(spectra, shapes, ratio, rule="uniform"):
    """Ranks per layer removing a ``ratio`` fraction of the targeted layers' parameters.

    Parameters
    ----------
    spectra : dict of str -> numpy.ndarray
        Singular values (decreasing) of each layer's *method-scaled* weight, e.g. ``W S``
        for whitening, so that ``"energy"`` trades the error the method actually makes.
    shapes : dict of str -> (out, in)
    ratio : float in (0, 1)
    rule : {"uniform", "energy", "welore"}
        ``"uniform"``: every layer keeps the same fraction, ``r = floor((1 − ratio) ·
        out·in/(out+in))`` (the rule of ASVD / SVD-LLM). ``"energy"``: greedily keep the
        singular values with the most normalised energy ``σ_i² / Σσ²`` per parameter
        ``(out + in)`` until the budget is spent. ``"welore"``: one global threshold τ on
        min–max normalised singular values (Jaiswal et al. 2024), found by bisection so the
        budget is met; heavy-tailed layers lose much rank, flat ones stay dense.

    Returns
    -------
    dict of str -> int or None
        ``None`` means the layer stays dense (its rank would not save parameters).
    """
    if rule not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}; got {rule!r}")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1) (fraction of parameters removed); got {ratio}")
    budget = (1.0 - ratio) * sum(out * inp for out, inp in shapes.values())
    if rule == "uniform":
        ranks = {name: max(1, math.floor((1 - ratio) * out * inp / (out + inp)))
                 for name, (out, inp) in shapes.items()}
    elif rule == "energy":
        ranks = _energy_ranks(spectra, shapes, budget)
    else:
        ranks = _welore_ranks(spectra, shapes, budget)
    return {name: (None if r > break_even_rank(shapes[name]) else r) for name, r in ranks.items()}


def _energy_ranks(spectra, shapes, budget):
    names = list(spectra)
    value, owner = [], []
    for index, name in enumerate(names):
        s = np.asarray(spectra[name], dtype=float)
        energy = s**2 / np.sum(s**2)
        value.append(energy / sum(shapes[name]))
        owner.append(np.full(len(s), index))
    order = np.argsort(np.concatenate(value))[::-1]
    costs = np.array([sum(shapes[n]) for n in names])[np.concatenate(owner)[order]]
    kept = order[np.cumsum(costs) <= budget]
    counts = np.bincount(np.concatenate(owner)[kept], minlength=len(names))
    return {name: max(1, int(counts[i])) for i, name in enumerate(names)}


def _welore_ranks(spectra, shapes, budget):
    def ranks_for(tau):
        return {name: welore_rank(spectra[name], tau) for name in spectra}

    def cost(ranks):
        return sum(layer_cost(shapes[n], None if r > break_even_rank(shapes[n]) else r)
                   for n, r in ranks.items())

    low, high = 0.0, 1.0  # tau = 1 keeps rank 1 everywhere: the cheapest allocation
    for _ in range(50):
        mid = (low + high) / 2
        if cost(ranks_for(mid)) > budget:
            low = mid
        else:
            high = mid
    return ranks_for(high)
