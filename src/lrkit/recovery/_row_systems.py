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
        k = other.shape[1]
        padded = np.vstack([other, np.zeros((1, k))])  # row len(other): padding
        grams = np.zeros((self.n, k, k))
        rhs = np.zeros((self.n, k))
        for rows, partners, index in self._blocks(len(other), k):
            block = padded[partners]
            blockT = block.transpose(0, 2, 1)
            grams[rows] = blockT @ block
            rhs[rows] = (blockT @ self.values[index][:, :, None])[:, :, 0]
        diag = np.arange(k)
        ridge = np.asarray(ridge, dtype=np.float64)
        grams[:, diag, diag] += ridge[:, None] if ridge.ndim == 1 else ridge
        try:
            return np.linalg.solve(grams, rhs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            # A row with fewer than k informative observations: minimum-norm solutions.
            return (np.linalg.pinv(grams, hermitian=True) @ rhs[:, :, None])[:, :, 0]

    def _blocks(self, n_other, k):
        """Groups of rows with similar counts: ``(rows, partners, index)`` with the partner
        factor rows and the positions of the observed values (in ``self.values``) padded to
        the group's largest count (cached).

        Padding points at partner row ``n_other``, a zero row appended by the caller, and at
        the final 0 of ``self.values``.
        """
        if getattr(self, "_cached_blocks", (None,))[0] == (n_other, k):
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
            budget = max(1, CHUNK_FLOATS // (int(sorted_counts[similar - 1]) * k))
            hi = min(similar, lo + budget, lo + GROUP_ROWS)
            rows = by_count[lo:hi]
            width = int(self.counts[rows[-1]])
            offsets = np.arange(width)
            index = first[rows][:, None] + offsets
            index[offsets >= self.counts[rows][:, None]] = total
            blocks.append((rows, partners[index], index))
            lo = hi
        self._cached_blocks = ((n_other, k), blocks)
        return blocks

    def solve_cg(self, other, ridge, start, steps):
        """``steps`` Jacobi-preconditioned CG iterations on every row system, from ``start``.

        Each iteration costs O(|Ω| k): ``H p = Pᵀ (P p) + λ p`` with the padded blocks ``P``
        of :meth:`_blocks`, two batched matrix-vector products per group of rows.
        """
        k = other.shape[1]
        padded = np.vstack([other, np.zeros((1, k))])
        groups = [(rows, padded[partners], self.values[index])
                  for rows, partners, index in self._blocks(len(other), k)]

        def apply(P):
            out = ridge * P
            for rows, block, _ in groups:
                inner = block @ P[rows][:, :, None]
                out[rows] += (block.transpose(0, 2, 1) @ inner)[:, :, 0]
            return out

        diagonal = np.full((self.n, k), ridge + JITTER)
        rhs = np.zeros((self.n, k))
        for rows, block, values in groups:
            diagonal[rows] += np.sum(block**2, axis=1)
            rhs[rows] = (block.transpose(0, 2, 1) @ values[:, :, None])[:, :, 0]
        precond = 1.0 / diagonal
        X = start.copy()
        R = rhs - apply(X)
        Z = precond * R
        P = Z.copy()
        rz = np.sum(R * Z, axis=1)
        for _ in range(steps):
            HP = apply(P)
            curvature = np.sum(P * HP, axis=1)
            alpha = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
            X += alpha[:, None] * P
            R -= alpha[:, None] * HP
            Z = precond * R
            rz_new = np.sum(R * Z, axis=1)
            beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
            P = Z + beta[:, None] * P
            rz = rz_new
        return X
