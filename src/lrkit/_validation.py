"""Checks at the public boundary: one helper per kind of argument, one message style.

Every message names the argument, the value received and what would be accepted, e.g.
``rank must be an int in [1, min(n1, n2)=30]; got 57``.
"""

from __future__ import annotations

import numbers

import numpy as np

from lrkit._backend import foreign_array, to_numpy


def check_int(name, value, low=None, high=None, high_label=None):
    """Return ``value`` as int after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int; got {value!r}")
    value = int(value)
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else (f"{high_label}={high}" if high_label else str(high))
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an int in [{lo}, {hi}]; got {value}")
    return value


def check_real(name, value, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as float after checking it is finite and within the interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}; got {value:g}")
    return value


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``; else list the valid names."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value


def check_finite_array(name, array, ndim=None):
    """Raise if ``array`` has the wrong number of dimensions or holds NaN/inf."""
    if ndim is not None and len(array.shape) != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {tuple(array.shape)}")
    values = to_numpy(array)
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise ValueError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf); clean them first"
        )
    return array


def check_shape(shape, name="shape"):
    """``(n1, n2)`` as two positive ints."""
    try:
        n1, n2 = shape
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (n1, n2); got {shape!r}") from None
    return check_int(f"{name}[0]", n1, 1), check_int(f"{name}[1]", n2, 1)


def check_rank(rank, shape):
    """Check a target rank against a matrix shape ``(n1, n2)``."""
    return check_int("rank", rank, 1, min(shape), high_label="min(n1, n2)")


def is_pandas(X) -> bool:
    """Whether ``X`` is a pandas DataFrame or Series (without importing pandas)."""
    return hasattr(X, "to_numpy") and hasattr(X, "dtypes")


def pandas_to_numpy(name, X):
    """A pandas DataFrame or Series as float64 NumPy, nullable dtypes (``Float64``,
    ``Int64``) too: ``pd.NA`` is missing, i.e. NaN. Non-numeric columns are refused."""
    try:
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        dtypes = X.dtypes if hasattr(X, "columns") else [X.dtype]
        raise ValueError(f"{name} must hold numbers; got columns of dtypes "
                         f"{sorted({str(t) for t in dtypes})}") from None


def as_real_matrix(name, X, *, allow_nan=False, sparse=None):
    """``X`` as a float64 NumPy matrix, the same way at every NumPy entry point.

    Accepts NumPy arrays, nested lists, pandas DataFrames (nullable dtypes too: ``pd.NA`` is
    missing, i.e. NaN) and array-API arrays such as torch tensors (``requires_grad`` too).
    ``scipy.sparse`` input is refused naming ``sparse`` (what to do instead) unless
    ``sparse`` is None, which densifies it. Complex or non-numeric data, a wrong number of
    dimensions, an empty matrix and (unless ``allow_nan``) NaN or inf are refused.
    """
    import scipy.sparse as sp

    if sp.issparse(X):
        if sparse is not None:
            raise ValueError(f"{name} is a scipy.sparse matrix: {sparse}")
        X = X.toarray()
    elif is_pandas(X):
        X = pandas_to_numpy(name, X)
    elif foreign_array(X) is not None:  # torch and other array-API arrays
        X = to_numpy(X)
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a 2-d numeric array; {error}") from None
    if X.dtype.kind == "c":
        raise ValueError(f"{name} is complex; lrkit works on real matrices (pass X.real or "
                         "split real and imaginary parts)")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers; got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional; got shape {X.shape}")
    if 0 in X.shape:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    X = X.astype(np.float64)
    if allow_nan:
        if np.isinf(X).any():
            raise ValueError(f"{name} contains inf; missing entries must be NaN")
    else:
        check_finite_array(name, X)
    return X
