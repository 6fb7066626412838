"""Robust PCA: split a matrix into low-rank plus sparse, ``M = L + S``, with missing entries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrkit._backend import foreign_array, like
from lrkit._stats import data_scale_exponent
from lrkit._validation import (
    as_real_matrix,
    check_choice,
    check_finite_array,
    check_int,
    check_rank,
    check_real,
)
from lrkit.recovery.harness import Run
from lrkit.recovery.robust.altproj import _altproj, _check_altproj_split
from lrkit.recovery.robust.pcp import _check_pcp_regime, _pcp
from lrkit.registry import Method, Option, Registry, integer, real
from lrkit.result import RecoveryResult, Status

RPCA_METHODS = Registry("rpca", "robust PCA: M = L + S, L low rank, S sparse")
RPCA_METHODS.register(Method(
    "pcp", options={"lam": Option(None, real(0.0, low_open=True), "weight of ||S||_1")},
    inputs=frozenset({"torch", "pandas", "mask"}),
    summary="principal component pursuit by the inexact ALM (Candès et al. 2011)"))
RPCA_METHODS.register(Method(
    "altproj", options={"rank": Option(None, integer(1), "the rank of L (needed)"),
                        "beta": Option(None, real(0.0, low_open=True), "threshold constant")},
    inputs=frozenset({"torch", "pandas", "mask"}),
    summary="alternating projections with known rank (Netrapalli et al. 2014)"))


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
        _check_pcp_regime(run, parts[1], S, observed)
    else:
        L, parts, S, next_value = _altproj(run, M / scale, observed, rank, beta, tol, seed)
        _check_altproj_split(run, M / scale - L - S, M / scale, observed, S, parts[1],
                             next_value)
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




__all__ = ["RPCA_METHODS", "RobustPCAResult", "rpca"]
