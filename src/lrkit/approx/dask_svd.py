"""Truncated SVD of a ``dask.array`` that need not fit in memory (issue 17, scale-out).

The block Krylov engine of :mod:`lrkit.approx.block_krylov`, the same algorithm, stopping
rule and defaults as in memory, with its two products written as chunked Dask products:

    apply(V) = A V,    apply_t(U) = Aᵀ U     (each one pass over the chunks of A).

A step of the engine reads ``A`` twice, and the residual test stops it as soon as the top
``rank`` triplets meet the accuracy target, so a friendly spectrum costs a few passes and a
slowly decaying one only the passes it needs. The Krylov basis (``n1 × depth·(rank + 10)``)
and ``Aᵀ Q`` are kept in memory: a small fraction of ``A`` for the tall-and-wide matrices
this is for. Dask's own ``svd_compressed`` defaults to no power iterations, which loses
accuracy on slowly decaying spectra (``docs/benchmarks.md``). Dask is imported here only.
"""

from __future__ import annotations

import numpy as np

from lrkit.approx.block_krylov import block_krylov_svd


def is_dask_array(A) -> bool:
    """Whether ``A`` is a ``dask.array.Array`` (without importing Dask)."""
    return type(A).__module__.startswith("dask.array")


def dask_svd(A, rank, *, tol, seed=None):
    """Rank-``rank`` SVD of a 2-d Dask array: ``U`` (a Dask array, chunked like ``A``'s rows),
    ``s`` and ``Vt`` (NumPy). Arguments as :func:`lrkit.svd` (already validated)."""
    import dask.array as da

    A = A.astype(np.float64)
    U, s, Vt, _ = block_krylov_svd(lambda V: (A @ V).compute(),
                                   lambda U: (A.T @ U).compute(),
                                   A.shape, rank, tol=tol, seed=seed)
    return da.from_array(U, chunks=(A.chunks[0], -1)), s, Vt


def check_dask_finite(A):
    """``ValueError`` naming ``A`` when a Dask array holds NaN or inf (one pass)."""
    import dask.array as da

    if not bool(da.isfinite(A).all().compute()):
        raise ValueError("A has NaN or inf entries; lrkit.svd needs finite values")
