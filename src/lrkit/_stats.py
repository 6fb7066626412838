"""Robust statistics shared by the solvers, written once against the array API."""

from __future__ import annotations

from lrkit._backend import namespace

#: ``1 / Φ⁻¹(3/4)``: median absolute value times this is the standard deviation of a
#: centred Gaussian.
MAD_TO_STD = 1.4826


def median(values) -> float:
    """Median of all entries (any array-API array; no NumPy round trip)."""
    xp = namespace(values)
    flat = xp.sort(xp.reshape(values, (-1,)))
    n = flat.shape[0]
    middle = n // 2
    if n % 2:
        return float(flat[middle])
    return 0.5 * float(flat[middle - 1] + flat[middle])


def robust_scale(values) -> float:
    """``1.4826 · median|v|``: the standard deviation of centred Gaussian entries, barely
    moved by a minority (< 50 %) of gross outliers."""
    return MAD_TO_STD * median(namespace(values).abs(values))
