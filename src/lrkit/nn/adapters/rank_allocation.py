"""One-shot rank allocation under a parameter budget (CE-SSL, paper 7).

Before training, one pass of calibration batches gives each targeted layer's weight
gradient ``G_l``. A rank-``k`` update of that layer can lower the loss, to first order, by
as much as the energy ``Σ_{i≤k} σ_i(G_l)²`` of its top singular values, and costs
``k (in_l + out_l)`` parameters. Rank components are granted greedily, largest
``σ_i(G_l)² / (in_l + out_l)`` first, until the budget is spent; a layer may get rank 0
(it is then left as it is).
"""

from __future__ import annotations

import heapq

import torch


def gradient_spectra(model, layers, batches, loss_fn):
    """``{name: singular values of Σ_batches ∂L/∂W}`` of each layer in ``layers``."""
    weights = {name: module.weight for name, module in layers.items()}
    saved = {name: w.requires_grad for name, w in weights.items()}
    sums = {name: torch.zeros_like(w, dtype=torch.float64) for name, w in weights.items()}
    was_training = model.training
    model.eval()
    try:
        for w in weights.values():
            w.requires_grad_(True)
        count = 0
        for batch in batches:
            model.zero_grad(set_to_none=True)
            loss_fn(model, batch).backward()
            for name, w in weights.items():
                if w.grad is not None:
                    sums[name] += w.grad.detach().to(torch.float64)
            count += 1
        if count == 0:
            raise ValueError("calibration is empty: pass at least one batch")
    finally:
        model.zero_grad(set_to_none=True)
        for name, w in weights.items():
            w.requires_grad_(saved[name])
        model.train(was_training)
    return {name: torch.linalg.svdvals(total) for name, total in sums.items()}


def allocate_ranks(spectra, shapes, budget, max_rank=None):
    """Greedy allocation of rank components to layers (see the module docstring).

    Parameters
    ----------
    spectra : dict name -> 1-D tensor of singular values (decreasing)
    shapes : dict name -> (out, in)
    budget : int
        Trainable parameters to spend, counted as ``rank (in + out)`` a layer.
    max_rank : int, optional
        Cap on any layer's rank.

    Returns
    -------
    dict name -> int rank (possibly 0)
    """
    ranks = {name: 0 for name in spectra}
    cost = {name: sum(shapes[name]) for name in spectra}
    if budget < min(cost.values()):
        raise ValueError(f"budget={budget} parameters cannot buy rank 1 in any layer (the "
                         f"cheapest costs {min(cost.values())}); raise the budget")
    queue = [(-float(s[0]) ** 2 / cost[name], name) for name, s in spectra.items() if len(s)]
    heapq.heapify(queue)
    left = budget
    while queue:
        _, name = heapq.heappop(queue)
        if cost[name] > left:
            continue
        ranks[name] += 1
        left -= cost[name]
        k = ranks[name]
        limit = min(len(spectra[name]), max_rank or len(spectra[name]))
        if k < limit:
            heapq.heappush(queue, (-float(spectra[name][k]) ** 2 / cost[name], name))
    return ranks
