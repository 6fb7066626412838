"""Reading and writing matrix files: strict readers, atomic writers.

Readers return float64 NumPy arrays and raise ``ValueError`` with the file name for
anything they cannot read. Writers write to a temporary file beside the target and rename
it, so a failure never leaves a half-written output.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

MATRIX_SUFFIXES = (".npy", ".npz", ".csv")
WEIGHT_SUFFIXES = (".npy", ".npz", ".safetensors")


def read_arrays(path, suffixes):
    """``{name: array}`` from a .npy (named by the file), .npz, .csv (empty cell = NaN) or
    .safetensors file whose suffix is in ``suffixes``."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"unsupported input {path.suffix!r}: use {', '.join(suffixes)}")
    if suffix == ".npy":
        return {path.stem: np.load(path, allow_pickle=False)}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    if suffix == ".csv":
        return {path.stem: np.genfromtxt(path, delimiter=",", dtype=np.float64)}
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ValueError("reading .safetensors needs the safetensors package") from None
    return load_file(str(path))


def load_matrix(path, key=None):
    """A 2-d float array from .npy, .npz (``key`` or the only array) or .csv (empty = NaN)."""
    arrays = read_arrays(path, MATRIX_SUFFIXES)
    if key is None and len(arrays) != 1:
        raise ValueError(f"{path} holds arrays {list(arrays)}; choose one with --key")
    if key is not None and key not in arrays:
        raise ValueError(f"{path} has no array {key!r}; it holds {list(arrays)}")
    data = np.asarray(arrays[key] if key is not None else next(iter(arrays.values())),
                      dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"input must be a 2-d matrix; {path} holds shape {data.shape}")
    return data


def load_matrices(path):
    """``{name: 2-d array}`` from .npy (one array), .npz or .safetensors (all arrays).

    Arrays with more than two dimensions are read as ``(shape[0], -1)`` (convolution kernels
    per output channel); 0-d and 1-d arrays (biases, norms) are skipped.
    """
    arrays = read_arrays(path, WEIGHT_SUFFIXES)
    matrices = {name: np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)
                for name, a in arrays.items() if a.ndim >= 2}
    if not matrices:
        raise ValueError(f"{path} holds no array with two or more dimensions")
    return matrices


def check_output(path, several):
    """Refuse an output name we cannot write before any work is done."""
    allowed = (".npz",) if several else (".npz", ".npy", ".csv")
    if Path(path).suffix.lower() not in allowed:
        raise ValueError(f"output {path} must end in {' or '.join(allowed)}")


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
