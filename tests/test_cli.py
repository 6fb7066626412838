import subprocess
import sys

import pytest

from lrkit.cli import main


def test_recover_prints_table_and_saves_plot(tmp_path, capsys):
    out = tmp_path / "curve.png"
    code = main(["recover", "--n1", "20", "--n2", "15", "--rank", "2", "--m", "400",
                 "--method", "scaled_gd", "--seed", "1", "--plot", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "scaled_gd" in text and "converged" in text
    assert out.stat().st_size > 10_000


def test_demo_runs_all_methods(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--max-iter", "200", "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    for method in ("gd", "gd_onestep", "scaled_gd", "subgm"):
        assert method in text
    assert out.exists()


def test_bad_input_exits_1_with_message(capsys):
    code = main(["recover", "--n1", "10", "--n2", "10", "--rank", "20", "--m", "50"])
    assert code == 1
    assert "rank must be an int" in capsys.readouterr().err


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["recover", "--method", "newton"])
    assert info.value.code == 2


def test_help_and_entry_point():
    done = subprocess.run([sys.executable, "-m", "lrkit.cli", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "recover" in done.stdout and "demo" in done.stdout
