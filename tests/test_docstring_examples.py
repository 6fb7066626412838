"""The Examples sections of newer entry points run as written."""

import doctest
import importlib

import pytest

MODULES = ["lrkit.recovery.calibration", "lrkit.recovery.sparse_bayes",
           "lrkit.recovery.denoising", "lrkit.recovery.dynamic",
           "lrkit.recovery.sparse_regression",
           "lrkit.approx.lp_regression", "lrkit.nn.gradient_projection"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    if name.startswith("lrkit.nn."):
        pytest.importorskip("torch")
    failures, attempted = doctest.testmod(importlib.import_module(name))
    assert attempted > 0 and failures == 0
