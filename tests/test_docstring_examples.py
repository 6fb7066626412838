"""Every module's Examples sections run as written (doctests of the whole package)."""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import lrkit

#: Modules that need PyTorch (skipped without it).
TORCH_PREFIXES = ("lrkit.nn.", "lrkit.imaging.unrolled_rpca", "lrkit.imaging.learned_sampling")
MODULES = sorted(m.name for m in pkgutil.walk_packages(lrkit.__path__, "lrkit.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    if name.startswith(TORCH_PREFIXES) and importlib.util.find_spec("torch") is None:
        pytest.skip("needs torch")
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_the_entry_points_have_examples():
    for name in ("lrkit.calibration.api", "lrkit.sparse.bayesian", "lrkit.estimation.denoising",
                 "lrkit.imaging.dynamic", "lrkit.sparse.regression", "lrkit.recovery.api",
                 "lrkit.recovery.rpca", "lrkit.approx.lp_regression", "lrkit.registry"):
        assert doctest.DocTestFinder().find(importlib.import_module(name)), name
