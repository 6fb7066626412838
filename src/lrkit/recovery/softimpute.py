"""Soft-Impute: nuclear-norm regularised completion along a warm-started path of λ."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from lrkit._linalg import orthonormalize
from lrkit.approx.truncated_svd import spectral_norm
from lrkit.recovery.registry import Option, Solver, real, register
from lrkit.result import Status

#: Number of λ values on the default path, geometrically spaced from λ_max down.
PATH_LENGTH = 20
#: The default path ends at this fraction of λ_max.
PATH_END = 1e-3
#: Intermediate λ values on the path are solved to this relative change only (warm starts
#: make tighter solves there wasted work); the final λ is solved to ``tol``.
PATH_TOL = 1e-6
#: Extra columns kept in the working subspace beyond the current rank.
BUFFER = 5


class SparsePlusLowRank:
    """``Z = S + U diag(d) Vᵀ`` with ``S`` sparse: products cost O(nnz(S) w + (n1+n2) r w)."""

    def __init__(self, sparse, U, d, V):
        self.sparse, self.U, self.d, self.V = sparse, U, d, V

    def matmul(self, X):
        return self.sparse @ X + self.U @ (self.d[:, None] * (self.V.T @ X))

    def rmatmul(self, X):
        return self.sparse.T @ X + self.V @ (self.d[:, None] * (self.U.T @ X))


def observed_entries(U, d, V, rows, cols):
    """``(U diag(d) Vᵀ)[rows, cols]`` without forming the matrix, O(|Ω| r)."""
    return np.einsum("ek,ek->e", U[rows] * d, V[cols])


def soft_threshold_svd(Z, V_start, lam, rank_cap):
    """One warm-started subspace step: top singular triplets of ``Z``, soft-thresholded.

    ``Q = orth(Z V_start)``, then the exact SVD of ``Qᵀ Z``. At the fixed point ``V_start``
    spans an invariant subspace and the triplets are exact, so the outer iteration
    converges to the same solution as a full SVD would give.
    """
    Q = orthonormalize(Z.matmul(V_start))
    Ub, s, Vt = np.linalg.svd(Z.rmatmul(Q).T, full_matrices=False)
    d = np.maximum(s - lam, 0.0)
    keep = max(1, min(int(np.count_nonzero(d)), rank_cap))
    return (Q @ Ub)[:, :keep], d[:keep], Vt[:keep].T, s


def _solve(run, operator, y, rank, options, rng):
    """Soft-Impute (Mazumder, Hastie & Tibshirani 2010) on the observed entries ``y``.

    Minimises ``½ ||P_Ω(Z) − y||² + λ ||Z||_*`` by the fixed-point iteration

        Z ← SVT_λ( P_Ω(X) + P_Ω^⊥(Z) ) = SVT_λ( S + Z ),   S = P_Ω(X − Z) (sparse),

    never densifying: ``S + Z`` is applied as sparse plus low-rank, and the SVD is a
    warm-started subspace step of width ``rank + BUFFER`` (the current solution's right
    singular vectors plus random directions). The solution is traced along a geometric
    path of λ from ``λ_max = σ_1(P_Ω(X))`` (where Z = 0), each solve warm-started from the
    previous one.

    With ``lam=None`` the path stops at the last λ whose solution has rank ≤ ``rank`` (or at
    ``PATH_END · λ_max``); with ``lam`` given the path ends at ``lam`` and ``rank`` caps the
    working rank (choose it above the solution's rank for the exact convex solution).
    ``max_iter`` counts iterations over the whole path. The final λ is solved when
    ``||Z_t − Z_{t−1}||_F² / ||Z_{t−1}||_F² < tol`` (intermediate ones to
    ``max(tol, PATH_TOL)``). ``factors = (U √d, V √d)``; ``history`` adds ``lam``.
    """
    lam, tol = options["lam"], options["tol"]
    path_run = _PathRun(run, operator, y, rank, rng)
    path = _lambda_path(path_run.lam_max, lam, run.max_iter)
    accepted = None
    for position, lam_t in enumerate(path):
        lam_tol = tol if position == len(path) - 1 else max(tol, PATH_TOL)
        above = path_run.solve(lam_t, lam_tol)
        if run.status is not None or path_run.exhausted:
            break
        if lam is None and above > rank and accepted is not None:
            path_run.U, path_run.d, path_run.V_sol, lam_t = accepted
            run.stop(Status.CONVERGED, f"rank {rank} reached on the λ path (λ={lam_t:.4g})")
            break
        accepted = (path_run.U, path_run.d, path_run.V_sol, lam_t)
    else:
        run.stop(Status.CONVERGED, f"path solved to tol={tol:g} down to λ={path[-1]:.4g}")
    root = np.sqrt(path_run.d)
    return run.result((path_run.U * root, path_run.V_sol * root))


class _PathRun:
    """State of one Soft-Impute path: the solution ``U diag(d) V_solᵀ`` and the working
    subspace ``V`` of width ``rank + BUFFER``."""

    def __init__(self, run, operator, y, rank, rng):
        self.run = run
        self.rows, self.cols = operator.rows, operator.cols
        self.values = np.asarray(y, dtype=np.float64)
        self.pattern = ObservedPattern(self.rows, self.cols, operator.shape)
        self.lam_max = spectral_norm(self.pattern.matrix(self.values), seed=rng)
        n1, n2 = operator.shape
        self.rank, self.rng = rank, rng
        self.width = min(rank + BUFFER, n1, n2)
        self.V = orthonormalize(rng.standard_normal((n2, self.width)))
        self.U, self.d, self.V_sol = np.zeros((n1, 1)), np.zeros(1), np.zeros((n2, 1))

    def solve(self, lam, lam_tol):
        """Iterate at ``lam`` until the relative change is below ``lam_tol`` (or the run
        stops, or ``max_iter`` runs out: ``exhausted``); return how many singular values of
        the last ``S + Z`` exceed λ."""
        above = 0
        self.exhausted = True
        for _ in self.run.iterations():
            residual = self.values - observed_entries(self.U, self.d, self.V_sol, self.rows,
                                                       self.cols)
            Z = SparsePlusLowRank(self.pattern.matrix(residual), self.U, self.d, self.V_sol)
            U, d, V_sol, s = soft_threshold_svd(Z, self.V, lam, self.rank)
            change = _relative_change(self.U, self.d, self.V_sol, U, d, V_sol)
            self.U, self.d, self.V_sol, above = U, d, V_sol, int(np.count_nonzero(s > lam))
            fresh = self.rng.standard_normal((len(V_sol), self.width - len(d)))
            self.V = orthonormalize(np.hstack([V_sol, fresh]))
            loss = _objective(self.values, U, d, V_sol, self.rows, self.cols, lam)
            root = np.sqrt(d)
            self.run.record(loss, (U * root, V_sol * root), change=change, lam=lam)
            if change < lam_tol:
                self.exhausted = False
                break
        return above


def _lambda_path(lam_max, lam, length):
    if lam is None:
        return np.geomspace(lam_max, PATH_END * lam_max, PATH_LENGTH)[1:]
    if lam >= lam_max:
        return np.array([lam])
    end = max(lam, PATH_END * lam_max)
    path = np.geomspace(lam_max, end, min(PATH_LENGTH, length))[1:]
    return path if lam >= end else np.append(path, lam)


class ObservedPattern:
    """The CSR layout of the observed entries, built once; ``matrix(v)`` reuses it."""

    def __init__(self, rows, cols, shape):
        self.order = np.lexsort((cols, rows))
        self.indices = cols[self.order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
        self.shape = shape

    def matrix(self, entries):
        """The sparse n1×n2 matrix with ``entries`` (in the operator's order) at Ω."""
        return sp.csr_matrix((entries[self.order], self.indices, self.indptr), shape=self.shape)


def _objective(values, U, d, V, rows, cols, lam):
    residual = values - observed_entries(U, d, V, rows, cols)
    return 0.5 * float(residual @ residual) + lam * float(d.sum())


def _relative_change(U0, d0, V0, U1, d1, V1):
    """``||Z1 − Z0||_F² / ||Z0||_F²`` from the factors, O((n1 + n2) r²)."""
    old = float(d0 @ d0)
    cross = float(np.sum((U0.T @ U1) * np.outer(d0, d1) * (V0.T @ V1)))
    diff = old + float(d1 @ d1) - 2 * cross
    if old == 0:
        return 0.0 if float(d1 @ d1) == 0 else math.inf
    return max(diff, 0.0) / old


register(Solver(
    "softimpute", _solve,
    {"lam": Option(None, real(0.0),
                   "nuclear-norm weight λ; default: the path stops where the rank reaches rank",
                   unit=1)},
    needs=frozenset({"entries"}), array_api=False, loss="l2+nuclear",
    summary="nuclear-norm path, sparse plus low-rank, never dense (Mazumder et al. 2010)"))
