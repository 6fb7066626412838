"""Blind calibration: a signal seen through sensors with unknown gains, behind one
:func:`calibrate` (blind gain descent, paper 5; self-calibration, paper 9)."""

from lrkit.calibration.api import CALIBRATION_METHODS, calibrate
from lrkit.calibration.result import CalibrationResult

__all__ = ["CALIBRATION_METHODS", "CalibrationResult", "calibrate"]
