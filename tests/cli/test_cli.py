import subprocess
import sys
import warnings

import numpy as np
import pytest

import lrkit
from lrkit.cli import main


def test_recover_prints_table_and_saves_plot(tmp_path, capsys):
    out = tmp_path / "curve.png"
    code = main(["recover", "--n1", "20", "--n2", "15", "--rank", "2", "--m", "400",
                 "--method", "scaled_gd", "--seed", "1", "--plot", str(out)])
    assert code == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) == 1
    method, rank, error, stop, recovered = (rows[0][i] for i in (1, 2, 4, 6, 7))
    assert (method, rank, stop, recovered) == ("scaled_gd", "2", "converged", "yes")
    assert float(error) < 1e-10  # noiseless sensing at 400 = 11·dof measurements: exact
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
        assert row[-2] in ("converged", "stagnated") and row[-1] == "yes", (method, row)
        assert float(row[4]) < 1e-6, (method, row)
    outliers = {row[1]: row for row in rows if row[0].startswith("20% outliers")}
    assert outliers["subgm"][-1] == "yes" and outliers["gd"][-1] == "no"
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
    assert main(["complete", str(path), "--rank", "3", "--method", "altmin", "-o", str(out),
                 "--seed", "1"]) == 0
    assert np.abs(np.load(out) - M).max() < 1e-6
    assert "RMSE on observed" in capsys.readouterr().out


def test_complete_reads_triplets_and_predicts_pairs(tmp_path, capsys):
    data = lrkit.problems.datasets.movielens_100k()
    keep = data.rows < 200  # a slice of the ratings, to stay quick
    triplets, pairs = tmp_path / "ratings.csv", tmp_path / "pairs.csv"
    np.savetxt(triplets, np.column_stack([data.rows[keep], data.cols[keep], data.values[keep]]),
               delimiter=",", header="user,item,rating", comments="")
    np.savetxt(pairs, [[0, 0], [5, 7], [199, data.cols[keep].max()]], fmt="%d", delimiter=",")
    out = tmp_path / "predicted.csv"
    assert main(["complete", str(triplets), "--triplets", "--pairs", str(pairs), "--clip",
                 "-o", str(out), "--seed", "0"]) == 0
    predicted = np.loadtxt(out, delimiter=",")
    assert predicted.shape == (3, 3) and np.all((predicted[:, 2] >= 1) & (predicted[:, 2] <= 5))
    assert "biased_als" not in capsys.readouterr().err
    filled = tmp_path / "filled.npy"
    assert main(["complete", str(triplets), "--triplets", "-o", str(filled)]) == 0
    assert np.load(filled).shape == (200, int(data.cols[keep].max()) + 1)


@pytest.mark.parametrize("rows, message", [
    ([[0, 1, 3.0], [1, -2, 4.0]], "row 2 has index"),
    ([[0, 1.5, 3.0]], "non-negative integers"),
    ([[0, 1, 3.0, 9.0]], "expected 3"),
])
def test_complete_refuses_bad_triplets(tmp_path, capsys, rows, message):
    path = tmp_path / "bad.csv"
    np.savetxt(path, rows, delimiter=",")
    assert main(["complete", str(path), "--triplets", "-o", str(tmp_path / "y.npy")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


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
    (["rpca", "{x}", "--method", "altproj", "-o", "{tmp}/y.npz"], "altproj needs --rank"),
])
def test_complete_and_rpca_bad_input(tmp_path, capsys, argv, message):
    _, path = _matrix_file(tmp_path, ".npy")
    argv = [a.format(x=path, tmp=tmp_path) for a in argv]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: ") and message in lines[0]
    assert message not in captured.out  # said once, on stderr


def _packaged_minilm():
    """The workload models module, skipping the test without transformers or MiniLM."""
    pytest.importorskip("transformers")
    from lrkit.nn.workloads import models

    if models.minilm_path() is None:
        pytest.skip("the packaged MiniLM model is not installed")
    return models


def test_compress_cli_writes_model_and_sweep_plot(tmp_path, capsys):
    models = _packaged_minilm()
    import lrkit.nn as lnn
    from lrkit.nn.workloads import datasets

    out = tmp_path / "small.safetensors"
    assert main(["compress", "minilm", "--ratio", "0.5", "--method", "svd", "--n-calib", "16",
                 "--n-eval", "16", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    said = float(printed.split("held-out sentences:")[1].split()[0])
    # the file holds the model the table describes: reloaded, it gives the printed number
    original, tokenizer = models.load_minilm()
    small = lnn.load(models.load_minilm()[0], out)
    evaluation = datasets.text_batches(tokenizer, datasets.stdlib_sentences(16, "evaluation"))
    assert lnn.embedding_similarity(original, small, evaluation) == pytest.approx(said,
                                                                                  abs=1e-4)
    kept = sum(p.numel() for p in small.parameters())
    assert kept < 0.8 * sum(p.numel() for p in original.parameters())


@pytest.mark.slow
def test_compress_cli_sweep_plots(tmp_path, capsys):
    _packaged_minilm()
    plot = tmp_path / "sweep.png"
    assert main(["compress", "minilm", "--sweep", "0.3,0.6", "--n-calib", "8", "--n-eval", "8",
                 "--plot", str(plot)]) == 0
    assert "whiten" in capsys.readouterr().out and plot.stat().st_size > 10_000
    assert main(["compress", "no_such_model"]) == 1


@pytest.mark.parametrize("argv, flag", [
    (["complete", "x.npy", "--rank", "zero", "-o", "y.npy"], "--rank"),
    (["recover", "--fit-rank", "0"], "--fit-rank"),
    (["recover", "--seed", "-1"], "--seed"),
    (["recover", "--noise-std", "-1"], "--noise-std"),
    (["recover", "--outlier-frac", "1.5"], "--outlier-frac"),
    (["spectrum", "x.npz", "--max-plots", "0"], "--max-plots"),
    (["compress", "minilm", "--n-calib", "-5"], "--n-calib"),
    (["compress", "minilm", "--ratio", "1.5"], "--ratio"),
])
def test_numeric_flags_are_checked_and_named(argv, flag, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert f"argument {flag}: must be" in capsys.readouterr().err


def test_help_shows_defaults_and_descriptions(capsys):
    with pytest.raises(SystemExit):
        main(["recover", "--help"])
    text = capsys.readouterr().out
    assert "(default: 3000)" in text and "bound on the iterations" in text


def test_compress_plot_without_sweep_is_refused_before_work(capsys):
    pytest.importorskip("torch")
    assert main(["compress", "minilm", "--plot", "x.png"]) == 1
    assert "--plot draws the quality-vs-ratio curve of --sweep" in capsys.readouterr().err


def test_missing_extra_is_one_line_before_any_work(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["demo", "--plot", "demo.png"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lrkit: error: --plot needs matplotlib: pip install 'lrkit[plot]'"]


def test_recover_fit_rank_beyond_the_matrix_names_the_flag(capsys):
    assert main(["recover", "--n1", "10", "--n2", "8", "--fit-rank", "9"]) == 1
    assert "--fit-rank 9 exceeds min(--n1, --n2)=8" in capsys.readouterr().err


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path, capsys):
    path = tmp_path / "w.npz"
    rng = np.random.default_rng(0)
    np.savez(path, a=rng.standard_normal((40, 30)), b=rng.standard_normal((50, 20)))
    assert main(["spectrum", str(path)]) == 0
    err = capsys.readouterr().err
    assert "spectra: 2/2" in err  # a log file sees progress as it happens, not a blank


def test_complete_clips_to_the_observed_range(tmp_path):
    M, path = _matrix_file(tmp_path, ".npy")
    observed = np.load(path)
    out = tmp_path / "filled.npy"
    assert main(["complete", str(path), "--rank", "1", "--clip", "-o", str(out)]) == 0
    filled = np.load(out)
    assert filled.min() >= np.nanmin(observed) and filled.max() <= np.nanmax(observed)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_complete_summary_at_extreme_scales(tmp_path, capsys, scale):
    import warnings

    M, path = _matrix_file(tmp_path, ".npy")
    np.save(path, np.load(path) * scale)
    out = tmp_path / "filled.npy"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or underflow in the fit or the summary
        assert main(["complete", str(path), "--rank", "3", "--method", "altmin",
                     "-o", str(out)]) == 0
    assert np.abs(np.load(out) / scale - M).max() < 1e-6
    rmse = float(capsys.readouterr().out.split("RMSE on observed entries")[1].split()[1])
    assert 0 <= rmse < 1e-6 * scale


def test_outputs_have_normal_permissions(tmp_path):
    import os
    import stat

    _, path = _matrix_file(tmp_path, ".npy")
    out = tmp_path / "filled.npz"
    assert main(["complete", str(path), "--rank", "3", "-o", str(out)]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filled.npz", "x.npy"]  # no temp left


def test_compress_rmt_allocation_runs_without_a_ratio(capsys):
    """Issue 39: the CLI always passed a ratio, which allocation='rmt' refuses."""
    _packaged_minilm()
    assert main(["compress", "minilm", "--allocation", "rmt", "--method", "whiten",
                 "--n-calib", "8", "--n-eval", "4"]) == 0
    said = float(capsys.readouterr().out.split("held-out sentences:")[1].split()[0])
    assert 0 < said <= 1
    assert main(["compress", "minilm", "--allocation", "rmt", "--ratio", "0.3"]) == 1
    assert "drop --ratio" in capsys.readouterr().err


def test_warnings_are_one_line_in_the_command_line_s_words(tmp_path, capsys):
    """A solver's ConvergenceWarning reached stderr as Python prints it (source path, line
    number, the offending source line); the CLI says it in one line of its own."""
    rng = np.random.default_rng(0)
    M = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 40))
    M[rng.random(M.shape) < 0.5] = np.nan
    np.savetxt(tmp_path / "m.csv", M, delimiter=",")
    with warnings.catch_warnings():
        warnings.simplefilter("default", lrkit.ConvergenceWarning)  # the suite ignores them
        code = main(["complete", str(tmp_path / "m.csv"), "-o", str(tmp_path / "out.npz"),
                     "--method", "altmin", "--rank", "3", "--max-iter", "2"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.splitlines() == ["lrkit: warning: MatrixCompletion(altmin) did not converge: "
                                "reached max_iter=2 before converging; raise max_iter (now 2) "
                                "or lower the rank"]
