"""File reading and writing: strict CSV, clear errors for damaged files, outputs that never
overwrite an input, and fuzzing of every reader through the command line (audit D3, D4, D6)."""

import hashlib
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrkit.cli import main
from lrkit.io import load_matrices, load_matrix, read_csv


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_csv_missing_tokens_bom_and_header(tmp_path):
    path = _write(tmp_path, "a.csv", "\ufeffa,b,c\n1,,3\nNA,5,nan\n7,8,9\n")
    X = read_csv(path)
    assert X.shape == (3, 3) and X[0, 0] == 1.0 and np.isnan(X[0, 1]) and np.isnan(X[1, 0])
    assert read_csv(_write(tmp_path, "b.csv", "\ufeff1,2,3\n4,5,6\n"))[0, 0] == 1.0
    assert read_csv(_write(tmp_path, "one.csv", "1,2,3\n")).shape == (1, 3)
    forced = read_csv(_write(tmp_path, "h.csv", "1,2\n3,4\n"), header=True)
    assert forced.tolist() == [[3.0, 4.0]]


@pytest.mark.parametrize("text, where", [
    ("1,2,3\n4,abc,6\n", "row 2, column 2: 'abc'"),
    ("1,2,3\n4,TRUE,6\n", "row 2, column 2: 'TRUE'"),
    ("1,2,3\n4,1_000,6\n", "row 2, column 2: '1_000'"),
    ("1,2,3\n4,5\n", "row 2: 2 cells"),
])
def test_csv_unparseable_cells_are_errors_naming_the_cell(tmp_path, text, where):
    with pytest.raises(ValueError, match=where):
        read_csv(_write(tmp_path, "bad.csv", text))


@pytest.mark.parametrize("name, data", [
    ("e.npy", b""), ("h.npy", b"\x93NUMPY\x01\x00garbage"), ("t.npz", b"PK\x03\x04trunc"),
    ("s.safetensors", b"hello"), ("z.safetensors", b"\xff" * 8 + b"{}"), ("e.csv", b""),
    ("bin.csv", b"\xff\xfe\x00\x01"),
])
def test_damaged_files_are_one_clear_error(tmp_path, name, data):
    path = _write(tmp_path, name, data)
    reader = load_matrices if name.endswith(".safetensors") else load_matrix
    with pytest.raises(ValueError, match=str(path.name)):
        reader(path)


def test_complex_and_empty_matrices_are_refused(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((3, 3)) * 1j)
    with pytest.raises(ValueError, match="complex"):
        load_matrix(tmp_path / "c.npy")
    np.save(tmp_path / "e.npy", np.ones((0, 3)))
    with pytest.raises(ValueError, match="empty"):
        load_matrix(tmp_path / "e.npy")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_never_overwrites_its_input(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.where(rng.random((30, 20)) < 0.6, rng.standard_normal((30, 20)), np.nan)
    path = tmp_path / "x.npy"
    np.save(path, X)
    before = _digest(path)
    assert main(["complete", str(path), "--rank", "2", "-o", str(path)]) == 1
    np.savez(tmp_path / "x.npz", m=np.nan_to_num(X))
    archive = _digest(tmp_path / "x.npz")
    assert main(["rpca", str(tmp_path / "x.npz"), "-o", str(tmp_path / "." / "x.npz")]) == 1
    assert _digest(path) == before and _digest(tmp_path / "x.npz") == archive
    assert capsys.readouterr().err.count("would overwrite the input") == 2


def test_compress_refuses_to_write_into_its_model_folder(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    assert main(["compress", str(folder), "-o", str(folder / "model.safetensors")]) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert (folder / "model.safetensors").read_bytes() == b"weights"


def test_missing_output_folders_are_created(tmp_path, capsys):
    """Issue 39: `lrkit demo --plot out/demo.png` failed where out/ did not exist."""
    path = tmp_path / "x.npy"
    np.save(path, np.eye(4))
    assert main(["complete", str(path), "--rank", "1", "-o",
                 str(tmp_path / "new" / "dir" / "y.npy")]) == 0
    assert np.load(tmp_path / "new" / "dir" / "y.npy").shape == (4, 4)
    assert main(["demo", "--plot", str(tmp_path / "plots" / "demo.png")]) == 0
    assert (tmp_path / "plots" / "demo.png").stat().st_size > 10_000


@pytest.mark.parametrize("output, message", [
    ("afile.npy/y.npy", "cannot be created"),
    (".", "must end in"),
    ("adir.npy", "is a directory"),
])
def test_bad_output_paths_are_refused_before_work(tmp_path, capsys, output, message):
    (tmp_path / "adir.npy").mkdir()
    (tmp_path / "afile.npy").write_bytes(b"")
    path = tmp_path / "x.npy"
    np.save(path, np.eye(4))
    assert main(["complete", str(path), "-o", str(tmp_path / output)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def _valid_bytes(kind):
    buffer = io.BytesIO()
    matrix = np.arange(12.0).reshape(4, 3)
    if kind == ".npy":
        np.save(buffer, matrix)
    elif kind == ".npz":
        np.savez(buffer, a=matrix)
    elif kind == ".csv":
        np.savetxt(buffer, matrix, delimiter=",")
    else:
        from safetensors.numpy import save

        return save({"w": matrix})
    return buffer.getvalue()


@st.composite
def damaged_files(draw):
    kind = draw(st.sampled_from([".npy", ".npz", ".csv", ".safetensors"]))
    data = _valid_bytes(kind)
    how = draw(st.sampled_from(["truncate", "flip", "random", "append"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    elif how == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif how == "random":
        data = draw(st.binary(max_size=200))
    else:
        data = data + draw(st.binary(min_size=1, max_size=50))
    return kind, data


#: ``make fuzz`` raises this (LRKIT_FUZZ_EXAMPLES) for a longer run.
FUZZ_EXAMPLES = int(os.environ.get("LRKIT_FUZZ_EXAMPLES", "300"))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=damaged_files())
def test_fuzzed_files_never_crash_the_cli_nor_change_the_input(tmp_path, case):
    kind, data = case
    path = tmp_path / f"in{kind}"
    path.write_bytes(data)
    if kind == ".safetensors":
        argv = ["spectrum", str(path)]
    else:
        argv = ["complete", str(path), "--rank", "1", "--max-iter", "20", "--fill-empty", "mean",
                "-o", str(tmp_path / "out.npy")]
    code = main(argv)  # no exception may escape
    assert code in (0, 1)
    assert path.read_bytes() == data
