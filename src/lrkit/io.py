"""Reading and writing matrix files: strict readers, atomic writers.

Readers return float64 NumPy arrays and raise ``ValueError`` with the file name for
anything they cannot read. Writers write to a temporary file beside the target and rename
it, so a failure never leaves a half-written output.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from lrkit._validation import as_real_matrix

MATRIX_SUFFIXES = (".npy", ".npz", ".csv")
WEIGHT_SUFFIXES = (".npy", ".npz", ".safetensors")


#: CSV cells read as missing values (besides the empty cell), compared case-sensitively.
NA_TOKENS = frozenset({"", "NA", "NaN", "nan", "NAN", "N/A", "n/a", "null", "NULL", "None"})


def read_arrays(path, suffixes, header=None):
    """``{name: array}`` from a .npy (named by the file), .npz, .csv or .safetensors file
    whose suffix is in ``suffixes``; any file that cannot be read is a ``ValueError`` that
    names it. ``header`` applies to CSV (see :func:`read_csv`)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"input file {path} does not exist")
    if path.is_dir():
        raise ValueError(f"input {path} is a directory; give a file")
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"unsupported input {path.suffix!r}: use {', '.join(suffixes)}")
    if suffix == ".csv":
        return {path.stem: read_csv(path, header)}
    if suffix == ".safetensors":
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ValueError("reading .safetensors needs the safetensors package: "
                             "pip install 'lrkit[nn]'") from None
    try:
        if suffix == ".npy":
            return {path.stem: np.load(path, allow_pickle=False)}
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        return load_file(str(path))
    except MemoryError:
        raise
    except Exception as error:  # a damaged file fails in many libraries' own ways
        raise ValueError(f"cannot read {path}: not a valid {suffix} file "
                         f"({type(error).__name__}: {error})") from None


def read_csv(path, header=None):
    """A float matrix from a CSV file, strictly.

    Empty cells and :data:`NA_TOKENS` are missing (NaN); any other cell that is not a
    number is an error naming its row and column. A UTF-8 byte-order mark is skipped. A
    first row with text where every later row has numbers is a header (``header=None``
    detects it; ``True`` or ``False`` decide).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"cannot read {path} as CSV text: {error}") from None
    if not rows:
        raise ValueError(f"{path} holds no data")
    if header is None:
        header = len(rows) > 1 and not all(_is_number(c) for c in rows[0])
    if header:
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path} holds a header and no data")
    width = len(rows[0])
    values = np.empty((len(rows), width))
    for i, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise ValueError(f"{path}, row {i}: {len(row)} cells where the first data row has "
                             f"{width}")
        for j, cell in enumerate(row, start=1):
            value = parse_cell(cell)
            if value is None:
                raise ValueError(f"{path}, row {i}, column {j}: {cell.strip()!r} is not a number "
                                 "(missing values are empty or NA/NaN)")
            values[i - (2 if header else 1), j - 1] = value
    return values


def parse_cell(cell):
    """The float in a CSV cell, NaN for a missing one, None when it is neither."""
    text = cell.strip()
    if text in NA_TOKENS:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return None
    return value if "_" not in text else None


def _is_number(cell):
    value = parse_cell(cell)
    return value is not None


def load_matrix(path, key=None, header=None):
    """A 2-d float array from .npy, .npz (``key`` or the only array) or .csv (empty = NaN)."""
    arrays = read_arrays(path, MATRIX_SUFFIXES, header)
    if key is None and len(arrays) != 1:
        raise ValueError(f"{path} holds arrays {list(arrays)}; choose one with --key")
    if key is not None and key not in arrays:
        raise ValueError(f"{path} has no array {key!r}; it holds {list(arrays)}")
    data = np.asarray(arrays[key] if key is not None else next(iter(arrays.values())))
    return as_real_matrix(str(path), data, allow_nan=True)


def load_index_table(path, columns, key=None, header=None):
    """``columns`` arrays of a table whose first two columns are zero-based row and column
    indices (``(row, col, value)`` triplets, or ``(row, col)`` pairs); every row complete."""
    table = load_matrix(path, key, header)
    if table.shape[1] != columns:
        what = "(row, col, value) triplets" if columns == 3 else "(row, col) pairs"
        raise ValueError(f"{path} has {table.shape[1]} columns; expected {columns}: {what}")
    missing = np.argwhere(np.isnan(table))
    if missing.size:
        line, column = missing[0]
        raise ValueError(f"{path}: row {line + 1}, column {column + 1} is empty")
    indices = table[:, :2]
    bad = np.flatnonzero(np.any((indices < 0) | (indices != np.round(indices)), axis=1))
    if bad.size:
        raise ValueError(f"{path}: row {bad[0] + 1} has index {indices[bad[0]].tolist()}; "
                         "indices are non-negative integers (zero-based)")
    return [indices[:, 0].astype(np.intp), indices[:, 1].astype(np.intp),
            *table[:, 2:].T][:columns]


def load_matrices(path):
    """``{name: 2-d array}`` from .npy (one array), .npz or .safetensors (all arrays).

    Arrays with more than two dimensions are read as ``(shape[0], -1)`` (convolution kernels
    per output channel); 0-d and 1-d arrays (biases, norms) are skipped.
    """
    arrays = read_arrays(path, WEIGHT_SUFFIXES)
    matrices = {name: as_real_matrix(f"{path}:{name}", np.asarray(a).reshape(a.shape[0], -1),
                                     allow_nan=True)
                for name, a in arrays.items() if a.ndim >= 2 and a.size}
    if not matrices:
        raise ValueError(f"{path} holds no array with two or more dimensions")
    return matrices


def check_output(path, several, inputs=()):
    """Refuse, before any work, a matrix output we cannot or must not write."""
    allowed = (".npz",) if several else (".npz", ".npy", ".csv")
    check_writable(path, allowed, inputs)


def check_writable(path, suffixes, inputs=(), what="output"):
    """Refuse, before any work, an output path with the wrong suffix, one that is (or lies
    inside) an input, a directory, or one whose folder cannot be created or written; a
    missing folder is created."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{what} {path} must end in {' or '.join(suffixes)}")
    check_not_input(path, inputs, what)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory; give a file name")
    check_parent(path, what)


def check_not_input(path, inputs, what="output", holding=False):
    """Refuse an output ``path`` that is an input or lies inside an input folder (and, with
    ``holding``, for an output folder replaced whole, one that holds an input)."""
    target = Path(path).resolve()
    for source in inputs:
        source = Path(source).resolve()
        if (target == source or (source.is_dir() and source in target.parents)
                or (holding and target in source.parents)):
            raise ValueError(f"{what} {path} would overwrite the input {source}; "
                             "choose another name")


def check_parent(path, what="output"):
    """Create the folder ``path`` goes in, as ``mkdir -p`` would (a file in the way is an
    error), and refuse it when it cannot be created or written."""
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"{what} folder {folder} cannot be created "
                             f"({error.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{what} folder {folder} is not writable")


def atomic_write(path, write):
    """Call ``write(temporary_path)`` and rename the file to ``path`` once it is complete."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.",
                                         suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_arrays(path, **arrays):
    """Write one array (.npy/.csv) or several (.npz) to ``path``, atomically."""
    check_output(path, len(arrays) > 1)
    suffix = Path(path).suffix.lower()
    first = next(iter(arrays.values()))
    if suffix == ".npz":
        atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))
    elif suffix == ".npy":
        atomic_write(path, lambda tmp: np.save(tmp, first))
    else:
        atomic_write(path, lambda tmp: np.savetxt(tmp, first, delimiter=","))
