"""Low-rank matrix estimation with entrywise (ℓ∞) error control from anchor rows and
columns (paper 43: Shah, Song, Xu & Yang 2020, "Sample efficient reinforcement learning via
low-rank matrix estimation").

Observe every entry of a few anchor rows ``K`` and anchor columns ``L`` (``|K| + |L|`` lines
of the matrix: ``|K| n2 + n1 |L| − |K||L|`` samples). With ``C = M[:, L]``, ``W = M[K, L]``
and ``R = M[K, :]``, a rank-``r`` matrix whose anchor block has rank ``r`` is exactly

    M = C W⁺ R,

and under bounded noise ``||E||_∞ ≤ ε`` on the observed entries every entry of the estimate
moves by at most ``ε (a + b + a b)`` to first order, with ``a = max_j ||(W⁺ R)_{:, j}||₁``
and ``b = max_i ||(C W⁺)_{i, :}||₁`` (the entries of ``C W⁺`` and ``W⁺ R`` are the
interpolation weights of the anchors). The estimate never spreads an error beyond these
weights: that is the ℓ∞ guarantee, unlike a truncated SVD, whose error on one entry depends
on every other. Every fully observed row and column is an anchor, and ``W⁺`` is the
pseudo-inverse of ``W``'s best rank-``r`` approximation, so that more anchors than ``r``
average the noise (the paper's estimator with ``|K| = |L| = r`` is the special case).
"""

from __future__ import annotations

import numpy as np

from lrkit.recovery.registry import Solver, register
from lrkit.result import Status


def cross_estimate(C, W, R, rank):
    """Rank-``rank`` skeleton ``C W_r⁺ R`` from anchor columns ``C`` (n1 × l), block ``W``
    (k × l) and rows ``R`` (k × n2), ``W_r⁺`` the pseudo-inverse of ``W``'s best rank-``rank``
    approximation (every anchor is used: with k, l > rank the noise averages out):
    ``(F, G, weights)`` with ``F Gᵀ`` the estimate and the ℓ∞ weights ``(a, b)`` of the
    module docstring."""
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    keep = np.arange(len(s)) < rank
    if s[0] > 0:
        keep &= s > s[0] * max(W.shape) * np.finfo(float).eps
    else:
        keep[:] = False
    inverse = (Vt[keep].T / s[keep]) @ U[:, keep].T    # W_r⁺ (l × k)
    left = C @ inverse                                  # C W_r⁺ (n1 × k)
    a = float(np.abs(inverse @ R).sum(axis=0).max()) if keep.any() else 0.0
    b = float(np.abs(left).sum(axis=1).max()) if keep.any() else 0.0
    return left, R.T, (a, b)


def linf_bound(noise, weights):
    """First-order entrywise error bound ``ε (a + b + a b)`` for noise at most ``noise``."""
    a, b = weights
    return noise * (a + b + a * b)


def _solve(run, operator, y, rank, options, rng):
    full_rows, full_cols = operator.anchor_rows, operator.anchor_cols
    if len(full_rows) < rank or len(full_cols) < rank:
        raise ValueError(
            f"method='linf' needs at least rank={rank} anchor rows and columns; the operator "
            f"has {len(full_rows)} and {len(full_cols)}: sample more lines")
    values = np.asarray(y, dtype=float)
    rows, cols = operator.rows, operator.cols
    in_cols, in_rows = np.isin(cols, full_cols), np.isin(rows, full_rows)
    C = np.empty((operator.shape[0], len(full_cols)))   # M[:, L]
    C[rows[in_cols], np.searchsorted(full_cols, cols[in_cols])] = values[in_cols]
    R = np.empty((len(full_rows), operator.shape[1]))   # M[K, :]
    R[np.searchsorted(full_rows, rows[in_rows]), cols[in_rows]] = values[in_rows]
    W = R[:, full_cols]
    F, G, weights = cross_estimate(C, W, R, rank)
    run.t += 1
    gain = linf_bound(1.0, weights)
    run.record(float(np.linalg.norm(operator.forward_factored(F, G) - values) ** 2 / 2),
               (F, G), linf_gain=gain)
    run.stop(Status.CONVERGED, f"closed form from {len(full_rows)} full rows and "
             f"{len(full_cols)} full columns; ℓ∞ noise gain "
             f"{gain:.3g} (history['linf_gain']: entrywise error ≤ gain × noise bound)")
    return run.result((F, G))


register(Solver(
    "linf", _solve, {}, needs=frozenset({"entries", "lines"}), array_api=False,
    summary="skeleton C W⁺ R from full anchor rows and columns: ℓ∞ error control (paper 43)"))
