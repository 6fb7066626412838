"""Seeds: every random choice in lrkit takes an int or a ``numpy.random.Generator``."""

from __future__ import annotations

import numbers

import numpy as np


def as_generator(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``None``, an int, or a Generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be None, an int or a numpy.random.Generator; got {seed!r}")
