"""Trained Rank Pruning (paper 39): a nuclear-norm regulariser trained with the task, and
low-rank projection of the weights every few steps.

:class:`NuclearRegularizer` returns ``λ Σ_W ||W||_*`` over the chosen weights; autograd
gives its sub-gradient ``λ U Vᵀ`` (from ``W = U S Vᵀ``). :func:`truncate` projects each
weight on its best rank-``k`` approximation, ``k`` the smallest rank keeping ``energy`` of
``Σ σ²`` (or a given ``rank``); on :class:`~lrkit.nn.training.maestro.MaestroLinear` it
keeps the first ``k`` ordered components instead.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit._validation import check_int, check_real
from lrkit.nn.training.maestro import MaestroLinear


def _weights(model, targets):
    from lrkit.nn.adapters.adaptation import target_layers

    return target_layers(model, targets)


class NuclearRegularizer:
    """``λ Σ ||W||_*`` over the targeted ``nn.Linear`` weights of ``model``.

    Parameters
    ----------
    model : nn.Module
    weight : float
        ``λ``.
    targets : "all-linear", list of names or callable
        As in :func:`lrkit.nn.adapt`.

    Examples
    --------
    >>> reg = NuclearRegularizer(model, weight=1e-4)          # doctest: +SKIP
    >>> loss = task_loss + reg(); loss.backward()             # doctest: +SKIP
    """

    def __init__(self, model, weight=1e-4, targets="all-linear"):
        self.weight = check_real("weight", weight, low=0.0)
        self.layers = _weights(model, targets)

    def __call__(self):
        total = sum(torch.linalg.matrix_norm(layer.weight, ord="nuc")
                    for layer in self.layers.values())
        return self.weight * total


@torch.no_grad()
def truncate(model, energy=None, *, rank=None, targets="all-linear"):
    """Project the targeted weights of ``model`` on low rank, in place.

    Parameters
    ----------
    energy : float in (0, 1], optional
        Keep the smallest rank whose singular values hold this fraction of ``Σ σ²``.
    rank : int, optional
        Keep this rank (instead of ``energy``).
    targets : as in :func:`lrkit.nn.adapt`

    Returns
    -------
    dict of str -> int
        The rank kept in each layer.
    """
    if (energy is None) == (rank is None):
        raise ValueError("pass exactly one of energy= (a fraction) or rank= (an int)")
    if energy is not None:
        energy = check_real("energy", energy, low=0.0, high=1.0, low_open=True)
    else:
        rank = check_int("rank", rank, 1)
    kept = {}
    for name, module in model.named_modules():
        if isinstance(module, MaestroLinear):
            module.eval_rank = (_prefix_rank(module, energy) if energy is not None
                                else min(rank, module.rank))
            kept[name] = module.eval_rank
    if any(type(m) is nn.Linear for m in model.modules()):
        for name, layer in _weights(model, targets).items():
            U, s, Vh = torch.linalg.svd(layer.weight.float(), full_matrices=False)
            if energy is not None:
                share = torch.cumsum(s**2, 0) / torch.clamp((s**2).sum(), min=1e-30)
                k = int(torch.searchsorted(share, torch.tensor(energy) - 1e-7)) + 1
            else:
                k = min(rank, s.numel())
            layer.weight.copy_(((U[:, :k] * s[:k]) @ Vh[:k]).to(layer.weight.dtype))
            kept[name] = k
    return kept


def _prefix_rank(layer, energy):
    """The fewest leading components ``k`` of a Maestro layer whose ``W_k = B_k A_k`` holds
    ``energy`` of ``‖B A‖_F²`` (ordered dropout makes the leading components the
    important ones)."""
    B, A = layer.B.double(), layer.A.double()
    # ‖Σ_{i<k} b_i a_iᵀ‖_F² = Σ_{i,j<k} (b_i·b_j)(a_i·a_j): the leading blocks of G
    prefix = ((B.T @ B) * (A @ A.T)).cumsum(0).cumsum(1).diagonal()
    total = float(prefix[-1])
    if total == 0.0:
        return 1
    return int(torch.nonzero(prefix >= (energy - 1e-7) * total)[0]) + 1


@torch.no_grad()
def welore_ranks(model, targets="all-linear", threshold=None):
    """WeLore's rank of each targeted weight (paper 16: the layers whose normalised
    spectrum is heavy-tailed become low rank during training): ``{name: (rank, full)}``."""
    from lrkit.approx.rank import WELORE_THRESHOLD, welore_rank

    threshold = WELORE_THRESHOLD if threshold is None else threshold
    ranks = {}
    for name, layer in _weights(model, targets).items():
        s = torch.linalg.svdvals(layer.weight.float()).cpu().numpy()
        ranks[name] = (welore_rank(s, threshold), int(s.size))
    return ranks
