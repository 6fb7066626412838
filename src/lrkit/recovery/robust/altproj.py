"""Alternating projections with known rank for :func:`~lrkit.recovery.rpca.rpca`
(Netrapalli, Niranjan, Sanghavi, Anandkumar & Jain 2014), stage-wise, and the check that
its fixed point is the split rather than a stop short of it."""

from __future__ import annotations

import numpy as np

from lrkit._stats import robust_scale
from lrkit.approx.truncated_svd import spectral_norm
from lrkit.recovery.audit import OUTLIER_SHARE, gross_outlier_share
from lrkit.recovery.robust.pcp import PCP_MAX_DENSITY, _record, _top_svd
from lrkit.result import Status

#: AltProj stages below the target rank stop at this relative change of L, or after
#: ``STAGE_ITERS`` iterations; only the last stage is solved to ``tol``.
STAGE_TOL = 1e-3
STAGE_ITERS = 20
#: AltProj's first threshold is at most this many robust standard deviations of the entries.
INIT_Z = 5.0
#: A stage may end once the threshold's decaying term ``0.5ᵗ σ_k`` is below this fraction of
#: its limit ``σ_{k+1}`` (the threshold has reached ``β σ_{k+1}`` to within 10 %).
DECAYED = 0.1
#: A split whose ``M − S`` has ``σ_{k+1}`` above this fraction of ``σ_k`` is not separated.
NO_GAP = 0.8
#: Singular values below this fraction of the largest are rounding (an exact lower rank).
ROUNDING = 1e-10


def _check_altproj_split(run, residual, M, observed, sparse, values, next_value):
    """Overrule a converged AltProj run that left gross errors in ``M − L − S``, or whose
    ``S`` is not sparse (more than ``PCP_MAX_DENSITY`` of the entries: a threshold ``β``
    too small moves ``L`` itself into ``S``, 0.93 error said to be converged before).

    AltProj's threshold ``ζ`` follows ``σ_{k+1}(M − S)``, which gross errors still in
    ``M − S`` inflate, so it can settle where they never enter ``S``: a fixed point far from
    the answer (the relative change of L is then small too). The correct split leaves a
    residual that is zero or noise; a heavy-tailed one (:func:`gross_outlier_share`) means
    corruptions were left in L.

    Corruptions too dense for the threshold (25 % of ±U(5, 50) at rank 20 of 400 × 300)
    leave S empty and L the top-k SVD of ``M`` itself, whose residual is no heavier than the
    rest of ``M``'s spectrum; then ``M − S`` has no gap at rank k: ``σ_{k+1} / σ_k`` is 0.99
    there, 0.01–0.3 for right splits with noise up to half the size of L's entries
    (``values``: σ_1…σ_k of the last iterate's ``M − S``; ``next_value``: its σ_{k+1}).
    """
    density = float(np.mean(sparse[observed] != 0))
    if density > PCP_MAX_DENSITY:
        run.overrule(Status.STALLED, (
            f"AltProj put {density:.0%} of the entries in the sparse part: its threshold "
            "fell below the low-rank part's own entries, so the split is not the answer; "
            "try method='pcp' or a larger beta"))
        return
    if next_value > NO_GAP * values[-1] and values[-1] > ROUNDING * values[0]:
        run.overrule(Status.STALLED, (
            f"M − S has no spectral gap at rank {len(values)} (σ_k+1 / σ_k = "
            f"{next_value / values[-1]:.2f}): L is not separated from what is left, so the "
            "split is not the answer (corruptions too dense for AltProj, or a rank too "
            "large); try method='pcp'"))
        return
    share = gross_outlier_share(residual[observed], M[observed])
    if share > OUTLIER_SHARE:
        run.overrule(Status.STALLED, (
            f"AltProj settled with {share:.0%} of the entries gross errors of M − L − S: "
            "corruptions were left in L, so the split is not the answer; try method='pcp' "
            "or a larger beta"))


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
            S_new = hard_threshold(filled(L_new) - L_new, zeta)
            # The threshold decays towards β σ_{k+1}: L standing still while the threshold
            # still falls (a flat spectrum keeps S empty for the first iterations) or S still
            # grows is not a fixed point.
            settled = (np.array_equal(S_new != 0, S != 0)
                       and 0.5**t * s[k - 1] <= max(DECAYED * s[k], tol * s[0]))
            change = float(np.linalg.norm(L_new - L)) / max(float(np.linalg.norm(L_new)), 1e-300)
            L, S = L_new, S_new
            residual = float(np.linalg.norm(np.where(observed, M - L - S, 0.0))) / norm_observed
            _record(run, residual, parts, S, change)
            if k == rank and change < tol and settled:
                run.stop(Status.CONVERGED, f"relative change of L below tol={tol:g} at rank {rank}")
            elif k < rank and ((change < STAGE_TOL and settled) or t >= STAGE_ITERS):
                break
        if run.status is not None:
            break
    return L, parts, S, s[k]
