"""Recovery of low-rank matrices from linear measurements."""

from lrkit.recover._loop import IterationInfo, relative_error
from lrkit.recover.api import METHODS, recover

__all__ = ["METHODS", "IterationInfo", "recover", "relative_error"]
