"""The implicit-feedback systems of one side (users or items) and the objective, shared by
the in-memory fit and the Dask one (:mod:`.dask_pairs`).

With the items fixed each user solves

    (YᵀY + Yᵀ (C_u − I) Y + λ I) x_u = Yᵀ C_u p(u),

where ``YᵀY`` is shared by all users and ``C_u − I`` is non-zero only on the user's own
items: an exact half-step costs ``O(|Ω| k² + n k³)``, a conjugate-gradient step on all the
users' systems ``O(|Ω| k + n k²)`` (Hu, Koren & Volinsky 2008; Takács, Pilászy & Tikk 2011).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from lrkit._kernels import row_kernels
from lrkit.ratings.recommend import seen_matrix
from lrkit.recovery._row_systems import RowSystems


def objective(observed, X, Y, ridge):
    """The whole objective ``Σ_{u,i} c (p − xᵀy)² + λ (‖X‖² + ‖Y‖²)`` from its observed
    pairs' share (:meth:`Side.observed`), without forming ``X Yᵀ``: over all pairs
    ``Σ s² = tr(XᵀX YᵀY)``."""
    everywhere = float(np.sum((X.T @ X) * (Y.T @ Y)))
    return everywhere + observed + ridge * float(np.sum(X**2) + np.sum(Y**2))


class InMemoryPairs:
    """The strengths in memory (a CSR matrix, users by items)."""

    def __init__(self, R):
        self.R, self.shape = R, R.shape
        self.seen = seen_matrix(*R.nonzero(), R.shape)

    @contextmanager
    def sides(self, alpha):
        """``sweep(X, Y, ridge, steps) -> (X, Y, observed share of the objective)``."""
        by_user, by_item = Side(self.R, alpha), Side(self.R.T.tocsr(), alpha)

        def sweep(X, Y, ridge, steps):
            X = by_user.update(Y, ridge, X, steps)
            Y = by_item.update(X, ridge, Y, steps)
            return X, Y, by_user.observed(X, Y)

        yield sweep


class Side:
    """The observed pairs grouped by the side being solved for (a CSR matrix of
    strengths), with their confidences, as batched row systems."""

    def __init__(self, R, alpha):
        self.R = R
        self.index = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
        self.other = R.indices
        self.confidence = 1.0 + alpha * R.data
        self.confidence32 = self.confidence.astype(np.float32)
        self.extra32 = (self.confidence - 1.0).astype(np.float32)

    def update(self, Y, ridge, X, steps, shared=None):
        """Every row's new ``x``: ``steps`` conjugate-gradient steps from ``X``, or the
        exact solve when ``steps`` is 0. ``shared``: ``YᵀY`` when the caller has it."""
        if shared is None:
            shared = Y.T @ Y
        shared = shared + ridge * np.eye(Y.shape[1])
        return self.solve_cg(Y, shared, X, steps) if steps else self.solve(Y, shared)

    def solve(self, Y, shared):
        """Every row's ``x = (YᵀY + Yᵀ(C − I)Y + λI)⁻¹ Yᵀ C p``; ``shared = YᵀY + λI``."""
        if not hasattr(self, "systems"):
            self.systems = RowSystems(self.index, self.other, self.confidence, self.R.shape[0])
        return self.systems.solve_weighted(Y, self.confidence - 1.0, shared)

    def solve_cg(self, Y, shared, X, steps):
        """``steps`` conjugate-gradient steps on every row's system, from ``X`` (the
        previous sweep's rows): each step is ``O(|Ω| k + n k²)``, no ``k × k`` system is
        formed (Takács, Pilászy & Tikk 2011 apply CG to this model). The steps run in
        float32 (half the memory traffic; the ranking is the same on MovieLens), the
        factors are kept in float64. Compiled (:mod:`lrkit._kernels.row_cg`) when Numba is
        installed, else vectorised over all rows in NumPy (several times slower)."""
        shared = shared.astype(np.float32)
        kernels = row_kernels()
        if kernels is None:
            return self._solve_cg_numpy(Y, shared, X, steps)
        X = X.astype(np.float32)
        kernels.cg_rows(self.R.indptr, self.R.indices, self.extra32, self.confidence32,
                        Y.astype(np.float32), shared, X, steps)
        return X.astype(np.float64)

    def _solve_cg_numpy(self, Y, shared, X, steps):
        partners = Y[self.other].astype(np.float32)
        extra = self.extra32
        X = X.astype(np.float32)
        if not hasattr(self, "scatter"):
            self.scatter = sp.csr_matrix((np.ones(self.index.size, np.float32), (
                self.index, np.arange(self.index.size))), shape=(self.R.shape[0], self.index.size))

        def times(P):  # (YᵀY + λI + Yᵀ(C − I)Y) p for every row
            along = extra * np.einsum("ek,ek->e", partners, P[self.index])
            return P @ shared + self.scatter @ (partners * along[:, None])

        residual = self.scatter @ (partners * self.confidence32[:, None]) - times(X)
        direction, size = residual.copy(), np.einsum("nk,nk->n", residual, residual)
        for _ in range(steps):
            product = times(direction)
            curvature = np.einsum("nk,nk->n", direction, product)
            alpha = np.divide(size, curvature, out=np.zeros_like(size), where=curvature > 0)
            X = X + alpha[:, None] * direction
            residual -= alpha[:, None] * product
            new_size = np.einsum("nk,nk->n", residual, residual)
            beta = np.divide(new_size, size, out=np.zeros_like(size), where=size > 0)
            direction, size = residual + beta[:, None] * direction, new_size
        return X.astype(np.float64)

    def observed(self, X, Y):
        """``Σ_{observed} c (1 − xᵀy)² − (xᵀy)²``: the observed pairs' share of the
        objective (:func:`objective` adds the rest)."""
        kernels = row_kernels()
        if kernels is not None:
            return kernels.observed_loss(self.R.indptr, self.R.indices, self.confidence, X, Y)
        scores = np.einsum("ek,ek->e", X[self.index], Y[self.other])
        return float(np.sum(self.confidence * (1.0 - scores) ** 2 - scores**2))
