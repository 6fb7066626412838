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
#: The hold-out search stops once the score has not improved for this many ranks.
HOLDOUT_PATIENCE = 2


def default_max_rank(shape, m) -> int:
    """Largest rank worth trying: at most 20, and at most half the ranks whose
    ``k (n1 + n2 − k)`` degrees of freedom the ``m`` observations can pin down."""
    n1, n2 = shape
    return int(max(1, min(20, min(n1, n2) - 1, m // (2 * (n1 + n2)))))


def select_completion_rank(operator, y, max_rank=None, rule="holdout", *, holdout=0.1,
                           ridge=0.0, seed=None):
    """Rank for completion from the data.

    ``rule="holdout"``: hold out a random ``holdout`` fraction of the observed entries, fit
    ``altmin`` at ranks 1, 2, … on the rest, and take the rank with the lowest held-out RMSE
    (the search stops after ``HOLDOUT_PATIENCE`` ranks without improvement).
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
    if rule == "gap":
        _, s, _ = adjoint_svd(operator, y, max_rank + 1, seed=rng)
        ratios = s[:-1] / np.maximum(s[1:], np.finfo(float).tiny)
        scores = {k + 1: float(r) for k, r in enumerate(ratios)}
        return max(scores, key=scores.get), scores
    holdout = check_real("holdout", holdout, low=0.0, high=1.0, low_open=True, high_open=True)
    test = rng.random(operator.m) < holdout
    if test.all() or not test.any():
        raise ValueError("too few observed entries to hold some out for rank selection")
    train_op = EntrySampling(operator.shape, operator.rows[~test], operator.cols[~test])
    y = np.asarray(y, dtype=np.float64)
    scores, best = {}, None
    for k in range(1, max_rank + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = recover(train_op, y[~test], k, method="altmin", ridge=ridge, max_iter=100,
                          drop_coherent=False,
                          tol=1e-6, seed=rng)
        F, G = fit.factors
        predicted = np.einsum("ek,ek->e", F[operator.rows[test]], G[operator.cols[test]])
        scores[k] = float(np.sqrt(np.mean((predicted - y[test]) ** 2)))
        if best is None or scores[k] < scores[best]:
            best = k
        elif k - best >= HOLDOUT_PATIENCE:
            break
    return best, scores
