"""Checks at the public boundary: one helper per kind of argument, one message style.

Every message names the argument, the value received and what would be accepted, e.g.
``rank must be an int in [1, min(n1, n2)=30]; got 57``.
"""

from __future__ import annotations

import numbers

import numpy as np

from lrkit._backend import to_numpy


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


def check_rank(rank, shape):
    """Check a target rank against a matrix shape ``(n1, n2)``."""
    return check_int("rank", rank, 1, min(shape), high_label="min(n1, n2)")
