"""lrkit: low-rank matrix methods.

One package per job: :mod:`lrkit.recovery` (``recover`` and its solvers, RPCA),
:mod:`lrkit.ratings` (``MatrixCompletion``), :mod:`lrkit.calibration`,
:mod:`lrkit.sparse`, :mod:`lrkit.estimation`, :mod:`lrkit.imaging`, :mod:`lrkit.approx`,
:mod:`lrkit.spectral`, :mod:`lrkit.operators`, :mod:`lrkit.problems` and :mod:`lrkit.nn`
(PyTorch). The names below load on first use, so ``import lrkit`` costs NumPy and SciPy's
core only.
"""

from lrkit import _moved
from lrkit._lazy import lazy_names

__version__ = "0.1.0"

_moved.install()

_NAMES = {
    "svd": "lrkit.approx.truncated_svd",
    "ConvergenceWarning": "lrkit.exceptions",
    "OperatorTooLargeError": "lrkit.exceptions",
    "CalibrationResult": "lrkit.calibration.result",
    "calibrate": "lrkit.calibration.api",
    "DenoiseResult": "lrkit.estimation.denoising",
    "denoise": "lrkit.estimation.denoising",
    "QEstimate": "lrkit.estimation.q_estimation",
    "estimate_q": "lrkit.estimation.q_estimation",
    "QuadraticNetworkFit": "lrkit.estimation.quadratic_network",
    "gamp_rie": "lrkit.estimation.quadratic_network",
    "gamp_rie_error": "lrkit.estimation.quadratic_network",
    "TensorSubspaceResult": "lrkit.estimation.harmonic_subspace",
    "tensor_subspace": "lrkit.estimation.harmonic_subspace",
    "MatrixCompletion": "lrkit.ratings.estimator",
    "recover": "lrkit.recovery.api",
    "RobustPCAResult": "lrkit.recovery.rpca",
    "rpca": "lrkit.recovery.rpca",
    "recover_dynamic": "lrkit.imaging.dynamic",
    "DynamicResult": "lrkit.imaging.dynamic",
    "SparseResult": "lrkit.sparse.bayesian",
    "sparse_bayes": "lrkit.sparse.bayesian",
    "SparseRegressionResult": "lrkit.sparse.regression",
    "sparse_regression": "lrkit.sparse.regression",
    "IterationInfo": "lrkit.result",
    "RecoveryResult": "lrkit.result",
    "Status": "lrkit.result",
    "relative_error": "lrkit.result",
}
_PACKAGES = ("approx", "calibration", "estimation", "imaging", "operators", "problems",
             "ratings", "recovery", "sparse", "spectral")

__getattr__, __dir__ = lazy_names(__name__, _NAMES, {p: f"lrkit.{p}" for p in _PACKAGES})

__all__ = sorted(_NAMES) + ["__version__", "approx", "operators", "problems", "spectral"]
