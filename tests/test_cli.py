import subprocess
import sys

import numpy as np
import pytest

import lrkit
from lrkit.cli import main


def test_recover_prints_table_and_saves_plot(tmp_path, capsys):
    out = tmp_path / "curve.png"
    code = main(["recover", "--n1", "20", "--n2", "15", "--rank", "2", "--m", "400",
                 "--method", "scaled_gd", "--seed", "1", "--plot", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "scaled_gd" in text and "converged" in text
    assert out.stat().st_size > 10_000


def _table_rows(text):
    """The cells of every body row of a rich table printed as text."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) > 3 and not set(cells[0]) <= set("━─┃"):
            rows.append(cells)
    return rows


def test_demo_runs_all_methods(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--max-iter", "1500", "--plot", str(out)]) == 0
    rows = _table_rows(capsys.readouterr().out)
    exact = {row[1]: row for row in rows if row[0].startswith("exact rank")}
    assert set(exact) == {"gd", "gd_onestep", "scaled_gd", "subgm"}
    for method, row in exact.items():
        assert row[-1] in ("converged", "stagnated") and float(row[4]) < 1e-6, (method, row)
    assert out.stat().st_size > 10_000


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


def _matrix_file(tmp_path, suffix):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    X = np.where(rng.random(M.shape) < 0.5, M, np.nan)
    path = tmp_path / f"x{suffix}"
    np.save(path, X) if suffix == ".npy" else np.savetxt(path, X, delimiter=",")
    return M, path


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_complete_writes_filled_matrix(tmp_path, capsys, suffix):
    M, path = _matrix_file(tmp_path, suffix)
    out = tmp_path / "filled.npy"
    assert main(["complete", str(path), "--rank", "3", "-o", str(out), "--seed", "1"]) == 0
    assert np.abs(np.load(out) - M).max() < 1e-6
    assert "RMSE on observed" in capsys.readouterr().out


def test_rpca_writes_both_parts(tmp_path):
    prob = lrkit.problems.robust_pca(80, 60, rank=3, corruption=0.05, seed=0)
    path, out = tmp_path / "m.npy", tmp_path / "parts.npz"
    np.save(path, prob.matrix)
    assert main(["rpca", str(path), "-o", str(out)]) == 0
    with np.load(out) as parts:
        assert lrkit.relative_error(parts["low_rank"], prob.low_rank) < 1e-5


@pytest.mark.parametrize("argv, message", [
    (["complete", "{x}", "-o", "{tmp}/y.txt"], "must end in .npz or .npy or .csv"),
    (["complete", "{tmp}/missing.npy", "-o", "{tmp}/y.npy"], "missing.npy does not exist"),
    (["complete", "{x}", "--rank", "zero", "-o", "{tmp}/y.npy"],
     "--rank must be a positive integer; got 'zero'"),
    (["rpca", "{x}", "--method", "altproj", "-o", "{tmp}/y.npz"], "altproj' needs rank="),
])
def test_complete_and_rpca_bad_input(tmp_path, capsys, argv, message):
    _, path = _matrix_file(tmp_path, ".npy")
    argv = [a.format(x=path, tmp=tmp_path) for a in argv]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: ") and message in lines[0]
    assert message not in captured.out  # said once, on stderr


def test_compress_cli_writes_model_and_sweep_plot(tmp_path, capsys):
    pytest.importorskip("transformers")
    from lrkit.nn import models

    if models.minilm_path() is None:
        pytest.skip("the packaged MiniLM model is not installed")
    out = tmp_path / "small.safetensors"
    assert main(["compress", "minilm", "--ratio", "0.5", "--method", "svd", "--n-calib", "16",
                 "--n-eval", "16", "-o", str(out)]) == 0
    assert "cosine similarity" in capsys.readouterr().out and out.stat().st_size > 1e6
    plot = tmp_path / "sweep.png"
    assert main(["compress", "minilm", "--sweep", "0.3,0.6", "--n-calib", "8", "--n-eval", "8",
                 "--plot", str(plot)]) == 0
    assert "whiten" in capsys.readouterr().out and plot.stat().st_size > 10_000
    assert main(["compress", "minilm", "--ratio", "1.5", "--n-calib", "8", "--n-eval", "8"]) == 1
    assert main(["compress", "no_such_model"]) == 1
