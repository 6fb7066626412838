"""Recovery of low-rank matrices from linear measurements: :func:`recover` and its solvers.

Each solver module registers itself (:mod:`lrkit.recovery.registry`); every public module
of this package is imported here, which is what makes its ``method=`` name available to
:func:`lrkit.recover`: a new solver is one new module, and nothing else is edited. Robust PCA
(:func:`rpca`) separates a low-rank matrix from sparse corruptions.

The ratings model, calibration, sparse regression, estimation and dynamic imaging moved to
their own packages (:mod:`lrkit.ratings`, :mod:`lrkit.calibration`, :mod:`lrkit.sparse`,
:mod:`lrkit.estimation`, :mod:`lrkit.imaging`); their names still load from here.
"""

import importlib
import pkgutil

from lrkit._lazy import lazy_names
from lrkit.recovery.api import recover
from lrkit.recovery.completion_rank import select_completion_rank
from lrkit.recovery.registry import Solver, get_solver, register, solver_names
from lrkit.recovery.rpca import RPCA_METHODS, RobustPCAResult, rpca
from lrkit.result import IterationInfo, RecoveryResult, Status, relative_error

for _module in pkgutil.iter_modules(__path__, f"{__name__}."):
    if not _module.name.rsplit(".", 1)[1].startswith("_"):
        importlib.import_module(_module.name)

#: Names that moved to their job's package in 0.2, still handed on from here.
_MOVED_NAMES = {
    "CALIBRATION_METHODS": "lrkit.calibration.api",
    "CalibrationResult": "lrkit.calibration.result",
    "calibrate": "lrkit.calibration.api",
    "DENOISE_METHODS": "lrkit.estimation.denoising",
    "DenoiseResult": "lrkit.estimation.denoising",
    "denoise": "lrkit.estimation.denoising",
    "recover_dynamic": "lrkit.imaging.dynamic",
    "MatrixCompletion": "lrkit.ratings.estimator",
    "TensorSubspaceResult": "lrkit.estimation.harmonic_subspace",
    "tensor_subspace": "lrkit.estimation.harmonic_subspace",
    "Q_METHODS": "lrkit.estimation.q_estimation",
    "QEstimate": "lrkit.estimation.q_estimation",
    "estimate_q": "lrkit.estimation.q_estimation",
    "QuadraticNetworkFit": "lrkit.estimation.quadratic_network",
    "gamp_rie": "lrkit.estimation.quadratic_network",
    "gamp_rie_error": "lrkit.estimation.quadratic_network",
    "SBL_METHODS": "lrkit.sparse.bayesian",
    "SparseResult": "lrkit.sparse.bayesian",
    "sparse_bayes": "lrkit.sparse.bayesian",
    "SPARSE_REGRESSION_METHODS": "lrkit.sparse.regression",
    "SparseRegressionResult": "lrkit.sparse.regression",
    "sparse_regression": "lrkit.sparse.regression",
}

__getattr__, __dir__ = lazy_names(__name__, _MOVED_NAMES)

__all__ = [
    "IterationInfo",
    "RPCA_METHODS",
    "RecoveryResult",
    "RobustPCAResult",
    "Solver",
    "Status",
    "get_solver",
    "recover",
    "register",
    "relative_error",
    "rpca",
    "select_completion_rank",
    "solver_names",
]
