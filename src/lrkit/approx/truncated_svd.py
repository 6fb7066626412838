"""Truncated SVD engines behind one call, ``lrkit.svd``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from lrkit._backend import foreign_array, like, namespace, to_float, to_numpy
from lrkit._linalg import implicit_top_svd
from lrkit._random import as_generator
from lrkit._stats import data_scale_exponent
from lrkit._validation import (
    check_choice,
    check_finite_array,
    check_int,
    check_rank,
    check_real,
    is_pandas,
    pandas_to_numpy,
)
from lrkit.approx.block_krylov import DEFAULT_TOL, block_krylov_svd
from lrkit.approx.dask_svd import check_dask_finite, dask_svd, is_dask_array

SVD_METHODS = ("auto", "exact", "randomized", "lanczos", "krylov")
#: ``method="auto"`` uses the exact SVD when the smaller dimension is at most this ...
EXACT_MAX_DIM = 400
#: ... or when the rank asks for more than this fraction of it.
EXACT_RANK_FRACTION = 0.2


def choose_svd_method(A, rank) -> str:
    """The engine ``method="auto"`` picks (rule measured in ``docs/benchmarks.md``).

    Every engine ``auto`` picks for in-memory NumPy and SciPy input is accurate to machine
    precision. Sparse matrices and SciPy ``LinearOperator`` s go to Lanczos, which needs
    only products. Dense matrices go to the exact LAPACK SVD when they are small
    (``min(n1, n2) <= EXACT_MAX_DIM``) or the rank is a large fraction of the dimension
    (``rank > EXACT_RANK_FRACTION · min(n1, n2)``), where nothing is saved, and to Lanczos
    (PROPACK) otherwise: on slowly decaying spectra and small gaps the randomized engine
    with a fixed number of power iterations stops short of the optimum, and on one
    process PROPACK's matrix–vector steps beat the block Krylov engine's (a Lanczos answer
    is checked for a direction left out, which a cluster of equal singular values at the cut
    causes, and handed to the block engine when one was). Array-API input
    (e.g. torch) goes to the randomized engine, which stays in its library and device; a
    Dask array to the block Krylov engine, whose few passes over the data are what a
    chunked matrix pays for.
    """
    if is_dask_array(A):
        return "krylov"
    if sp.issparse(A) or isinstance(A, spla.LinearOperator):
        return "lanczos"
    small = min(A.shape)
    if small <= EXACT_MAX_DIM or rank > EXACT_RANK_FRACTION * small:
        return "exact"
    if not _is_numpy(A):
        return "randomized"  # array-API input (e.g. torch) stays in its own library
    return "lanczos"


def _is_numpy(A):
    return isinstance(A, np.ndarray)


#: ``oversample=None`` uses ``max(MIN_OVERSAMPLE, rank)`` extra columns: on slowly decaying
#: spectra that matches ARPACK's error to 1e-4 at k = 20 and 100 (see docs/benchmarks.md),
#: where a fixed 10 columns left 0.02 % and 0.2 % on the table.
MIN_OVERSAMPLE = 10


def svd(A, rank, method="auto", *, oversample=None, power_iters=4, tol=DEFAULT_TOL,
        seed=None):
    """Rank-``rank`` truncated SVD ``A ≈ U diag(s) Vt``, singular values in decreasing order.

    Parameters
    ----------
    A : array (NumPy or array-API, e.g. PyTorch), scipy.sparse matrix, LinearOperator or
        ``dask.array.Array``
        The n1×n2 matrix. A Dask array goes to the block Krylov engine on chunked
        products (:func:`lrkit.approx.dask_svd.dask_svd`): ``U`` comes back as a Dask
        array.
    rank : int in [1, min(n1, n2)]
    method : {"auto", "exact", "randomized", "lanczos", "krylov"}
        ``"exact"``: LAPACK ``gesdd`` then truncation. ``"randomized"``: Halko, Martinsson &
        Tropp (2011), range finder with ``oversample`` extra columns and ``power_iters``
        power iterations, re-orthonormalised after every product (fixed cost, no accuracy
        target). ``"lanczos"``: Golub–Kahan bidiagonalisation with partial
        reorthogonalisation (PROPACK through ``scipy.sparse.linalg.svds``; ARPACK where
        PROPACK is unavailable). ``"krylov"``: randomized block Krylov with full
        re-orthogonalisation that stops when every residual ``||A v_i − σ_i u_i||`` is at
        most ``tol · σ_1`` (:func:`lrkit.approx.block_krylov.block_krylov_svd`).
        ``"auto"``: see :func:`choose_svd_method`.
    oversample, power_iters : int
        Randomized engine settings; ``oversample=None`` means ``max(10, rank)``.
    tol : float
        Accuracy target of the ``"krylov"`` engine (relative residual; default 1e-8, which
        leaves no measurable excess error in ``docs/benchmarks.md``).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    U : (n1, rank), s : (rank,), Vt : (rank, n2)
    """
    check_choice("method", method, SVD_METHODS)
    tol = check_real("tol", tol, 0.0, 1.0, low_open=True)
    if is_dask_array(A):
        return _dask(A, rank, method, tol, seed)
    operator_input = sp.issparse(A) or isinstance(A, spla.LinearOperator)
    if not operator_input and foreign_array(A) is None:
        A = pandas_to_numpy("A", A) if is_pandas(A) else np.asarray(A)  # lists, frames
        if A.dtype.kind in "biu":
            A = A.astype(np.float64)
        elif A.dtype.kind not in "fc":
            raise ValueError(f"A must hold numbers; got dtype {A.dtype}")
    if len(A.shape) != 2:
        raise ValueError(f"A must be 2-dimensional; got shape {tuple(A.shape)}")
    rank = check_rank(rank, A.shape)
    oversample = max(MIN_OVERSAMPLE, rank) if oversample is None else check_int(
        "oversample", oversample, 0)
    power_iters = check_int("power_iters", power_iters, 0)
    if sp.issparse(A):
        check_finite_array("A", A.data)
    elif not operator_input:
        check_finite_array("A", A, ndim=2)
    if not isinstance(A, spla.LinearOperator):
        peak = _peak(A)
        if peak == 0.0:
            return _zero_svd(A, rank)
        half = data_scale_exponent(peak)
        if half:  # exact rescaling by a power of four: no overflow or underflow inside
            U, s, Vt = svd(A / 4.0**half, rank, method, oversample=oversample,
                           power_iters=power_iters, tol=tol, seed=seed)
            return U, s * 4.0**half, Vt
    if method == "auto":
        method = choose_svd_method(A, rank)
    if method == "lanczos":
        return _lanczos(A, rank, tol, seed)
    if method == "krylov":
        return _krylov(A, rank, tol, seed)
    if method == "exact":
        if operator_input:
            raise ValueError("method='exact' needs a dense array; use 'lanczos' or 'randomized'")
        U, s, Vt = namespace(A).linalg.svd(A, full_matrices=False)
        return U[:, :rank], s[:rank], Vt[:rank, :]
    reference = np.zeros(1) if operator_input else A  # operators compute in NumPy float64
    return implicit_top_svd(*_products(A), A.shape, rank, reference=reference,
                            power_iters=power_iters, oversample=oversample, seed=seed)

def _dask(A, rank, method, tol, seed):
    """A Dask array: the block Krylov engine on chunked products
    (:mod:`lrkit.approx.dask_svd`)."""
    if len(A.shape) != 2:
        raise ValueError(f"A must be 2-dimensional; got shape {tuple(A.shape)}")
    if method not in ("auto", "krylov"):
        raise ValueError(f"method={method!r} needs the matrix in memory; a Dask array uses "
                         "method='krylov' (or 'auto')")
    rank = check_rank(rank, A.shape)
    check_dask_finite(A)
    return dask_svd(A, rank, tol=tol, seed=seed)


def _krylov(A, rank, tol, seed):
    """The block Krylov engine on a NumPy array, sparse matrix or operator."""
    reference = foreign_array(A)
    if reference is not None:
        A = to_numpy(A)
    U, s, Vt, _ = block_krylov_svd(*_products(A), A.shape, rank, tol=tol, seed=seed)
    return _as_input(reference, U, s, Vt)


def _as_input(reference, *arrays):
    """``arrays`` in the library and device of ``reference`` (unchanged when None: NumPy
    or SciPy input)."""
    return arrays if reference is None else tuple(like(a, reference) for a in arrays)


def _products(A):
    """``(V ↦ A V, W ↦ Aᴴ W)`` for blocks of vectors. On a NumPy array both run with the
    block as the left factor, ``(Vᵀ Aᵀ)ᵀ`` and ``(Wᴴ A)ᴴ``: the same numbers, but BLAS is
    1.2–2× faster with the long side of a skinny product in the rows (3 to 110 columns
    against a 3000 × 2000 matrix, OpenBLAS, ``make bench`` machine)."""
    if type(A) is not np.ndarray:
        adjoint = _adjoint(A)
        return (lambda V: A @ V), (lambda W: adjoint @ W)
    if np.iscomplexobj(A):
        return (lambda V: (V.T @ A.T).T), (lambda W: (W.conj().T @ A).conj().T)
    return (lambda V: (V.T @ A.T).T), (lambda W: (W.T @ A).T)


def _adjoint(A):
    """``Aᴴ``: the conjugate transpose (``Aᵀ`` for real A)."""
    if isinstance(A, spla.LinearOperator):
        return A.H
    if sp.issparse(A):
        return A.conj().T
    xp = namespace(A)
    return (xp.conj(A) if xp.isdtype(A.dtype, "complex floating") else A).T


def _peak(A) -> float:
    """Largest magnitude of a dense or sparse matrix."""
    if sp.issparse(A):
        return float(abs(A).max()) if A.nnz else 0.0
    xp = namespace(A)
    return to_float(xp.max(xp.abs(A)))


def _zero_svd(A, rank):
    """An SVD of the zero matrix with orthonormal factors (any orthonormal pair is one)."""
    n1, n2 = A.shape
    U, s, Vt = np.eye(n1, rank), np.zeros(rank), np.eye(rank, n2)
    return _as_input(foreign_array(A), U, s, Vt)


def spectral_norm(A, seed=None) -> float:
    """``σ_1(A)`` of a dense array, scipy.sparse matrix or LinearOperator, through
    :func:`svd` with ``rank=1`` (its ``auto`` engine choice); exact LAPACK when a side is
    shorter than 3, where Lanczos cannot run."""
    if min(A.shape) < 3:
        dense = A.toarray() if sp.issparse(A) else np.asarray(A)
        return float(np.linalg.norm(dense, 2))
    return float(svd(A, 1, seed=seed)[1][0])


#: Subspace iterations (on a block of ``CHECK_BLOCK`` vectors) that estimate the largest
#: singular value left out of a Lanczos answer.
CHECK_ITERATIONS, CHECK_BLOCK = 4, 3


def _lanczos(A, rank, tol, seed):
    if rank >= min(A.shape):
        raise ValueError(
            f"method='lanczos' needs rank < min(n1, n2)={min(A.shape)}; got {rank}. "
            "Use method='exact'."
        )
    reference = foreign_array(A)
    if not (sp.issparse(A) or isinstance(A, spla.LinearOperator)):
        A = to_numpy(A)
    rng = as_generator(seed)
    try:
        U, s, Vt = spla.svds(A, k=rank, solver="propack", random_state=rng)
    except (ValueError, NotImplementedError, ImportError):
        U, s, Vt = spla.svds(A, k=rank, v0=rng.standard_normal(min(A.shape)))
    order = np.argsort(s)[::-1]
    U, s, Vt = U[:, order], s[order], Vt[order, :]
    if _left_out(A, U, s, Vt, rng) > s[-1] * (1 + 1e-8):
        # Lanczos from one start vector finds one copy of a repeated singular value; a
        # cluster at the cut then leaves a larger value out. The block engine finds it.
        return _krylov(A if reference is None else like(A, reference), rank, tol, seed)
    return _as_input(reference, U, s, Vt)


def _left_out(A, U, s, Vt, rng):
    """A lower bound (subspace iteration, so no false alarm) on the largest singular value
    of ``A − U diag(s) Vt``: ``s[-1]`` or less when the answer is the optimal one, above it
    when a direction was missed."""
    times, adjoint_times = _products(A)

    def residual(V):
        return times(V) - U @ (s[:, None] * (Vt @ V))

    def residual_adjoint(W):
        return adjoint_times(W) - Vt.T @ (s[:, None] * (U.T @ W))

    V = rng.standard_normal((A.shape[1], CHECK_BLOCK))
    for _ in range(CHECK_ITERATIONS):
        V = np.linalg.qr(residual_adjoint(residual(V)))[0]
    return float(np.linalg.norm(residual(V), 2))
