"""Truncated SVD of a ``dask.array`` that need not fit in memory (issue 17, scale-out).

The randomized range finder of Halko, Martinsson & Tropp (2011) with power iterations, the
same algorithm and defaults as the in-memory engine, written as chunked products:

    Y = A Ω,  Q = qr(Y);  repeat q times: Z = qr(Aᵀ Q), Q = qr(A Z);  B = Qᵀ A = U_B Σ Vᵀ,
    U = Q U_B.

The tall side stays a Dask array, chunked by rows; ``qr`` of a tall-and-skinny Dask array is
the communication-avoiding TSQR of ``dask.array.linalg``; the short side (``n2 × (k + p)``)
and ``B`` are small and computed in memory. Each power iteration reads ``A`` twice. Dask's
own ``svd_compressed`` defaults to no power iterations, which loses accuracy on slowly
decaying spectra (``docs/benchmarks.md``). Dask is imported here only.
"""

from __future__ import annotations

import numpy as np

from lrkit._random import as_generator


def is_dask_array(A) -> bool:
    """Whether ``A`` is a ``dask.array.Array`` (without importing Dask)."""
    return type(A).__module__.startswith("dask.array")


def dask_svd(A, rank, *, oversample, power_iters, seed=None):
    """Rank-``rank`` SVD of a 2-d Dask array: ``U`` (a Dask array, chunked like ``A``'s rows),
    ``s`` and ``Vt`` (NumPy). Arguments as :func:`lrkit.svd` (already validated)."""
    import dask.array as da

    if A.shape[0] < A.shape[1]:  # work on the tall orientation
        V, s, Ut = dask_svd(A.T, rank, oversample=oversample, power_iters=power_iters,
                            seed=seed)
        return da.from_array(Ut.T, chunks=(A.chunks[0], -1)), s, V.T.compute()
    A = A.rechunk({1: -1}).astype(np.float64)  # whole rows per chunk: TSQR needs them
    rng = as_generator(seed)
    width = min(rank + oversample, min(A.shape))
    Q = _orthonormal(A @ rng.standard_normal((A.shape[1], width)))
    for _ in range(power_iters):
        Z = np.linalg.qr((A.T @ Q).compute())[0]
        Q = _orthonormal(A @ Z)
    B = (Q.T @ A).compute()
    Ub, s, Vt = np.linalg.svd(B, full_matrices=False)
    U = Q @ Ub[:, :rank]
    return U, s[:rank], Vt[:rank]


def _orthonormal(Y):
    """An orthonormal basis of the columns of a tall Dask array (TSQR), kept in memory
    across the next products (``persist``)."""
    import dask.array as da

    return da.linalg.tsqr(Y.rechunk({1: -1}))[0].persist()


def check_dask_finite(A):
    """``ValueError`` naming ``A`` when a Dask array holds NaN or inf (one pass)."""
    import dask.array as da

    if not bool(da.isfinite(A).all().compute()):
        raise ValueError("A has NaN or inf entries; lrkit.svd needs finite values")
