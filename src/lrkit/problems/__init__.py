"""Problem generators with known ground truth, and loaders of real data."""

from lrkit.problems.completion import completion
from lrkit.problems.robust_pca import RobustPCAProblem, robust_pca
from lrkit.problems.sensing import SensingProblem, low_rank_matrix, sensing

__all__ = [
    "RobustPCAProblem",
    "SensingProblem",
    "completion",
    "low_rank_matrix",
    "robust_pca",
    "sensing",
]
