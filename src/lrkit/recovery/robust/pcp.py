"""Principal component pursuit for :func:`~lrkit.recovery.rpca.rpca`:
``min ||L||_* + λ||S||_1  s.t.  L + S = M`` on the observed entries, by the inexact
augmented Lagrangian method (Candès, Li, Ma & Wright 2011; Lin, Chen & Ma 2010, Alg. 5),
with warm-started partial SVDs; and the check of the regime where its split is the truth.
"""

from __future__ import annotations

import numpy as np

from lrkit._linalg import implicit_top_svd
from lrkit.approx.truncated_svd import choose_svd_method, spectral_norm
from lrkit.approx.truncated_svd import svd as truncated_svd
from lrkit.result import Status

#: Augmented-Lagrangian penalty growth of the inexact ALM (Lin, Chen & Ma 2010, Alg. 5).
PCP_RHO = 1.5
#: PCP's partial SVDs: rank increment (fraction of min(n1, n2)) when every computed value
#: exceeded the threshold, oversampling columns, and power iterations from a warm (previous
#: step's) or cold (random) start.
RANK_STEP = 0.05
OVERSAMPLE = 10
WARM_POWER = 1
COLD_POWER = 3
#: PCP's split is trusted only with ``rank(L) <= PCP_MAX_RANK · min(n1, n2)`` and at most
#: ``PCP_MAX_DENSITY`` of the observed entries in ``S``: beyond them the convex program is
#: outside the regime where it recovers the truth (Candès et al. 2011, Sec. 4: rank and
#: corruption both below a fraction of the size), and its optimum is a different split.
PCP_MAX_RANK, PCP_MAX_DENSITY = 0.3, 0.45


def _check_pcp_regime(run, values, S, observed):
    """Overrule a converged PCP run whose split lies outside the recoverable regime."""
    rank, n = int(np.count_nonzero(values > 0)), min(S.shape)
    density = float(np.count_nonzero(S[observed])) / max(int(observed.sum()), 1)
    if rank > PCP_MAX_RANK * n or density > PCP_MAX_DENSITY:
        run.overrule(Status.ILL_POSED, (
            f"outside the regime where PCP recovers the truth: rank(L) = {rank} of {n} and "
            f"{density:.0%} of the entries in S; the data may be corrupted beyond "
            "recovery, or with a known rank try method='altproj'"))


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
