"""Entry sampling, the measurement operator of matrix completion."""

from __future__ import annotations

import numpy as np

from lrkit._backend import sampled_products, scatter_dense, sparse_matmul, take_entries
from lrkit._random import as_generator
from lrkit.operators.base import SensingOperator, check_dims


class EntrySampling(SensingOperator):
    """``A(X) = (X[r_1, c_1], …, X[r_m, c_m])``: observe m entries of an n1×n2 matrix.

    ``A*A`` is the projection ``P_Ω`` onto the observed entries, so ``E[A*A] = p·I`` with
    the sampling rate ``p = m / (n1 n2)`` (``isotropy``). Products with factors never form
    an n1×n2 array: ``A(F Gᵀ)_i = <F[r_i], G[c_i]>`` costs O(m k) and ``A*(y) V`` is a
    sparse-times-dense product costing O(m k).

    Parameters
    ----------
    shape : tuple (n1, n2)
    rows, cols : integer arrays of length m
        Indices of the observed entries (each pair at most once).
    """

    capabilities = frozenset({"entries"})

    def __init__(self, shape, rows, cols):
        super().__init__()
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        if len(shape) != 2:
            raise ValueError(f"shape must be (n1, n2); got {shape!r}")
        if rows.ndim != 1 or rows.shape != cols.shape:
            raise ValueError(
                f"rows and cols must be 1-d of equal length; got {rows.shape} and {cols.shape}"
            )
        n1, n2, m = check_dims(shape[0], shape[1], max(len(rows), 1))
        if len(rows) == 0:
            raise ValueError("rows is empty: at least one observed entry is needed")
        if not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
            raise ValueError("rows and cols must hold integers")
        if rows.min() < 0 or rows.max() >= n1 or cols.min() < 0 or cols.max() >= n2:
            raise ValueError(f"indices out of range for shape ({n1}, {n2})")
        if len(np.unique(rows.astype(np.int64) * n2 + cols)) != len(rows):
            raise ValueError("rows/cols name some entry more than once")
        self.shape = (n1, n2)
        self.m = m
        self.rows = rows.astype(np.int64)
        self.cols = cols.astype(np.int64)
        self.isotropy = m / (n1 * n2)

    @classmethod
    def from_mask(cls, mask):
        """Operator observing the True entries of a boolean n1×n2 ``mask``."""
        mask = np.asarray(mask)
        if mask.dtype != bool:
            if mask.dtype.kind not in "biuf" or np.isnan(mask).any() or not np.isin(mask,
                                                                                  (0, 1)).all():
                raise ValueError("mask must be boolean (True = observed) or 0/1; got values "
                                 "other than 0 and 1 (NaN is not a mask value)")
            mask = mask.astype(bool)
        if mask.ndim != 2:
            raise ValueError(f"mask must be 2-dimensional; got shape {mask.shape}")
        rows, cols = np.nonzero(mask)
        return cls(mask.shape, rows, cols)

    @staticmethod
    def cross(shape, rows, cols):
        """Observe every entry of the rows ``rows`` and of the columns ``cols``: a
        :class:`CrossSampling` (the anchor lines of ``method="linf"``)."""
        return CrossSampling(shape, rows, cols)

    @classmethod
    def random(cls, n1, n2, m, seed=None):
        """Observe m entries drawn uniformly without replacement."""
        n1, n2, m = check_dims(n1, n2, m)
        if m > n1 * n2:
            raise ValueError(f"m must be <= n1*n2={n1 * n2}; got {m}")
        flat = as_generator(seed).choice(n1 * n2, size=m, replace=False)
        return cls((n1, n2), flat // n2, flat % n2)

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.cols.nbytes

    def mask(self) -> np.ndarray:
        """Boolean n1×n2 mask of the observed entries."""
        out = np.zeros(self.shape, dtype=bool)
        out[self.rows, self.cols] = True
        return out

    def forward(self, X):
        self._check_matrix(X)
        return take_entries(X, self.rows, self.cols)

    def forward_factored(self, F, G):
        return sampled_products(F, G, self.rows, self.cols)

    def adjoint(self, y):
        self._check_measurements(y)
        return scatter_dense(self.rows, self.cols, y, self.shape)

    def adjoint_apply(self, y, V):
        return sparse_matmul(self.rows, self.cols, y, self.shape, V)

    def adjoint_apply_t(self, y, U):
        return sparse_matmul(self.cols, self.rows, y, self.shape[::-1], U)

    def factor_gradients(self, y, F, G):
        return self.adjoint_apply(y, G), self.adjoint_apply_t(y, F)


class CrossSampling(EntrySampling):
    """Every entry of the anchor rows ``anchor_rows`` and anchor columns ``anchor_cols``
    (``|K| n2 + n1 |L| − |K||L|`` entries, in row-major order): the sampling that
    ``method="linf"`` needs (capability ``"lines"``)."""

    capabilities = frozenset({"entries", "lines"})

    def __init__(self, shape, rows, cols):
        n1, n2, _ = check_dims(shape[0], shape[1], 1)
        self.anchor_rows = np.unique(np.asarray(rows, dtype=np.int64))
        self.anchor_cols = np.unique(np.asarray(cols, dtype=np.int64))
        for name, index, size in (("rows", self.anchor_rows, n1),
                                  ("cols", self.anchor_cols, n2)):
            if index.size == 0 or index.min() < 0 or index.max() >= size:
                raise ValueError(f"{name} must be non-empty indices in [0, {size}); got "
                                 f"{index.tolist()[:5]}")
        # Whole anchor rows, then the anchor columns of the other rows; O(m), no n1×n2 mask.
        others = np.setdiff1d(np.arange(n1), self.anchor_rows)
        rows = np.concatenate([np.repeat(self.anchor_rows, n2),
                               np.repeat(others, len(self.anchor_cols))])
        cols = np.concatenate([np.tile(np.arange(n2), len(self.anchor_rows)),
                               np.tile(self.anchor_cols, len(others))])
        order = np.lexsort((cols, rows))  # row-major
        super().__init__((n1, n2), rows[order], cols[order])
