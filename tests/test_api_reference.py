"""The API reference (docs/site/api.rst) lists every public name of every public package
(issue 42: "the API reference of every public module")."""

import importlib
import re
import types
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "site" / "api.rst"
PACKAGES = ["lrkit", "lrkit.approx", "lrkit.spectral", "lrkit.operators", "lrkit.problems",
            "lrkit.ratings", "lrkit.calibration", "lrkit.sparse", "lrkit.estimation",
            "lrkit.imaging", "lrkit.nn"]


def _documented():
    entries = re.findall(r"^   ([\w\.]+)$", API.read_text(), flags=re.M)
    return {entry.rsplit(".", 1)[-1] for entry in entries}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_in_the_reference(package):
    if package == "lrkit.nn":
        pytest.importorskip("torch")
    module = importlib.import_module(package)
    documented = _documented()
    missing = []
    for name in module.__all__:
        if name.startswith("_") or name.isupper():  # dunders and declared constants
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            continue
        if name not in documented:
            missing.append(name)
    assert not missing, f"{package}: add {missing} to docs/site/api.rst"
