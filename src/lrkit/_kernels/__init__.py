"""Compiled kernels: the per-row loops that NumPy can only vectorise by materialising an
``|Ω| × k`` array per step (a gather of every observed pair's factor row), compiled by Numba
into one pass over each row's pairs with the row's vectors in registers.

Numba is optional (``pip install 'lrkit[fast]'``): every caller keeps a NumPy path and
asks :func:`row_kernels` first, which returns ``None`` when Numba is not installed. The
kernels compile on first use (a few seconds) and are cached on disk after that.
"""

from __future__ import annotations

import importlib
import importlib.util


def row_kernels():
    """The module :mod:`lrkit._kernels.row_cg` when Numba is installed, else ``None``."""
    if importlib.util.find_spec("numba") is None:
        return None
    return importlib.import_module("lrkit._kernels.row_cg")
