"""Modules that moved in the layout of one package per job (0.2): the old dotted path
still imports, as the same module object, with a :class:`DeprecationWarning` naming the
new one. The table is the record of the moves (see ``CHANGELOG.md``).

``lrkit.recovery.sparse_bayes``, ``lrkit.recovery.sparse_regression`` and
``lrkit.nn.finetune`` are not aliased: those names are public functions (an imported module
of the same name would replace them on the package); their modules are
:mod:`lrkit.sparse.bayesian`, :mod:`lrkit.sparse.regression` and
:mod:`lrkit.nn.adapters.finetune`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: Old module -> new module.
MOVED = {
    "lrkit.recovery.estimator": "lrkit.ratings.estimator",
    "lrkit.recovery.ratings": "lrkit.ratings.biased_als",
    "lrkit.recovery.biased_fit": "lrkit.ratings.biased_fit",
    "lrkit.recovery._biased_systems": "lrkit.ratings._biased_systems",
    "lrkit.recovery._observations": "lrkit.ratings._observations",
    "lrkit.recovery.dask_grouping": "lrkit.ratings.dask_grouping",
    "lrkit.recovery.dask_ratings": "lrkit.ratings.dask_fit",
    "lrkit.recovery.early_stopping": "lrkit.ratings.early_stopping",
    "lrkit.recovery.calibration": "lrkit.calibration.api",
    "lrkit.recovery.blind_gain": "lrkit.calibration.blind_gain",
    "lrkit.recovery.self_calibration": "lrkit.calibration.self_calibration",
    "lrkit.recovery.denoising": "lrkit.estimation.denoising",
    "lrkit.recovery.harmonic_subspace": "lrkit.estimation.harmonic_subspace",
    "lrkit.recovery.q_estimation": "lrkit.estimation.q_estimation",
    "lrkit.recovery.quadratic_network": "lrkit.estimation.quadratic_network",
    "lrkit.recovery.dynamic": "lrkit.imaging.dynamic",
    "lrkit.nn.unrolled_rpca": "lrkit.imaging.unrolled_rpca",
    "lrkit.nn.learned_sampling": "lrkit.imaging.learned_sampling",
    "lrkit.nn.calibration": "lrkit.nn.statistics",
    "lrkit.nn.flashbias": "lrkit.nn.attention",
    "lrkit.nn.allocation": "lrkit.nn.compression.allocation",
    "lrkit.nn.distillation": "lrkit.nn.compression.distillation",
    "lrkit.nn.embedding_features": "lrkit.nn.compression.embedding_features",
    "lrkit.nn.eora": "lrkit.nn.compression.eora",
    "lrkit.nn.evaluate": "lrkit.nn.compression.evaluate",
    "lrkit.nn.factorization": "lrkit.nn.compression.factorization",
    "lrkit.nn.methods": "lrkit.nn.compression.methods",
    "lrkit.nn.modegpt": "lrkit.nn.compression.modegpt",
    "lrkit.nn.modegpt_attention": "lrkit.nn.compression.modegpt_attention",
    "lrkit.nn.refit": "lrkit.nn.compression.refit",
    "lrkit.nn.report": "lrkit.nn.compression.report",
    "lrkit.nn.sensitivity": "lrkit.nn.compression.sensitivity",
    "lrkit.nn.adaptation": "lrkit.nn.adapters.adaptation",
    "lrkit.nn.adapter_io": "lrkit.nn.adapters.adapter_io",
    "lrkit.nn.federated": "lrkit.nn.adapters.federated",
    "lrkit.nn.per_example": "lrkit.nn.adapters.per_example",
    "lrkit.nn.gradient_projection": "lrkit.nn.training.gradient_projection",
    "lrkit.nn.lm_methods": "lrkit.nn.training.lm_methods",
    "lrkit.nn.classifier": "lrkit.nn.workloads.classifier",
    "lrkit.nn.datasets": "lrkit.nn.workloads.datasets",
    "lrkit.nn.language_model": "lrkit.nn.workloads.language_model",
    "lrkit.nn.models": "lrkit.nn.workloads.models",
}


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, new):
        self.new = new

    def create_module(self, spec):
        module = importlib.import_module(self.new)
        self.spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self.spec  # the import system set the old name's spec on it


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Resolve an old module path of :data:`MOVED` to its new module."""

    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to {new}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _MovedLoader(new))


def install():
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
