"""The result of a calibration and the normalisation that fixes its scale ambiguity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit.result import RecoveryResult


@dataclass(repr=False)
class CalibrationResult(RecoveryResult):
    """:class:`~lrkit.RecoveryResult` of a calibration, with the two unknowns apart.

    Attributes
    ----------
    gains : numpy.ndarray, shape (m,)
        Estimated gains ``d``, normalised to mean 1.
    signal : numpy.ndarray, shape (n,) or (p, n)
        Estimated signal (one per snapshot when the signals are not shared).
    """

    gains: np.ndarray = None
    signal: np.ndarray = None


def normalised(gains, signal):
    """``(d / c, c x)`` with ``c = mean(d)``: gains of mean 1, the same product ``d xᵀ``."""
    scale = np.mean(gains)
    if scale == 0:
        raise ValueError("the estimated gains have mean 0: the data do not determine them")
    return gains / scale, signal * scale
