"""The layout's promises (issue 38): a light import, no import circles, small folders and
modules, ``python -m lrkit``, the moved module paths still importable, and command-line
choices that cannot drift from the registries."""

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import lrkit
from lrkit import _moved

SOURCE = Path(lrkit.__file__).parent
HEAVY = ("sklearn", "pandas", "pyarrow", "scipy.stats", "matplotlib", "torch", "dask",
         "transformers")
#: Directly inside one folder, at most this many modules; a module at most this many lines.
MAX_MODULES, MAX_LINES = 15, 350


def _module_name(path):
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """The lrkit modules ``path`` imports, at module level or inside functions (an import
    deferred into a function still makes a circle: it only hides it until that call)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lrkit"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lrkit"))
    return found


def test_import_lrkit_loads_no_heavy_package():
    code = f"import sys, lrkit; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "", f"import lrkit loaded {loaded}"


def test_python_dash_m_lrkit_is_the_command():
    done = subprocess.run([sys.executable, "-m", "lrkit", "--version"], capture_output=True,
                          text=True, check=True)
    assert done.stdout.startswith("lrkit ")


def test_no_import_circle():
    files = {_module_name(p): p for p in SOURCE.rglob("*.py")}
    graph = {name: {m for m in _imports(path) if m in files and m != name}
             for name, path in files.items()}
    state = {}

    def visit(name, stack):
        state[name] = "open"
        for nxt in graph[name]:
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                if not all(part.endswith(("__init__",)) for part in cycle):
                    raise AssertionError("import circle: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_folders_and_modules_are_small():
    for folder in [SOURCE, *[d for d in SOURCE.rglob("*") if d.is_dir()
                             and d.name != "__pycache__"]]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_MODULES, f"{folder} holds {len(modules)} modules"
    for path in SOURCE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path} is too long"


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_moved_modules_still_import(old):
    if old.startswith("lrkit.nn."):
        pytest.importorskip("torch")
    sys.modules.pop(old, None)  # an earlier test may have imported it already
    with pytest.warns(DeprecationWarning, match="moved to"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(_moved.MOVED[old])


def test_no_moved_path_shadows_a_public_name():
    import lrkit.nn as lnn
    import lrkit.recovery as recovery

    public = {"lrkit": set(lrkit.__all__), "lrkit.recovery": set(recovery.__all__)
              | set(recovery._MOVED_NAMES), "lrkit.nn": set(lnn.VERBS) | set(lnn._MORE)}
    for old in _moved.MOVED:
        parent, leaf = old.rsplit(".", 1)
        assert leaf not in public.get(parent, set()), f"{old} would replace {parent}.{leaf}"


def test_public_names_of_0_1_still_load():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in lrkit.__all__:
            assert getattr(lrkit, name) is not None
        import lrkit.recovery as recovery

        for name in ("MatrixCompletion", "calibrate", "sparse_bayes", "denoise",
                     "CALIBRATION_METHODS", "recover_dynamic"):
            assert getattr(recovery, name) is getattr(lrkit, name, getattr(recovery, name))


def test_command_line_choices_are_the_registries():
    pytest.importorskip("torch")
    from lrkit.cli import adapt, train_lm
    from lrkit.nn.adapters import ADAPTERS
    from lrkit.nn.training.lm_methods import TRAIN_LM_METHODS

    assert tuple(adapt.METHODS) == tuple(ADAPTERS)
    assert tuple(train_lm.METHODS) == tuple(TRAIN_LM_METHODS)
    assert "lora" in adapt.METHODS and "nope" not in adapt.METHODS


def test_command_line_choices_load_their_registry_only_when_read():
    """``lrkit --help`` builds every verb's parser without importing PyTorch; the adapt
    verb's help lists the registry."""
    code = ("import sys; from lrkit.cli import build_parser; "
            "build_parser(); assert 'torch' not in sys.modules, 'torch at build'")
    subprocess.run([sys.executable, "-c", code], check=True)
