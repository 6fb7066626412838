"""lrkit: low-rank matrix methods."""

from lrkit import approx, operators, problems, spectral
from lrkit.approx import svd
from lrkit.exceptions import ConvergenceWarning, OperatorTooLargeError
from lrkit.recovery import MatrixCompletion, RobustPCAResult, recover, rpca
from lrkit.result import IterationInfo, RecoveryResult, Status, relative_error

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "IterationInfo",
    "MatrixCompletion",
    "OperatorTooLargeError",
    "RecoveryResult",
    "RobustPCAResult",
    "Status",
    "__version__",
    "approx",
    "operators",
    "problems",
    "recover",
    "relative_error",
    "rpca",
    "spectral",
    "svd",
]
