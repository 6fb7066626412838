"""The forms in which observed entries reach :class:`~lrkit.MatrixCompletion`: sparse
matrices (stored entries), ``(rows, cols, values[, shape])`` lists and
:class:`~lrkit.problems.datasets.RatingData`, read into validated ``(rows, cols, values,
shape)``; and the small helpers on such entries."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lrkit._validation import check_shape
from lrkit.problems.datasets import RatingData


def is_listed(X) -> bool:
    """Whether ``X`` lists its observations (sparse, triplet or RatingData) rather than
    being a dense matrix with NaN at the missing entries."""
    return isinstance(X, RatingData) or sp.issparse(X) or _is_triplet(X)


def listed_entries(X):
    """Validated ``(rows, cols, values, shape)`` of a listed ``X`` (see :func:`is_listed`)."""
    if isinstance(X, RatingData):
        X = sp.coo_matrix((X.values, (X.rows, X.cols)), shape=X.shape)
    return sparse_entries(X) if sp.issparse(X) else _triplet_entries(X)


def nan_filled(rows, cols, values, shape):
    """The dense matrix with ``values`` at ``(rows, cols)`` and NaN elsewhere."""
    X = np.full(shape, np.nan)
    X[rows, cols] = values
    return X


def column_means(cols, values, n_cols):
    """Observed column means; the global mean for a column without observations."""
    counts = np.bincount(cols, minlength=n_cols)
    sums = np.bincount(cols, weights=values, minlength=n_cols)
    return np.where(counts > 0, sums / np.maximum(counts, 1), values.mean())


def _is_triplet(X) -> bool:
    return isinstance(X, tuple) and len(X) in (3, 4)


def _triplet_entries(X):
    """Validated ``(rows, cols, values, shape)`` of a ``(rows, cols, values[, shape])``
    triplet (shape: the largest indices plus one when not given)."""
    given = X[3] if len(X) == 4 else None
    rows, cols, values = (np.asarray(part) for part in X[:3])
    if not (rows.ndim == cols.ndim == values.ndim == 1) or not (
            rows.size == cols.size == values.size):
        raise ValueError("X as (rows, cols, values) needs three 1-d sequences of equal "
                         f"length; got shapes {rows.shape}, {cols.shape}, {values.shape}")
    if rows.size == 0:
        raise ValueError("X has no observed entry: the triplet is empty")
    if given is None:
        rows, cols = indices("rows", rows, None), indices("cols", cols, None)
        shape = (int(rows.max()) + 1, int(cols.max()) + 1)
    else:
        shape = check_shape(given, "shape (the fourth element of X)")
        rows, cols = indices("rows", rows, shape[0]), indices("cols", cols, shape[1])
    return rows, cols, _finite_values(values), shape


def sparse_entries(X):
    """``(rows, cols, values, shape)`` of the stored entries of a sparse matrix."""
    coo = sp.coo_matrix(X)
    if coo.ndim != 2 or coo.nnz == 0:
        raise ValueError(f"X has no observed entry: the sparse matrix of shape {coo.shape} "
                         "stores none")
    coo.sum_duplicates()
    return coo.row.astype(np.intp), coo.col.astype(np.intp), _finite_values(coo.data), \
        coo.shape


def _finite_values(values):
    if np.iscomplexobj(values):
        raise ValueError("X is complex: MatrixCompletion works on real matrices")
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("X has NaN or inf among its observed values: a sparse or triplet "
                         "X lists observations only, so drop those entries")
    return values


def indices(name, index, size):
    """Non-negative integer indices below ``size`` (any size when None)."""
    index = np.asarray(index)
    if index.size and not np.issubdtype(index.dtype, np.integer):
        if not np.all(np.mod(index, 1) == 0):
            raise ValueError(f"{name} must be integer indices; got {index.dtype} values")
    index = index.astype(np.intp).reshape(-1)
    if index.size and (index.min() < 0 or (size is not None and index.max() >= size)):
        bound = "" if size is None else f" and below {size}"
        raise ValueError(f"{name} must be non-negative{bound}; got values in "
                         f"[{index.min()}, {index.max()}]")
    return index


def is_complex(X) -> bool:
    """Whether an array or DataFrame holds complex numbers (lists are left to
    scikit-learn's own check)."""
    dtypes = [X.dtype] if hasattr(X, "dtype") else list(getattr(X, "dtypes", []))
    return any(getattr(dtype, "kind", "") == "c" for dtype in dtypes)
