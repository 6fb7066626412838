"""Problem generators with known ground truth, and loaders of real data
(:mod:`lrkit.problems.datasets`)."""

from lrkit.problems import datasets
from lrkit.problems._calibration import CalibrationProblem, blind_deconvolution, calibration
from lrkit.problems._completion import completion, cross_completion
from lrkit.problems._harmonic import HarmonicTensorProblem, harmonic_tensor
from lrkit.problems._mdp import LowRankMDP, low_rank_mdp
from lrkit.problems._phantom import dynamic_phantom
from lrkit.problems._quadratic import QuadraticNetworkProblem, quadratic_network
from lrkit.problems._robust_pca import RobustPCAProblem, robust_pca
from lrkit.problems._sensing import SensingProblem, low_rank_matrix, sensing
from lrkit.problems._sparse import (
    KroneckerSparseProblem,
    RegressionProblem,
    SparseRegressionProblem,
    coherent_regression,
    ill_conditioned_regression,
    kronecker_sparse,
)
from lrkit.problems._targets import TargetImages, small_targets

__all__ = [
    "KroneckerSparseProblem",
    "LowRankMDP",
    "QuadraticNetworkProblem",
    "RegressionProblem",
    "CalibrationProblem",
    "HarmonicTensorProblem",
    "RobustPCAProblem",
    "SensingProblem",
    "SparseRegressionProblem",
    "TargetImages",
    "blind_deconvolution",
    "calibration",
    "coherent_regression",
    "completion",
    "cross_completion",
    "datasets",
    "dynamic_phantom",
    "harmonic_tensor",
    "ill_conditioned_regression",
    "kronecker_sparse",
    "low_rank_matrix",
    "low_rank_mdp",
    "quadratic_network",
    "robust_pca",
    "sensing",
    "small_targets",
]
