"""Robust PCA: split a matrix into low-rank plus sparse, ``M = L + S``, with missing entries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrkit._backend import foreign_array, like
from lrkit._linalg import implicit_top_svd
from lrkit._stats import data_scale_exponent, robust_scale
from lrkit._validation import (
    as_real_matrix,
    check_choice,
    check_finite_array,
    check_int,
    check_rank,
    check_real,
)
from lrkit.approx.truncated_svd import choose_svd_method, spectral_norm
from lrkit.approx.truncated_svd import svd as truncated_svd
from lrkit.recovery.harness import Run
from lrkit.result import RecoveryResult, Status

RPCA_METHODS = ("pcp", "altproj")
#: Augmented-Lagrangian penalty growth of the inexact ALM (Lin, Chen & Ma 2010, Alg. 5).
PCP_RHO = 1.5
#: PCP's partial SVDs: rank increment (fraction of min(n1, n2)) when every computed value
#: exceeded the threshold, oversampling columns, and power iterations from a warm (previous
#: step's) or cold (random) start.
RANK_STEP = 0.05
OVERSAMPLE = 10
WARM_POWER = 1
COLD_POWER = 3
#: AltProj stages below the target rank stop at this relative change of L, or after
#: ``STAGE_ITERS`` iterations; only the last stage is solved to ``tol``.
STAGE_TOL = 1e-3
STAGE_ITERS = 20
#: AltProj's first threshold is at most this many robust standard deviations of the entries.
INIT_Z = 5.0


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
        The data (any value on unobserved entries is ignored; NaN allowed there): a NumPy
        array, list, pandas DataFrame or array-API array (a torch tensor comes back as
        tensors; the work is done in NumPy).
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
        Called with an :class:`~lrkit.IterationInfo` after each iteration (``factors`` of
        L, ``extras["sparse"]`` = S); raising ``StopIteration`` stops.

    Returns
    -------
    RobustPCAResult
        ``history["loss"]`` is the objective (PCP: ``||L||_* + λ||S||_1``; AltProj: the
        relative residual ``||P_Ω(M − L − S)||_F / ||P_Ω(M)||_F``), ``history["change"]``
        what ``tol`` is compared with.

    Examples
    --------
    >>> import lrkit
    >>> prob = lrkit.problems.robust_pca(200, 200, rank=5, corruption=0.05, seed=0)
    >>> dec = lrkit.rpca(prob.matrix)
    >>> bool(lrkit.relative_error(dec.low_rank, prob.low_rank) < 1e-6)
    True
    """

    check_choice("method", method, RPCA_METHODS)
    reference = foreign_array(M)
    M = as_real_matrix("M", M, allow_nan=True,
                       sparse="robust PCA works on dense matrices; pass M.toarray()").copy()
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
    if method == "pcp":
        lam = 1 / math.sqrt(max(M.shape)) if lam is None else check_real(
            "lam", lam, low=0.0, low_open=True)
    else:
        if rank is None:
            raise ValueError("method='altproj' needs rank=; use method='pcp' if it is unknown")
        rank = check_rank(rank, M.shape)
        if rank >= min(M.shape):
            raise ValueError(f"rank={rank} must be < min(n1, n2)={min(M.shape)} for altproj")
        beta = 2 * rank / math.sqrt(M.size) if beta is None else check_real(
            "beta", beta, low=0.0, low_open=True)
    # Both methods are scale-free: extreme magnitudes are solved exactly rescaled by 4**-half.
    half = data_scale_exponent(float(np.abs(M).max()) or 1.0)
    scale = 4.0**half
    run = Run(method, max_iter=max_iter, truth=None if truth is None else truth / scale,
              callback=callback)
    if not M.any():
        L, S = np.zeros_like(M), np.zeros_like(M)
        parts = (np.zeros((M.shape[0], 0)), np.zeros(0), np.zeros((0, M.shape[1])))
        run.record(0.0, (np.zeros((M.shape[0], 1)), np.zeros((M.shape[1], 1))), change=0.0)
        run.stop(Status.CONVERGED, "the observed entries are all zero: L = S = 0")
    elif method == "pcp":
        L, parts, S = _pcp(run, M / scale, observed, lam, tol, seed)
    else:
        L, parts, S = _altproj(run, M / scale, observed, rank, beta, tol, seed)
    U, s, Vt = parts  # the last iterate's own SVD: L = U diag(s) Vt
    if len(s) == 0:
        U, s, Vt = np.zeros((M.shape[0], 1)), np.zeros(1), np.zeros((1, M.shape[1]))
    root = np.sqrt(s) * 2.0**half
    back = (lambda a: a) if reference is None else (lambda a: like(a, reference))
    return run.result((back(U * root), back(Vt.T * root)), cls=RobustPCAResult,
                      low_rank=back(L * scale), sparse=back(S * scale))


def _check_mask(mask, shape):
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask must have the shape of M {shape}; got {mask.shape}")
    if mask.dtype != bool:
        raise ValueError(f"mask must be boolean (True = observed); got dtype {mask.dtype}")
    return mask


def _top_svd(X, k, seed):
    """Top-``k`` SVD of a dense ``X``: all of LAPACK's where :func:`choose_svd_method` says
    exact (nothing to save), else a truncated SVD."""
    if choose_svd_method(X, k) == "exact":
        return np.linalg.svd(X, full_matrices=False)
    return truncated_svd(X, min(k, min(X.shape) - 1), seed=seed)


class _WarmSVT:
    """The SVT steps of one PCP run: partial SVDs by subspace iteration warm-started from
    the previous step's right singular vectors, with a bounded rank.

    Each step computes ``k`` singular triplets of ``X`` from the block ``[V_prev, Ω]``
    (``Ω`` Gaussian, ``OVERSAMPLE`` columns) with ``WARM_POWER`` power iterations; X moves
    little between ALM steps, so the old subspace is nearly right. As in Lin, Chen & Ma's
    code, ``k`` is predicted rather than searched: one more than the values above ``τ``
    found last time, or ``RANK_STEP · min(n1, n2)`` more when all ``k`` exceeded ``τ`` (the
    SVT is then truncated for that step, which the inexact ALM tolerates). Where
    :func:`choose_svd_method` says a full SVD is as cheap, it is used.
    """

    def __init__(self, shape, seed):
        self.rng = np.random.default_rng(seed)
        self.n = min(shape)
        self.k = min(max(10, round(RANK_STEP * self.n)), self.n)
        self.basis = None

    def __call__(self, X, tau):
        if choose_svd_method(X, self.k) == "exact":
            U, s, Vt = np.linalg.svd(X, full_matrices=False)
        else:
            U, s, Vt = self._subspace(X)
        kept = int(np.count_nonzero(s > tau))
        if kept < len(s):
            self.k = min(kept + 1, self.n)
        else:  # every computed value is above τ: there may be more next time
            self.k = min(len(s) + round(RANK_STEP * self.n), self.n)
        self.basis = Vt[:max(kept, 1)].T
        return U[:, :kept], s[:kept] - tau, Vt[:kept]

    def _subspace(self, X):
        return implicit_top_svd(lambda V: X @ V, lambda U: X.T @ U, X.shape, self.k, X,
                                power_iters=WARM_POWER if self.basis is not None else COLD_POWER,
                                oversample=OVERSAMPLE, seed=self.rng, start=self.basis)


def _record(run, loss, parts, S, change):
    """One history entry and callback (factors of L from its SVD ``parts``)."""
    U, s, Vt = parts
    root = np.sqrt(s)
    return run.record(loss, (U * root, Vt.T * root), change=change,
                      estimate=(U * s) @ Vt if run.truth is not None else None,
                      state={"sparse": S})


def _pcp(run, M, observed, lam, tol, seed):
    """Inexact ALM for principal component pursuit (Lin, Chen & Ma 2010, Alg. 5)."""
    norm_two = spectral_norm(M, seed=seed)
    norm_fro = float(np.linalg.norm(M))
    Y = M / max(norm_two, np.abs(M).max() / lam)
    mu, mu_max = 1.25 / norm_two, 1.25e7 / norm_two
    S = np.zeros_like(M)
    svt = _WarmSVT(M.shape, seed)
    L, parts = np.zeros_like(M), (np.zeros((M.shape[0], 0)), np.zeros(0), np.zeros((0, M.shape[1])))
    for _ in run.iterations():
        parts = svt(M - S + Y / mu, 1 / mu)
        L = (parts[0] * parts[1]) @ parts[2]
        target = M - L + Y / mu
        S = np.sign(target) * np.maximum(np.abs(target) - lam / mu, 0.0)
        S[~observed] = target[~observed]  # unobserved: the constraint does not bind
        residual = M - L - S
        Y += mu * residual
        mu = min(PCP_RHO * mu, mu_max)
        primal = float(np.linalg.norm(residual)) / norm_fro
        objective = float(parts[1].sum()) + lam * float(np.abs(S[observed]).sum())
        _record(run, objective, parts, _observed_part(S, observed), primal)
        if primal < tol:
            run.stop(Status.CONVERGED, f"constraint residual below tol={tol:g}")
    return L, parts, _observed_part(S, observed)


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


def _altproj(run, M, observed, rank, beta, tol, seed):
    """Stage-wise alternating projections (Netrapalli et al. 2014, Alg. 1), with missing
    entries filled by the current low-rank estimate before each projection."""
    def filled(L):
        return np.where(observed, M, L)

    def hard_threshold(X, zeta):
        return np.where(observed & (np.abs(X) > zeta), X, 0.0)

    # The paper's first threshold β σ_1(M) assumes ||S||_2 ≲ σ_1(L); with a few percent of
    # gross errors ||S||_2 grows like √n and that threshold would keep no outlier at all.
    # A robust entry scale (median absolute value) caps it.
    entry_scale = robust_scale(M[observed])
    S = hard_threshold(M, min(beta * spectral_norm(M, seed=seed), INIT_Z * entry_scale))
    L = np.zeros_like(M)
    norm_observed = max(float(np.linalg.norm(M)), 1e-300)
    for k in _stage_ranks(rank):
        for t, _ in enumerate(run.iterations()):
            U, s, Vt = _top_svd(filled(L) - S, k + 1, seed)
            parts = (U[:, :k], s[:k], Vt[:k])
            L_new = (parts[0] * parts[1]) @ parts[2]
            zeta = beta * (s[k] + 0.5**t * s[k - 1])
            S = hard_threshold(filled(L_new) - L_new, zeta)
            change = float(np.linalg.norm(L_new - L)) / max(float(np.linalg.norm(L_new)), 1e-300)
            L = L_new
            residual = float(np.linalg.norm(np.where(observed, M - L - S, 0.0))) / norm_observed
            _record(run, residual, parts, S, change)
            if k == rank and change < tol:
                run.stop(Status.CONVERGED, f"relative change of L below tol={tol:g} at rank {rank}")
            elif k < rank and (change < STAGE_TOL or t >= STAGE_ITERS):
                break
        if run.status is not None:
            break
    return L, parts, S


__all__ = ["RPCA_METHODS", "RobustPCAResult", "rpca"]
