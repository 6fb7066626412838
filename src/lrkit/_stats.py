"""Robust statistics shared by the solvers, written once against the array API."""

from __future__ import annotations

import math

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


def root_mean_square(values) -> float:
    """``√(mean v²)``, computed on ``v / max|v|`` so that it neither overflows nor underflows
    at extreme magnitudes (0 for no or only zero entries; inf or NaN when ``values`` are)."""
    xp = namespace(values)
    if math.prod(values.shape) == 0:
        return 0.0
    peak = float(xp.max(xp.abs(values)))
    if peak == 0.0 or not math.isfinite(peak):
        return peak
    return peak * float(xp.sqrt(xp.mean((values / peak) ** 2)))


#: Data whose largest magnitude lies in [1/SAFE_SCALE, SAFE_SCALE] are solved as
#: they are; beyond, squares would overflow or underflow in double precision.
SAFE_SCALE = 1e100


def data_scale_exponent(peak) -> int:
    """``h`` such that ``peak / 4**h`` is of order one, or 0 when ``peak`` is in the safe range.

    A power of four keeps the rescaling exact in floating point, and its square root
    (``2**h``, for the factors) too.
    """
    if 1 / SAFE_SCALE <= peak <= SAFE_SCALE:
        return 0
    return int(round(math.log(peak, 4)))
