"""Every Python block of the README runs as written, and every ``lrkit`` command line in
it parses (so the README cannot drift from the code)."""

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README.read_text(), flags=re.S)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
COMMANDS = [line.split("#")[0].strip() for lang, code in BLOCKS if lang == "bash"
            for line in code.splitlines() if line.startswith("lrkit ")]


def test_the_readme_has_examples():
    assert len(PYTHON) >= 5 and len(COMMANDS) >= 6


@pytest.mark.parametrize("code", PYTHON, ids=[f"block{i}" for i in range(len(PYTHON))])
def test_python_block_runs(code, tmp_path, monkeypatch):
    if "lrkit.nn" in code:
        pytest.importorskip("transformers")
        from lrkit.nn.workloads import models

        if models.minilm_path() is None:
            pytest.skip("the MiniLM model package is not installed")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("command", COMMANDS)
def test_command_line_parses(command):
    from lrkit.cli import build_parser

    argv = shlex.split(command)[1:]
    if "--help" in argv:
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args(argv)
        assert done.value.code == 0
        return
    assert callable(build_parser().parse_args(argv).func)
