"""lrkit: low-rank matrix methods."""

from lrkit import approx, operators, problems, spectral
from lrkit.approx import svd
from lrkit.exceptions import ConvergenceWarning, OperatorTooLargeError
from lrkit.recovery import (
    CalibrationResult,
    DenoiseResult,
    MatrixCompletion,
    QEstimate,
    QuadraticNetworkFit,
    RobustPCAResult,
    SparseRegressionResult,
    SparseResult,
    TensorSubspaceResult,
    calibrate,
    denoise,
    estimate_q,
    gamp_rie,
    gamp_rie_error,
    recover,
    recover_dynamic,
    rpca,
    sparse_bayes,
    sparse_regression,
    tensor_subspace,
)
from lrkit.result import IterationInfo, RecoveryResult, Status, relative_error

__version__ = "0.1.0"

__all__ = [
    "CalibrationResult",
    "ConvergenceWarning",
    "DenoiseResult",
    "IterationInfo",
    "MatrixCompletion",
    "QEstimate",
    "QuadraticNetworkFit",
    "OperatorTooLargeError",
    "RecoveryResult",
    "RobustPCAResult",
    "SparseRegressionResult",
    "SparseResult",
    "Status",
    "TensorSubspaceResult",
    "__version__",
    "approx",
    "calibrate",
    "denoise",
    "estimate_q",
    "gamp_rie",
    "gamp_rie_error",
    "operators",
    "problems",
    "recover",
    "recover_dynamic",
    "relative_error",
    "rpca",
    "sparse_bayes",
    "sparse_regression",
    "spectral",
    "svd",
    "tensor_subspace",
]
