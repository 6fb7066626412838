"""The per-row least-squares systems of alternating minimisation, solved in batches.

With ``G`` fixed, each row ``f_i`` of ``F`` solves the small ridge problem

    min_f  Σ_{j ∈ Ω_i} (y_ij − <f, g_j>)² + λ ||f||²,
    i.e.   (Σ_{j ∈ Ω_i} g_j g_jᵀ + λ I) f_i = Σ_{j ∈ Ω_i} y_ij g_j.

All rows are handled at once: the observed entries are sorted by row once, rows with similar
observation counts are grouped, and each group's entries are padded into one
``(rows, count, k)`` array, so every per-row sum is a batched BLAS product and no Python loop
runs over rows. Exact solves form the n×k×k Gram matrices (O(|Ω| k²)); the approximate
solver of paper 6 (Gu, Song, Yin & Zhang, "Low rank matrix completion via robust alternating
minimization in nearly linear time") runs a few Jacobi-preconditioned conjugate-gradient
steps warm-started from the previous iterate, O(|Ω| k) per step.
"""

from __future__ import annotations

import numpy as np

#: Gram matrices are formed in chunks of at most this many float64 numbers (32 MiB).
CHUNK_FLOATS = 1 << 22
#: The conjugate-gradient solver works on groups of at most this many float64 numbers
#: (2 MiB), so that a group's block stays in a core's cache across all its passes.
CACHE_FLOATS = 1 << 18
#: At most this many rows per batched group.
GROUP_ROWS = 256
#: Jacobi preconditioner guard for rows without observations.
JITTER = 1e-300


class RowSystems:
    """The systems for one side: ``index[e]`` is the row solved for, ``other[e]`` the factor
    row it is paired with, ``values[e]`` the observed entry.

    Parameters
    ----------
    index, other_index : integer arrays of length |Ω|
    values : float array of length |Ω|
    n : int
        Number of rows to solve for.
    """

    def __init__(self, index, other_index, values, n):
        self.order = np.argsort(index, kind="stable")
        counts = np.bincount(index, minlength=n)
        self.n = n
        self.counts = counts
        self.nonempty = counts > 0
        self.other_index = other_index[self.order]
        self.set_values(values)

    def set_values(self, values):
        """New observed values, in the order of the entries given to the constructor (the
        pairing, and so the cached blocks, stay)."""
        self.values = np.append(np.asarray(values, dtype=np.float64)[self.order], 0.0)

    def solve_exact(self, other, ridge):
        """Exact batched solves; O(|Ω| k²) for the Gram matrices plus O(n k³).

        Rows are taken in groups of similar observation count, each group's entries padded
        to a ``(rows, count, k)`` block, so the Gram matrices ``Pᵀ P`` and right-hand sides
        ``Pᵀ v`` are batched matrix products (BLAS) rather than per-entry outer products.
        ``ridge`` is a scalar, one value per row (shape ``(n,)``) or one per row and
        coordinate (shape ``(n, k)``), added to the Gram matrices' diagonals.
        """
        grams, rhs = self._normal_equations(other)
        k = other.shape[1]
        diag = np.arange(k)
        ridge = np.asarray(ridge, dtype=np.float64)
        grams[:, diag, diag] += ridge[:, None] if ridge.ndim == 1 else ridge
        try:
            return np.linalg.solve(grams, rhs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            # A row with fewer than k informative observations: minimum-norm solutions.
            return (np.linalg.pinv(grams, hermitian=True) @ rhs[:, :, None])[:, :, 0]

    def solve_weighted(self, other, weights, shared):
        """Each row's ``(S + Σ_e w_e g_e g_eᵀ) x = Σ_e v_e g_e`` over its entries ``e``
        (``v``: the values, ``w``: ``weights`` in the constructor's entry order, ``S``: the
        ``k × k`` matrix ``shared`` by every row); the Gram sums are batched products as in
        :meth:`solve_exact`. Implicit-feedback ALS solves these (``S = YᵀY + λI``)."""
        grams, rhs = self._normal_equations(other, weights)
        grams += shared
        return np.linalg.solve(grams, rhs[:, :, None])[:, :, 0]

    def _normal_equations(self, other, weights=None):
        """Every row's Gram matrix ``Σ_e w_e g_e g_eᵀ`` (``w = 1`` without ``weights``, given
        in the constructor's entry order) and right-hand side ``Σ_e v_e g_e``, as batched
        products over padded blocks of rows with similar counts."""
        k = other.shape[1]
        padded = np.vstack([other, np.zeros((1, k))])  # row len(other): padding
        if weights is not None:
            weights = np.append(np.asarray(weights, dtype=np.float64)[self.order], 0.0)
        grams = np.zeros((self.n, k, k))
        rhs = np.zeros((self.n, k))
        for rows, partners, index in self._blocks(len(other), k, CHUNK_FLOATS):
            block = padded[partners]
            blockT = block.transpose(0, 2, 1)
            weighted = block if weights is None else block * weights[index][:, :, None]
            grams[rows] = blockT @ weighted
            rhs[rows] = (blockT @ self.values[index][:, :, None])[:, :, 0]
        return grams, rhs

    def _blocks(self, n_other, k, chunk):
        """Groups of rows with similar counts: ``(rows, partners, index)`` with the partner
        factor rows and the positions of the observed values (in ``self.values``) padded to
        the group's largest count, each group at most ``chunk`` numbers (cached).

        Padding points at partner row ``n_other``, a zero row appended by the caller, and at
        the final 0 of ``self.values``.
        """
        key = (n_other, k, chunk)
        if getattr(self, "_cached_blocks", (None,))[0] == key:
            return self._cached_blocks[1]
        first = np.cumsum(self.counts) - self.counts
        by_count = np.flatnonzero(self.nonempty)[np.argsort(self.counts[self.nonempty],
                                                            kind="stable")]
        partners = np.append(self.other_index, n_other)
        sorted_counts = self.counts[by_count]
        blocks, lo, total = [], 0, len(self.other_index)
        while lo < len(by_count):
            # Similar counts only (padding waste ≤ 25 % + 8 entries), bounded memory.
            limit = max(1.25 * sorted_counts[lo], sorted_counts[lo] + 8)
            similar = int(np.searchsorted(sorted_counts, limit, side="right"))
            budget = max(1, chunk // (int(sorted_counts[similar - 1]) * k))
            hi = min(similar, lo + budget, lo + GROUP_ROWS)
            rows = by_count[lo:hi]
            width = int(self.counts[rows[-1]])
            offsets = np.arange(width)
            index = first[rows][:, None] + offsets
            index[offsets >= self.counts[rows][:, None]] = total
            blocks.append((rows, partners[index], index))
            lo = hi
        self._cached_blocks = (key, blocks)
        return blocks

    def solve_cg(self, other, ridge, start, steps):
        """``steps`` Jacobi-preconditioned CG iterations on every row system, from ``start``.

        Each step costs O(|Ω| k): ``H p = Pᵀ (P p) + λ p`` with the padded blocks ``P`` of
        :meth:`_blocks`, two batched matrix-vector products. The row systems are
        independent, so all steps run on one group of rows before the next group is
        gathered: the group's block (at most ``CACHE_FLOATS`` numbers) is read from memory
        once and stays in cache for the ``2 steps + 3`` passes over it, which is what makes
        the O(|Ω| k) solve cheaper in wall-clock time than the O(|Ω| k²) Gram matrices.
        ``ridge`` is a scalar.
        """
        k = other.shape[1]
        padded = np.vstack([other, np.zeros((1, k))])
        X = np.array(start, dtype=np.float64)
        for rows, partners, index in self._blocks(len(other), k, CACHE_FLOATS):
            X[rows] = _group_cg(padded[partners], self.values[index], ridge, X[rows], steps)
        return X


def _group_cg(block, values, ridge, x, steps):
    """Preconditioned CG on the systems ``(Bᵣᵀ Bᵣ + λ I) x_r = Bᵣᵀ v_r`` of one group,
    ``block`` of shape ``(rows, count, k)``; Jacobi preconditioner ``diag(Bᵣᵀ Bᵣ) + λ``."""
    blockT = block.transpose(0, 2, 1)

    def gram_times(p):
        inner = block @ p[:, :, None]
        return (blockT @ inner)[:, :, 0] + ridge * p

    precond = 1.0 / (np.einsum("rck,rck->rk", block, block) + ridge + JITTER)
    residual = (blockT @ (values[:, :, None] - block @ x[:, :, None]))[:, :, 0] - ridge * x
    z = precond * residual
    direction = z.copy()
    rz = np.sum(residual * z, axis=1)
    for step in range(steps):
        hp = gram_times(direction)
        curvature = np.sum(direction * hp, axis=1)
        alpha = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
        x += alpha[:, None] * direction
        if step == steps - 1:
            break
        residual -= alpha[:, None] * hp
        z = precond * residual
        rz_new = np.sum(residual * z, axis=1)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        direction = z + beta[:, None] * direction
        rz = rz_new
    return x
