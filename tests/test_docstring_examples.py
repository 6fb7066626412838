"""The Examples sections of the recovery and sampling entry points run as written."""

import doctest
import importlib

import pytest

MODULES = ["lrkit.recovery.calibration", "lrkit.recovery.sparse_bayes",
           "lrkit.approx.lp_regression"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    failures, attempted = doctest.testmod(importlib.import_module(name))
    assert attempted > 0 and failures == 0
