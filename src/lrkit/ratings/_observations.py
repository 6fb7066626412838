"""The forms in which observed entries reach :class:`~lrkit.MatrixCompletion`: sparse
matrices (stored entries), ``(rows, cols, values[, shape])`` lists and
:class:`~lrkit.problems.datasets.RatingData`, read into validated ``(rows, cols, values,
shape)``; the input checks of the estimator (:class:`ObservedInput`); and the small
helpers on such entries."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

from lrkit._backend import foreign_array, to_numpy
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


def encoded_ids(ids, what):
    """``(indices, ids)``: integer ids are zero-based indices already (``ids`` None);
    any other ids (names, codes) are numbered in sorted order and kept."""
    if np.issubdtype(ids.dtype, np.integer):
        if ids.size and ids.min() < 0:
            raise ValueError(f"{what} given as integers are zero-based indices: non-negative")
        return ids, None
    if np.issubdtype(ids.dtype, np.floating) or ids.dtype == bool:
        raise ValueError(f"{what} must be integer indices (zero-based) or ids such as "
                         "strings; got floats")
    labels, index = np.unique(ids.astype(str), return_inverse=True)
    return index.astype(np.intp), labels


def positions_of(keys, ids):
    """The model's indices of ``keys`` given as ``ids`` (an unknown id: ``len(ids)``, past
    the last, which the model answers as unseen)."""
    where = {label: i for i, label in enumerate(ids.tolist())}
    return np.array([where.get(str(key), len(ids)) for key in np.asarray(keys).reshape(-1)],
                    dtype=np.intp)


def _named_triplet(X):
    """``(X, row ids, column ids)``: a ``(rows, cols, values)`` triplet whose rows or
    columns are names or codes (strings, objects) renumbered, with those ids kept."""
    if not (_is_triplet(X) and len(X) == 3):
        return X, None, None
    parts = [np.asarray(part) for part in X[:2]]
    if not any(part.dtype.kind in "OUS" for part in parts):
        return X, None, None
    (rows, row_ids), (cols, col_ids) = (
        encoded_ids(part, what) if part.dtype.kind in "OUS" else (part, None)
        for part, what in zip(parts, ("rows", "cols"), strict=True))
    return (rows, cols, X[2]), row_ids, col_ids


def is_complex(X) -> bool:
    """Whether an array or DataFrame holds complex numbers (lists are left to
    scikit-learn's own check)."""
    dtypes = [X.dtype] if hasattr(X, "dtype") else list(getattr(X, "dtypes", []))
    return any(getattr(dtype, "kind", "") == "c" for dtype in dtypes)


class ObservedInput:
    """The input side of :class:`~lrkit.MatrixCompletion`: reading and validating the
    observed entries of each form of ``X`` (the estimator supplies ``_empty_rule``)."""

    def _observations(self, X, fitting):
        """``(rows, cols, values, shape)`` of the observed entries of a dense (NaN-marked),
        sparse or triplet ``X``, validated."""
        if fitting:
            X, self.user_ids_, self.item_ids_ = _named_triplet(X)
        if is_listed(X):
            rows, cols, values, shape = listed_entries(X)
            if fitting:
                self._listed_features(shape[1])
            self._check_empty(np.bincount(rows, minlength=shape[0]) == 0,
                              np.bincount(cols, minlength=shape[1]) == 0, fitting)
            return rows, cols, values, shape
        X, observed = self._check_input(X, fitting)
        rows, cols = np.nonzero(observed)
        return rows, cols, X[rows, cols], X.shape

    def _pair_positions(self, rows, cols):
        """The model's indices of ``(rows, cols)`` pairs, given as indices or, for a model
        fit on ids, as those ids."""
        ids = (getattr(self, "user_ids_", None), getattr(self, "item_ids_", None))
        return tuple(indices(name, keys, None) if known is None else positions_of(keys, known)
                     for name, keys, known in zip(("rows", "cols"), (rows, cols), ids,
                                                  strict=True))

    def _check_input(self, X, fitting):
        """scikit-learn's own input validation (feature counts and names, dtypes, 1-d or
        complex or empty input, at least 2 rows and 2 columns to fit, NaN allowed, inf
        refused), after moving tensors to NumPy."""
        if foreign_array(X) is not None:
            X = to_numpy(X)
        if is_complex(X):
            raise ValueError("X is complex: Complex data not supported; MatrixCompletion "
                             "works on real matrices")
        X = validate_data(self, X, reset=fitting, dtype=np.float64,
                          ensure_all_finite="allow-nan", ensure_min_samples=2 if fitting else 1,
                          ensure_min_features=2 if fitting else 1, copy=True)
        observed = ~np.isnan(X)
        if not observed.any():
            raise ValueError("X has no observed entry: every value is NaN")
        self._check_empty(~observed.any(axis=1), ~observed.any(axis=0), fitting)
        return X, observed

    def _check_empty(self, empty_rows, empty_cols, fitting):
        """Refuse rows or columns without observations when ``fill_empty`` says so."""
        empty_rows, empty_cols = np.flatnonzero(empty_rows), np.flatnonzero(empty_cols)
        if self._empty_rule() == "error" and (len(empty_rows) or (fitting and len(empty_cols))):
            raise ValueError(
                f"X has {len(empty_rows)} all-NaN row(s) (first: {empty_rows[:3].tolist()})"
                f" and {len(empty_cols)} all-NaN column(s) "
                f"(first: {empty_cols[:3].tolist()}); drop them, set fill_empty='mean', or "
                f"use method='biased_als' (predicts them by their biases)")

    def _listed_features(self, n_features):
        """Feature bookkeeping for input without column names (listed entries, Dask)."""
        self.n_features_in_ = n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
