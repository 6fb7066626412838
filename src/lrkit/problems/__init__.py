"""Problem generators with known ground truth."""

from lrkit.problems.sensing import SensingProblem, low_rank_matrix, sensing

__all__ = ["SensingProblem", "low_rank_matrix", "sensing"]
