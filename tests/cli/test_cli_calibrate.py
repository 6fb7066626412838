"""``lrkit calibrate``."""

from lrkit.cli import main


def test_calibrate_all_methods_recover_and_plot(tmp_path, capsys):
    out = tmp_path / "curve.png"
    assert main(["calibrate", "--n", "16", "--m", "32", "--snapshots", "6", "--seed", "0",
                 "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    for method in ("blind_gain", "least_squares", "spectral"):
        assert method in text
    assert text.count("yes") == 3 and out.stat().st_size > 10_000


def test_calibrate_reports_an_under_determined_problem(capsys):
    assert main(["calibrate", "--snapshots", "1", "--method", "spectral"]) == 0
    text = capsys.readouterr().out
    assert "ill_posed" in text and "under-determined" in text


def test_calibrate_per_snapshot_signals(capsys):
    assert main(["calibrate", "--per-snapshot-signals", "--method", "least_squares",
                 "--seed", "3"]) == 0
    assert "yes" in capsys.readouterr().out


def test_calibrate_bad_flags_are_one_line_errors(capsys, tmp_path):
    assert main(["calibrate", "--per-snapshot-signals", "--method", "blind_gain"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lrkit: error: --per-snapshot-signals") and err.count("\n") == 1
    assert main(["calibrate", "--plot", str(tmp_path / "x.txt")]) == 1
    assert "Traceback" not in capsys.readouterr().err
