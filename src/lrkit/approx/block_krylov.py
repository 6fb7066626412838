"""Randomized block Krylov SVD that stops at an accuracy target (issue 17, item 6).

Block Lanczos bidiagonalisation from a random start block, with full re-orthogonalisation
(Musco & Musco 2015, "Randomized block Krylov methods for stronger and faster approximate
singular value decomposition"; Golub & Underwood 1977 for block Lanczos). With
``Q_0 = orth(A Ω)`` the left basis grows one block per step,

    Z_j = Aᵀ Q_j,    A Z_j = Σ_{i ≤ j} Q_i C_ij + Q_{j+1} R_j   (two Gram–Schmidt passes),

so ``Q = [Q_0 … Q_j]`` spans the Krylov space ``{AΩ, (AAᵀ) AΩ, …, (AAᵀ)^j AΩ}`` and
``B = Qᵀ A`` is ``[Z_0 … Z_j]ᵀ``, already computed. Rayleigh–Ritz: ``B = Ũ Σ Ṽᵀ`` gives the
approximate triplets ``(Q ũ_i, σ_i, ṽ_i)``. Their residuals cost nothing extra: ``Aᵀ u_i −
σ_i v_i = 0`` exactly, and ``A v_i − σ_i u_i = Q_{j+1} R_j ũ_i^{(j)} / σ_i``, where
``ũ_i^{(j)}`` is the last block of ``ũ_i`` (the block-Lanczos residual estimate). The loop
stops when every one of the top ``rank`` residuals is at most ``tol · σ_1``: then each
computed singular value is within ``tol · σ_1`` of a true one, and the excess error of the
rank-``rank`` approximation is of second order in ``tol`` (over the relative gap). Block
products are matrix–matrix (BLAS 3), unlike the matrix–vector products of ARPACK and
PROPACK, and the block is wider than ``rank``, so the convergence rate is set by the gap
between ``σ_rank`` and ``σ_{block+1}`` rather than the possibly tiny gap at ``rank``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from lrkit._random import as_generator
from lrkit.exceptions import ConvergenceWarning

#: Default accuracy target: residual norms at most this times σ_1.
DEFAULT_TOL = 1e-8
#: Default block width: ``rank + MIN_EXTRA`` columns.
MIN_EXTRA = 10
#: At most this many Krylov blocks (the dimension of the matrix bounds them too).
MAX_BLOCKS = 100


def block_krylov_svd(apply, apply_t, shape, rank, *, tol=DEFAULT_TOL, block=None,
                     max_blocks=MAX_BLOCKS, seed=None):
    """Top-``rank`` SVD of a matrix known through ``apply(V) = A V`` and
    ``apply_t(U) = Aᴴ U`` (NumPy arrays in and out), to residual ``tol · σ_1``.

    Parameters
    ----------
    apply, apply_t : callable
    shape : (n1, n2)
    rank : int
    tol : float
        Stop when ``||A v_i − σ_i u_i|| ≤ tol · σ_1`` for the top ``rank`` triplets.
    block : int, optional
        Block width; default ``rank + 10`` (at most ``min(n1, n2)``).
    max_blocks : int
        Bound on the Krylov depth; a :class:`~lrkit.exceptions.ConvergenceWarning` names
        the residual reached when it stops the loop.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    U : (n1, rank), s : (rank,), Vt : (rank, n2), and the number of blocks used.
    """
    n1, n2 = shape
    small = min(n1, n2)
    width = min(block or rank + MIN_EXTRA, small)
    depth = min(max_blocks, -(-small // width))
    start = as_generator(seed).standard_normal((n2, width))
    first, _ = np.linalg.qr(apply(start))
    Q = np.empty((n1, depth * width), dtype=first.dtype)   # left basis [Q_0 … Q_j]
    Bh = np.empty((n2, depth * width), dtype=first.dtype)  # Bᴴ = Aᴴ Q = [Z_0 … Z_j]
    gram = np.empty((depth * width,) * 2, dtype=first.dtype)  # B Bᴴ, grown a block a step
    Q[:, :width] = first
    used, vectors = 0, None     # vectors: the Ritz vectors of the current basis, once known
    for j in range(depth):
        block_cols = slice(j * width, (j + 1) * width)
        Bh[:, block_cols] = apply_t(Q[:, block_cols])
        used = (j + 1) * width
        gram[:used, block_cols] = Bh[:, :used].conj().T @ Bh[:, block_cols]
        gram[block_cols, :used] = gram[:used, block_cols].conj().T
        if used >= small or j == depth - 1:
            break                       # the basis spans the range, or the depth bound
        new, last = _extend(Q[:, :used], apply(Bh[:, block_cols]))
        values, vectors = _ritz(gram[:used, :used], rank)
        if _largest_residual(values, vectors, last, width) <= tol * values[0]:
            break
        Q[:, used:used + width] = new
        vectors = None
    if used < small and j == depth - 1 and depth == max_blocks:
        warnings.warn(f"block Krylov SVD stopped at max_blocks={max_blocks} before reaching "
                      f"residual {tol:.1e} × σ_1; raise max_blocks or tol",
                      ConvergenceWarning, stacklevel=3)
    # Rayleigh–Ritz on the top-rank Ritz subspace Q ũ: an exact SVD of its Aᴴ Q ũ = Bᴴ ũ.
    if vectors is None:
        _, vectors = _ritz(gram[:used, :used], rank)
    V, s, Wh = np.linalg.svd(Bh[:, :used] @ vectors, full_matrices=False)
    U = Q[:, :used] @ (vectors @ Wh.conj().T)
    return U, s, V.conj().T, used // width


def _extend(Q, W):
    """Orthogonalise ``W`` against the basis ``Q`` twice (classical Gram–Schmidt), then
    QR: ``(Q_new, R)`` with ``W = Q C + Q_new R`` (only ``R`` is needed)."""
    R = np.eye(W.shape[1], dtype=W.dtype)
    for _ in range(2):
        W = W - Q @ (Q.conj().T @ W)
        W, step = np.linalg.qr(W)
        R = step @ R
    return W, R


def _ritz(gram, rank):
    """The top ``rank`` singular values (decreasing) and left vectors of ``B`` from the
    eigendecomposition of the small ``gram = B Bᴴ`` (only those eigenpairs computed)."""
    size = gram.shape[0]
    values, vectors = scipy.linalg.eigh(gram, subset_by_index=[size - rank, size - 1])
    return np.sqrt(np.maximum(values[::-1], 0.0)), vectors[:, ::-1]


def _largest_residual(values, vectors, last, width):
    """``max_i ||R_j ũ_i^{(j)}|| / σ_i`` over the Ritz triplets given."""
    norms = np.linalg.norm(last @ vectors[-width:], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(values > 0, norms / np.where(values > 0, values, 1.0), 0.0)
    return float(ratios.max())
