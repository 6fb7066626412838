"""Every Python block of the README and of the guided tour (``docs/tour.md``) runs as
written, every ``lrkit`` command line in them parses, and every README block followed by a
``text`` block prints that text (so neither can drift from the code)."""

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README, TOUR = ROOT / "README.md", ROOT / "docs" / "tour.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", flags=re.S)
#: Numbers in a README output agree within this relative tolerance; numbers below TINY
#: stand for "below TINY" (machine-precision errors vary with the BLAS).
RELATIVE, TINY = 0.05, 1e-6
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _blocks(path):
    return FENCE.findall(path.read_text())


def _examples():
    """``(file, code, expected output or None)`` for every Python block."""
    examples = []
    for path in (README, TOUR):
        blocks = _blocks(path)
        for index, (lang, code) in enumerate(blocks):
            if lang == "python":
                follows = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
                expected = follows[1] if follows[0] == "text" and path == README else None
                examples.append((path.name, code, expected))
    return examples


EXAMPLES = _examples()
COMMANDS = [line.split("#")[0].strip() for path in (README, TOUR)
            for lang, code in _blocks(path) if lang == "bash"
            for line in code.splitlines() if line.startswith("lrkit ")]


def test_the_readme_has_an_example_a_job_with_its_output():
    readme = [example for example in EXAMPLES if example[0] == "README.md"]
    assert len(readme) >= 7 and all(expected for _, _, expected in readme)
    assert len(COMMANDS) >= 6


def _same_output(printed, expected):
    """Whether ``printed`` matches ``expected`` token by token: words exactly, numbers
    within ``RELATIVE``, numbers below ``TINY`` as below ``TINY``."""
    got, want = printed.split(), expected.split()
    if len(got) != len(want):
        return False
    for a, b in zip(got, want, strict=True):
        if NUMBER.match(b) and NUMBER.match(a):
            a, b = float(a), float(b)
            if abs(b) < TINY:
                if abs(a) >= TINY:
                    return False
            elif abs(a - b) > RELATIVE * abs(b):
                return False
        elif a != b:
            return False
    return True


def test_output_comparison_is_not_vacuous():
    assert _same_output("converged 233 4e-14", "converged 233 2e-15")
    assert _same_output("0.912", "0.93")
    assert not _same_output("0.912", "0.97")
    assert not _same_output("stalled 233", "converged 233")
    assert not _same_output("2e-5", "4e-14")
    assert not _same_output("1 2", "1 2 3")


@pytest.mark.parametrize("source, code, expected", EXAMPLES,
                         ids=[f"{name}-block{i}" for i, (name, _, _) in enumerate(EXAMPLES)])
def test_python_block_runs(source, code, expected, tmp_path, monkeypatch):
    if "lrkit.nn" in code:
        pytest.importorskip("transformers")
        from lrkit.nn.workloads import models

        if "load_minilm" in code and models.minilm_path() is None:
            pytest.skip("the MiniLM model package is not installed")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, source, "exec"), {"__name__": "__readme__"})
    if expected is not None:
        assert _same_output(printed.getvalue(), expected), (
            f"{source} says it prints\n{expected}but it printed\n{printed.getvalue()}")


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
