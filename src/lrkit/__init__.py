"""lrkit: low-rank matrix methods."""

from lrkit import approx, operators, problems, spectral
from lrkit._validation import ConvergenceWarning
from lrkit.approx import svd
from lrkit.recover import MatrixCompletion, RobustPCAResult, recover, relative_error, rpca
from lrkit.result import RecoveryResult

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "MatrixCompletion",
    "approx",
    "spectral",
    "svd",
    "RecoveryResult",
    "__version__",
    "operators",
    "problems",
    "recover",
    "relative_error",
    "RobustPCAResult",
    "rpca",
]
