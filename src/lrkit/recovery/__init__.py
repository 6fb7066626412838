"""Recovery of low-rank matrices from linear measurements.

Each solver module registers itself (:mod:`lrkit.recovery.registry`); importing it here is
what makes its ``method=`` name available to :func:`lrkit.recover`.
"""

from lrkit.recovery import (  # noqa: F401 (registration)
    altmin,
    factored,
    linf,
    softimpute,
    subgradient,
)
from lrkit.recovery.api import recover
from lrkit.recovery.calibration import CALIBRATION_METHODS, CalibrationResult, calibrate
from lrkit.recovery.completion_rank import select_completion_rank
from lrkit.recovery.denoising import DENOISE_METHODS, DenoiseResult, denoise
from lrkit.recovery.dynamic import recover_dynamic
from lrkit.recovery.estimator import MatrixCompletion
from lrkit.recovery.harmonic_subspace import TensorSubspaceResult, tensor_subspace
from lrkit.recovery.q_estimation import Q_METHODS, QEstimate, estimate_q
from lrkit.recovery.quadratic_network import QuadraticNetworkFit, gamp_rie, gamp_rie_error
from lrkit.recovery.registry import Solver, get_solver, register, solver_names
from lrkit.recovery.rpca import RPCA_METHODS, RobustPCAResult, rpca
from lrkit.recovery.sparse_bayes import SBL_METHODS, SparseResult, sparse_bayes
from lrkit.recovery.sparse_regression import (
    SPARSE_REGRESSION_METHODS,
    SparseRegressionResult,
    sparse_regression,
)
from lrkit.result import IterationInfo, RecoveryResult, Status, relative_error

__all__ = [
    "CALIBRATION_METHODS",
    "CalibrationResult",
    "DENOISE_METHODS",
    "DenoiseResult",
    "RPCA_METHODS",
    "IterationInfo",
    "MatrixCompletion",
    "QEstimate",
    "QuadraticNetworkFit",
    "Q_METHODS",
    "RecoveryResult",
    "SBL_METHODS",
    "SPARSE_REGRESSION_METHODS",
    "RobustPCAResult",
    "Solver",
    "SparseRegressionResult",
    "SparseResult",
    "Status",
    "TensorSubspaceResult",
    "calibrate",
    "denoise",
    "estimate_q",
    "gamp_rie",
    "gamp_rie_error",
    "get_solver",
    "recover",
    "recover_dynamic",
    "register",
    "relative_error",
    "rpca",
    "select_completion_rank",
    "solver_names",
    "sparse_bayes",
    "sparse_regression",
    "tensor_subspace",
]
