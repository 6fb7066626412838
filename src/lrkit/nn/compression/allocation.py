"""Rank allocation across layers under one global parameter budget.

A layer of shape out × in kept at rank r costs ``r (out + in)`` parameters; it only saves
anything while ``r < out·in / (out + in)``. Layers whose allocated rank reaches that break-even
point stay dense (and cost ``out · in``).
"""

from __future__ import annotations

import math

import numpy as np

from lrkit.approx.rank import select_rank, welore_rank
from lrkit.registry import declare

ALLOCATIONS = declare("allocation", "per-layer ranks under a parameter budget", {
    "uniform": "the same fraction of every layer's break-even rank",
    "energy": "singular values bought greedily by their normalised energy",
    "welore": "WeLore: layers whose spectrum decays fast are cut deeper (paper 38)",
    "sensitivity": "singular values bought by their damage to the model's output",
    "rmt": "ranks from the Marchenko–Pastur edge of the calibration inputs (no budget)",
}, parameter="allocation")


def break_even_rank(shape) -> int:
    """Largest rank that still saves parameters: ``floor(out·in/(out+in) − ε)``."""
    out, inp = shape
    return max(0, math.ceil(out * inp / (out + inp)) - 1)


def layer_cost(shape, rank) -> int:
    """Parameters of a layer kept at ``rank`` (``None``: dense)."""
    out, inp = shape
    return out * inp if rank is None else rank * (out + inp)


def allocate(spectra, shapes, ratio, rule="uniform", weights=None):
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
        ``"rmt"`` is not a budget rule: see :func:`rmt_ranks`.
        ``"sensitivity"``: minimise the predicted damage ``Σ_ℓ g_ℓ Σ_{i>r_ℓ} σ_{ℓ,i}²``
        under the budget, where ``g_ℓ`` (``weights``) is how much of a unit of layer ℓ's
        output error reaches the model's output (measured on calibration data by
        :func:`.layer_sensitivities`). Each layer's damage is convex in
        its rank, so buying singular values greedily by ``g_ℓ σ_i² / (out + in)`` is optimal
        up to the last partial purchase; the result is never worse than ``"uniform"`` on
        this objective (uniform is returned when it would be).
    weights : dict of str -> float, optional
        ``g_ℓ`` for ``"sensitivity"``.

    Returns
    -------
    dict of str -> int or None
        ``None`` means the layer stays dense (its rank would not save parameters).
    """
    ALLOCATIONS.get(rule)
    if rule == "rmt":
        raise ValueError("allocation='rmt' sets ranks from the calibration inputs, not a "
                         "budget: use rmt_ranks (lnn.compress(model, None, allocation='rmt'))")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1) (fraction of parameters removed); got {ratio}")
    budget = (1.0 - ratio) * sum(out * inp for out, inp in shapes.values())
    if rule == "uniform":
        ranks = {name: max(1, math.floor((1 - ratio) * out * inp / (out + inp)))
                 for name, (out, inp) in shapes.items()}
    elif rule == "energy":
        ranks = _greedy_ranks(spectra, shapes, budget, _normalised(spectra))
    elif rule == "sensitivity":
        if weights is None or set(weights) != set(spectra):
            raise ValueError("allocation='sensitivity' needs weights: one per layer")
        ranks = _greedy_ranks(spectra, shapes, budget, weights)
        uniform = allocate(spectra, shapes, ratio, "uniform")
        if damage(spectra, weights, uniform) < damage(spectra, weights, _as_dense(ranks, shapes)):
            return uniform
    else:
        ranks = _welore_ranks(spectra, shapes, budget)
    return _as_dense(ranks, shapes)


def marchenko_pastur_rank(eigenvalues, samples) -> int:
    """Number of input-covariance eigenvalues outside the Marchenko–Pastur bulk.

    ``eigenvalues`` of ``Σ_t x_t x_tᵀ`` over ``samples`` tokens of dimension d are the
    squared singular values of the d × samples activation matrix; a pure-noise matrix of
    entry deviation σ has them below ``σ² (√samples + √d)²``, σ estimated from the median
    singular value (:func:`lrkit.approx.rank.select_rank`, ``"marchenko_pastur"``). The
    directions above the edge are the layer's signal subspace: RMT-KD (Ettori et al.
    2025) keeps exactly those, so the rank needs no budget.
    """
    eigenvalues = np.clip(np.asarray(eigenvalues, dtype=float), 0.0, None)
    if samples < 1 or eigenvalues.size == 0:
        raise ValueError("marchenko_pastur_rank needs eigenvalues and samples >= 1")
    return max(1, select_rank(np.sqrt(eigenvalues), "marchenko_pastur",
                              shape=(eigenvalues.size, int(samples))))


def rmt_ranks(eigenvalues, samples, shapes):
    """Ranks per layer from :func:`marchenko_pastur_rank` of each layer's input covariance
    (``eigenvalues[name]``, ``samples[name]`` tokens); ``None`` where that rank would not
    save parameters."""
    ranks = {name: min(marchenko_pastur_rank(eigenvalues[name], samples[name]),
                       min(shapes[name])) for name in shapes}
    return _as_dense(ranks, shapes)


def damage(spectra, weights, ranks):
    """Predicted damage ``Σ_ℓ g_ℓ Σ_{i>r_ℓ} σ_{ℓ,i}²`` of an allocation (dense layers: 0)."""
    total = 0.0
    for name, rank in ranks.items():
        if rank is not None:
            s = np.asarray(spectra[name], dtype=float)
            total += float(weights[name]) * float(np.sum(s[rank:] ** 2))
    return total


def _as_dense(ranks, shapes):
    return {name: (None if r > break_even_rank(shapes[name]) else r) for name, r in ranks.items()}


def _normalised(spectra):
    """Weights that make each layer's total energy 1 (the ``"energy"`` rule)."""
    return {name: 1.0 / max(float(np.sum(np.asarray(s, dtype=float) ** 2)), 1e-300)
            for name, s in spectra.items()}


def _greedy_ranks(spectra, shapes, budget, weights):
    """Buy singular values by ``weights[ℓ] σ_i² / (out + in)`` until the budget is spent.

    Every layer keeps rank 1 (paid first). A layer offers at most ``break_even_rank + 1``
    singular values: buying the last one makes it dense, which costs no more than the
    ranks bought and holds all the rest."""
    names = list(spectra)
    value, owner = [], []
    for index, name in enumerate(names):
        s = np.asarray(spectra[name], dtype=float)[1:break_even_rank(shapes[name]) + 1]
        value.append(float(weights[name]) * s**2 / sum(shapes[name]))
        owner.append(np.full(len(s), index))
    budget -= sum(sum(shapes[n]) for n in names)
    order = np.argsort(np.concatenate(value))[::-1]
    costs = np.array([sum(shapes[n]) for n in names])[np.concatenate(owner)[order]]
    kept = order[np.cumsum(costs) <= budget]
    counts = np.bincount(np.concatenate(owner)[kept], minlength=len(names))
    return {name: 1 + int(counts[i]) for i, name in enumerate(names)}


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
