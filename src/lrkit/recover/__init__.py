"""Recovery of low-rank matrices from linear measurements."""

from lrkit.recover._loop import IterationInfo, relative_error
from lrkit.recover.api import COMPLETION_METHODS, METHODS, SENSING_METHODS, recover
from lrkit.recover.completion_rank import select_completion_rank
from lrkit.recover.estimator import MatrixCompletion
from lrkit.recover.rpca import RobustPCAResult, rpca

__all__ = [
    "COMPLETION_METHODS",
    "METHODS",
    "SENSING_METHODS",
    "IterationInfo",
    "MatrixCompletion",
    "RobustPCAResult",
    "recover",
    "relative_error",
    "rpca",
    "select_completion_rank",
]
