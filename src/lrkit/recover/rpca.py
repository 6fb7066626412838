"""Robust PCA: split a matrix into low-rank plus sparse, ``M = L + S``, with missing entries."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from lrkit._validation import (
    ConvergenceWarning,
    check_choice,
    check_finite_array,
    check_int,
    check_rank,
    check_real,
)
from lrkit.approx.svd import svd as truncated_svd
from lrkit.result import RecoveryResult

RPCA_METHODS = ("pcp", "altproj")
#: Augmented-Lagrangian penalty growth of the inexact ALM (Lin, Chen & Ma 2010, Alg. 5).
PCP_RHO = 1.5
#: AltProj stages below the target rank stop at this relative change of L, or after
#: ``STAGE_ITERS`` iterations; only the last stage is solved to ``tol``.
STAGE_TOL = 1e-3
STAGE_ITERS = 20
#: AltProj's first threshold is at most this many robust standard deviations of the entries.
INIT_Z = 5.0
#: Below this smaller dimension the singular value thresholding uses a full LAPACK SVD.
FULL_SVD_MAX_DIM = 500


@dataclass(repr=False)
class RobustPCAResult(RecoveryResult):
    """:class:`~lrkit.RecoveryResult` plus the two parts of ``M = L + S``.

    ``factors = (U √s, V √s)`` of the low-rank part, so ``estimate`` equals ``low_rank``.
    ``sparse`` is zero on unobserved entries.
    """

    low_rank: np.ndarray = None
    sparse: np.ndarray = None


def rpca(M, method="pcp", *, rank=None, lam=None, mask=None, tol=1e-7, max_iter=500,
         beta=None, truth=None, seed=None, callback=None):
    """Robust principal component analysis: ``M = L + S`` with L low-rank and S sparse.

    Parameters
    ----------
    M : array_like, shape (n1, n2)
        The data (any value on unobserved entries is ignored; NaN allowed there).
    method : {"pcp", "altproj"}
        ``"pcp"``: principal component pursuit ``min ||L||_* + λ||S||_1 s.t. L + S = M`` on
        the observed entries, by the inexact augmented Lagrangian method (Candès, Li, Ma &
        Wright 2011; Lin, Chen & Ma 2010)::

            L ← SVT_{1/μ}(M − S + Y/μ),  S ← shrink_{λ/μ}(M − L + Y/μ),
            Y ← Y + μ(M − L − S),        μ ← min(ρ μ, μ̄),

        with ``Y_0 = M / max(||M||_2, ||M||_∞/λ)``, ``μ_0 = 1.25/||M||_2``, ``ρ = 1.5``.
        ``"altproj"``: non-convex alternating projections with known ``rank`` (Netrapalli,
        Niranjan, Sanghavi, Anandkumar & Jain 2014): in stage ``k``,
        ``L ← P_k(M − S)``, ``S ← H_ζ(M − L)`` with the decreasing threshold
        ``ζ = β (σ_{k+1}(M − S) + 2^{-t} σ_k(M − S))``; the stage ranks double
        (1, 2, 4, …, rank) instead of growing by one, and the first threshold is capped by a
        robust entry scale (see ``_altproj``).
    rank : int
        Needed by ``"altproj"``; ignored by ``"pcp"`` (whose rank follows from ``lam``).
    lam : float > 0, optional
        Weight of the ℓ1 term of ``"pcp"``; default ``1/√max(n1, n2)`` (Candès et al.).
    mask : boolean array (n1, n2), optional
        Observed entries (True). Unobserved entries are filled by the low-rank part and get
        ``S = 0``.
    tol : float
        Stop when ``||P_Ω(M − L − S)||_F / ||P_Ω(M)||_F < tol`` (``"pcp"``) or when the
        relative change of ``L`` falls below it (``"altproj"``).
    max_iter : int
    beta : float, optional
        ``"altproj"`` threshold constant; default ``2·rank/√(n1 n2)``, the
        ``μ² r/√(n1 n2)`` of the paper with incoherence ``μ² = 2``.
    truth : array, optional
        True low-rank part: ``history["rel_error"]`` is recorded.
    seed : int or numpy.random.Generator, optional
        Randomness of the partial SVDs on large inputs.
    callback : callable, optional
        Called with ``(iteration, L, S)``; raising ``StopIteration`` stops.

    Returns
    -------
    RobustPCAResult

    Examples
    --------
    >>> import lrkit
    >>> prob = lrkit.problems.robust_pca(200, 200, rank=5, corruption=0.05, seed=0)
    >>> dec = lrkit.rpca(prob.matrix)
    >>> bool(lrkit.relative_error(dec.low_rank, prob.low_rank) < 1e-6)
    True
    """
    check_choice("method", method, RPCA_METHODS)
    M = np.array(M, dtype=np.float64)
    if M.ndim != 2 or 0 in M.shape:
        raise ValueError(f"M must be a non-empty 2-d array; got shape {M.shape}")
    observed = _check_mask(mask, M.shape)
    check_finite_array("M (observed entries)", M[observed])
    if not observed.any():
        raise ValueError("no observed entries: mask is all False")
    M[~observed] = 0.0
    tol = check_real("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, 1)
    if truth is not None:
        truth = np.asarray(truth, dtype=np.float64)
        if truth.shape != M.shape:
            raise ValueError(f"truth must have shape {M.shape}; got {truth.shape}")
    start = time.perf_counter()
    if method == "pcp":
        lam = 1 / math.sqrt(max(M.shape)) if lam is None else check_real(
            "lam", lam, low=0.0, low_open=True)
        L, parts, S, records, converged, message = _pcp(M, observed, lam, tol, max_iter,
                                                        truth, seed, callback)
    else:
        if rank is None:
            raise ValueError("method='altproj' needs rank=; use method='pcp' if it is unknown")
        rank = check_rank(rank, M.shape)
        if rank >= min(M.shape):
            raise ValueError(f"rank={rank} must be < min(n1, n2)={min(M.shape)} for altproj")
        beta = 2 * rank / math.sqrt(M.size) if beta is None else check_real(
            "beta", beta, low=0.0, low_open=True)
        L, parts, S, records, converged, message = _altproj(M, observed, rank, beta, tol,
                                                            max_iter, truth, seed, callback)
    if not converged and message.startswith("reached"):
        warnings.warn(f"rpca({method}): {message}", ConvergenceWarning, stacklevel=2)
    U, s, Vt = parts  # the last iterate's own SVD: L = U diag(s) Vt
    if len(s) == 0:
        U, s, Vt = np.zeros((M.shape[0], 1)), np.zeros(1), np.zeros((1, M.shape[1]))
    root = np.sqrt(s)
    history = {key: np.asarray(value, dtype=float) for key, value in records.items()}
    if truth is None:
        history.pop("rel_error")
    return RobustPCAResult(
        factors=(U * root, Vt.T * root),
        n_iter=len(records["loss"]),
        converged=converged,
        message=message,
        method=method,
        wall_time=time.perf_counter() - start,
        history=history,
        low_rank=L,
        sparse=S,
    )


def _check_mask(mask, shape):
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask must have the shape of M {shape}; got {mask.shape}")
    if mask.dtype != bool:
        raise ValueError(f"mask must be boolean (True = observed); got dtype {mask.dtype}")
    return mask


def singular_value_threshold(X, tau, rank_guess, seed=None):
    """``SVT_τ(X) = U max(Σ − τ, 0) Vᵀ`` as its factors ``(U_r, σ_r − τ, V_rᵀ)``, r the
    number of singular values above τ.

    Small inputs use a full SVD; larger ones a truncated SVD of ``rank_guess`` values,
    doubled until the smallest computed value falls below ``τ``.
    """
    n = min(X.shape)
    if n <= FULL_SVD_MAX_DIM:
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
    else:
        k = min(max(rank_guess, 1), n)
        while True:
            U, s, Vt = truncated_svd(X, k, seed=seed)
            if s[-1] <= tau or k == n:
                break
            k = min(2 * k, n)
    kept = int(np.count_nonzero(s > tau))
    return U[:, :kept], s[:kept] - tau, Vt[:kept]


def _record(records, loss, L, truth):
    records["loss"].append(loss)
    records["rel_error"].append(
        np.linalg.norm(L - truth) / np.linalg.norm(truth) if truth is not None else math.nan)


def _pcp(M, observed, lam, tol, max_iter, truth, seed, callback):
    """Inexact ALM for principal component pursuit (Lin, Chen & Ma 2010, Alg. 5)."""
    norm_two = float(np.linalg.norm(M, 2)) if min(M.shape) <= FULL_SVD_MAX_DIM else float(
        truncated_svd(M, 1, seed=seed)[1][0])
    norm_fro = float(np.linalg.norm(M))
    Y = M / max(norm_two, np.abs(M).max() / lam)
    mu, mu_max = 1.25 / norm_two, 1.25e7 / norm_two
    S = np.zeros_like(M)
    records = {"loss": [], "rel_error": []}
    rank_guess = 10
    for t in range(1, max_iter + 1):
        parts = singular_value_threshold(M - S + Y / mu, 1 / mu, rank_guess, seed)
        L = (parts[0] * parts[1]) @ parts[2]
        rank_guess = len(parts[1]) + 1 + round(0.05 * min(M.shape))
        target = M - L + Y / mu
        S = np.sign(target) * np.maximum(np.abs(target) - lam / mu, 0.0)
        S[~observed] = target[~observed]  # unobserved: the constraint does not bind
        residual = M - L - S
        Y += mu * residual
        mu = min(PCP_RHO * mu, mu_max)
        primal = float(np.linalg.norm(residual)) / norm_fro
        _record(records, primal, L, truth)
        if callback is not None:
            try:
                callback(t, L, S)
            except StopIteration:
                return L, parts, _observed_part(S, observed), records, False, (
                    "stopped by callback")
        if primal < tol:
            return (L, parts, _observed_part(S, observed), records, True,
                    f"constraint residual below tol={tol:g}")
    return (L, parts, _observed_part(S, observed), records, False,
            f"reached max_iter={max_iter}")


def _observed_part(S, observed):
    S = S.copy()
    S[~observed] = 0.0
    return S


def _stage_ranks(rank):
    """Ranks of AltProj's stages: 1, 2, 4, … then ``rank``.

    The paper adds one rank per stage (``rank`` stages); doubling keeps the stage-wise
    peeling of large singular values, which protects ill-conditioned L, with
    ``log2(rank)`` stages instead.
    """
    ranks = [1]
    while ranks[-1] < rank:
        ranks.append(min(2 * ranks[-1], rank))
    return ranks


def _altproj(M, observed, rank, beta, tol, max_iter, truth, seed, callback):
    """Stage-wise alternating projections (Netrapalli et al. 2014, Alg. 1), with missing
    entries filled by the current low-rank estimate before each projection."""
    def top(X, k):
        if min(X.shape) <= FULL_SVD_MAX_DIM:
            return np.linalg.svd(X, full_matrices=False)
        return truncated_svd(X, min(k, min(X.shape) - 1), seed=seed)

    def filled(L):
        return np.where(observed, M, L)

    def hard_threshold(X, zeta):
        return np.where(observed & (np.abs(X) > zeta), X, 0.0)

    # The paper's first threshold β σ_1(M) assumes ||S||_2 ≲ σ_1(L); with a few percent of
    # gross errors ||S||_2 grows like √n and that threshold would keep no outlier at all.
    # A robust entry scale (median absolute value) caps it.
    entry_scale = 1.4826 * float(np.median(np.abs(M[observed])))
    S = hard_threshold(M, min(beta * top(M, 1)[1][0], INIT_Z * entry_scale))
    L = np.zeros_like(M)
    records = {"loss": [], "rel_error": []}
    t_total = 0
    for k in _stage_ranks(rank):
        for t in range(max_iter):
            t_total += 1
            U, s, Vt = top(filled(L) - S, k + 1)
            parts = (U[:, :k], s[:k], Vt[:k])
            L_new = (parts[0] * parts[1]) @ parts[2]
            zeta = beta * (s[k] + 0.5**t * s[k - 1])
            S = hard_threshold(filled(L_new) - L_new, zeta)
            change = float(np.linalg.norm(L_new - L)) / max(float(np.linalg.norm(L_new)), 1e-300)
            L = L_new
            _record(records, change, L, truth)
            if callback is not None:
                try:
                    callback(t_total, L, S)
                except StopIteration:
                    return L, parts, S, records, False, "stopped by callback"
            if change < (tol if k == rank else STAGE_TOL) or (k < rank and t >= STAGE_ITERS):
                break
            if t_total >= max_iter:
                return L, parts, S, records, False, f"reached max_iter={max_iter}"
    return L, parts, S, records, True, f"relative change of L below tol={tol:g} at rank {rank}"


__all__ = ["RPCA_METHODS", "RobustPCAResult", "rpca"]
