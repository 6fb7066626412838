"""The one place that knows which array library is in use.

Algorithms call :func:`namespace` to get an array-API namespace for their inputs and
:func:`like` to move NumPy data (operator matrices, random draws) next to them. Nothing
else in lrkit tests for a concrete array type.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace, device, is_numpy_namespace, is_torch_namespace


def namespace(*arrays):
    """Array-API namespace shared by ``arrays`` (NumPy when all are NumPy)."""
    return array_namespace(*arrays)


def foreign_array(array):
    """``array`` when it is an array-API array of another library than NumPy (a torch
    tensor, say), so results can be returned in its library; None otherwise."""
    try:
        xp = array_namespace(array)
    except TypeError:
        return None
    return None if is_numpy_namespace(xp) else array


def to_float(value) -> float:
    """A 0-d array (or number) as a Python float, without autograd's warning for tensors
    that require gradients."""
    return float(value.detach() if hasattr(value, "detach") else value)


def is_numpy_array(array) -> bool:
    """True for NumPy arrays (and NumPy scalars)."""
    return is_numpy_namespace(array_namespace(array))


def like(values, reference):
    """``values`` (NumPy or scalar) as an array of ``reference``'s library, device and dtype."""
    xp = array_namespace(reference)
    if is_numpy_namespace(xp):
        return np.asarray(values, dtype=reference.dtype)
    return xp.asarray(np.asarray(values), dtype=reference.dtype, device=device(reference))


def to_numpy(array) -> np.ndarray:
    """A NumPy copy (or view) of any supported array, for reporting and plotting."""
    xp = array_namespace(array)
    if is_torch_namespace(xp):
        return array.detach().cpu().numpy()
    if is_numpy_namespace(xp):
        return np.asarray(array)
    return np.from_dlpack(array)


def sparse_matmul(rows, cols, values, shape, dense):
    """``S @ dense`` for the sparse matrix ``S[rows, cols] = values`` without densifying ``S``.

    ``rows`` and ``cols`` are NumPy index arrays; ``values`` and ``dense`` share a namespace.
    Cost O(len(values) · dense.shape[1]).
    """
    xp = array_namespace(values, dense)
    if is_torch_namespace(xp):
        import torch

        idx = torch.as_tensor(np.vstack([rows, cols]), device=values.device)
        sparse = torch.sparse_coo_tensor(idx, values, shape, check_invariants=False).coalesce()
        return torch.sparse.mm(sparse, dense)
    if is_numpy_namespace(xp):
        import scipy.sparse as sp

        return np.asarray(sp.csr_matrix((values, (rows, cols)), shape=shape) @ dense)
    # Generic array-API fallback: accumulate each observed entry's contribution.
    out = np.zeros((shape[0], dense.shape[1]))
    np.add.at(out, rows, to_numpy(values)[:, None] * to_numpy(dense)[cols])
    return xp.asarray(out)


def _index(index, reference):
    """Integer NumPy ``index`` as an index array of ``reference``'s library and device."""
    xp = array_namespace(reference)
    if is_numpy_namespace(xp):
        return np.asarray(index)
    return xp.asarray(np.asarray(index), device=device(reference))


def gather_rows(array, index):
    """``array[index]`` along the first axis for an integer NumPy ``index``."""
    return array_namespace(array).take(array, _index(index, array), axis=0)


#: ``sampled_products`` gathers NumPy factor rows in chunks of this many numbers (512 KiB
#: each), so that they stay in cache instead of filling two |Ω|×k arrays.
PRODUCT_CHUNK = 1 << 16


def sampled_products(F, G, rows, cols):
    """``<F[rows[e]], G[cols[e]]>`` for every entry ``e`` (the entries of ``F Gᵀ`` at the
    pairs), O(|Ω| k) without forming ``F Gᵀ``."""
    if not (is_numpy_array(F) and is_numpy_array(G)):
        return namespace(F).sum(gather_rows(F, rows) * gather_rows(G, cols), axis=1)
    out = np.empty(len(rows), dtype=np.result_type(F, G))
    chunk = max(1, PRODUCT_CHUNK // max(F.shape[1], 1))
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        np.einsum("ek,ek->e", F[rows[part]], G[cols[part]], out=out[part])
    return out


def take_entries(matrix, rows, cols):
    """``matrix[rows, cols]`` (element-wise pairs) for integer NumPy ``rows`` and ``cols``."""
    xp = array_namespace(matrix)
    flat = xp.reshape(matrix, (matrix.shape[0] * matrix.shape[1],))
    return xp.take(flat, _index(rows * matrix.shape[1] + cols, matrix), axis=0)


def scatter_dense(rows, cols, values, shape):
    """Dense matrix with ``values`` at ``(rows, cols)`` and zeros elsewhere."""
    xp = array_namespace(values)
    if is_numpy_namespace(xp):
        out = np.zeros(shape, dtype=values.dtype)
        out[rows, cols] = values
        return out
    if is_torch_namespace(xp):
        out = xp.zeros(shape, dtype=values.dtype, device=device(values))
        out[_index(rows, values), _index(cols, values)] = values
        return out
    out = np.zeros(shape)
    out[rows, cols] = to_numpy(values)
    return xp.asarray(out)
