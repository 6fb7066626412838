"""Choosing the rank of a completion problem from the observed entries alone."""

from __future__ import annotations

import warnings

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_choice, check_int, check_real
from lrkit.exceptions import ConvergenceWarning
from lrkit.operators import EntrySampling
from lrkit.recovery._init import adjoint_svd
from lrkit.recovery.api import recover

RANK_RULES = ("holdout", "gap")
#: The hold-out search accepts a rank once this many ranks on each side of it score worse.
HOLDOUT_PATIENCE = 1


def default_max_rank(shape, m) -> int:
    """Largest rank worth trying: at most 20, and at most half the ranks whose
    ``k (n1 + n2 − k)`` degrees of freedom the ``m`` observations can pin down."""
    n1, n2 = shape
    return int(max(1, min(20, min(n1, n2) - 1, m // (2 * (n1 + n2)))))


def select_completion_rank(operator, y, max_rank=None, rule="holdout", *, holdout=0.1,
                           ridge=0.0, held_out=None, seed=None):
    """Rank for completion from the data.

    ``rule="holdout"``: hold out a random ``holdout`` fraction of the observed entries, fit
    ``altmin`` on the rest, and take the rank with the lowest held-out RMSE, found by a
    local search that starts at the ``"gap"`` rank and moves to a neighbouring rank while
    that predicts better (it stops at a rank whose ``HOLDOUT_PATIENCE`` neighbours on each
    side score worse; the held-out error falls steadily while the rank is too small).
    ``held_out`` (a boolean mask of the observations) fixes the held-out entries instead,
    so that the scores compare with another model's on the same split.
    ``rule="gap"``: the largest ratio ``σ_k / σ_{k+1}`` among the top ``max_rank + 1``
    singular values of the rescaled zero-filled data ``P_Ω(Y)/p`` (Keshavan, Montanari &
    Oh 2010 use the same spectrum to estimate the rank).

    Returns
    -------
    rank : int
    scores : dict of int -> float
        Held-out RMSE per rank tried, or the singular-value ratio per rank.
    """
    check_choice("rule", rule, RANK_RULES)
    if max_rank is None:
        max_rank = default_max_rank(operator.shape, operator.m)
    max_rank = check_int("max_rank", max_rank, 1, min(operator.shape) - 1)
    rng = as_generator(seed)
    start = _spectral_gap_rank(operator, y, max_rank, rng)
    if rule == "gap":
        return start
    if held_out is None:
        holdout = check_real("holdout", holdout, low=0.0, high=1.0, low_open=True,
                             high_open=True)
        test = rng.random(operator.m) < holdout
    else:
        test = np.asarray(held_out, dtype=bool)
    if test.all() or not test.any():
        raise ValueError("too few observed entries to hold some out for rank selection")
    scores, best = {}, start[0]
    while True:
        todo = [k for step in range(HOLDOUT_PATIENCE + 1) for k in (best - step, best + step)
                if 1 <= k <= max_rank and k not in scores]
        if not todo:
            return best, scores
        scores[todo[0]] = held_out_rmse(operator, y, todo[0], test, ridge=ridge, seed=rng)
        best = min(scores, key=scores.get)


def _spectral_gap_rank(operator, y, max_rank, rng):
    """``(rank, ratios)``: the largest ratio ``σ_k / σ_{k+1}`` among the top
    ``max_rank + 1`` singular values of ``P_Ω(Y)/p``."""
    _, s, _ = adjoint_svd(operator, y, max_rank + 1, seed=rng)
    ratios = s[:-1] / np.maximum(s[1:], np.finfo(float).tiny)
    scores = {k + 1: float(r) for k, r in enumerate(ratios)}
    return max(scores, key=scores.get), scores


def held_out_rmse(operator, y, rank, held_out, *, ridge=0.0, seed=None):
    """RMSE on the ``held_out`` observations (a boolean mask) of an ``altmin`` fit of
    ``rank`` to the others (at most 100 iterations, tolerance 1e-6)."""
    train_op = EntrySampling(operator.shape, operator.rows[~held_out],
                             operator.cols[~held_out])
    y = np.asarray(y, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = recover(train_op, y[~held_out], rank, method="altmin", ridge=ridge,
                      max_iter=100, drop_coherent=False, tol=1e-6, seed=seed)
    F, G = fit.factors
    predicted = np.einsum("ek,ek->e", F[operator.rows[held_out]],
                          G[operator.cols[held_out]])
    return float(np.sqrt(np.mean((predicted - y[held_out]) ** 2)))
