"""The per-row least-squares systems of alternating minimisation, solved in batches.

With ``G`` fixed, each row ``f_i`` of ``F`` solves the small ridge problem

    min_f  Σ_{j ∈ Ω_i} (y_ij − <f, g_j>)² + λ ||f||²,
    i.e.   (Σ_{j ∈ Ω_i} g_j g_jᵀ + λ I) f_i = Σ_{j ∈ Ω_i} y_ij g_j.

All rows are handled at once: the observed entries are sorted by row once, and every
per-row sum is a segment sum over the sorted entries (``numpy.add.reduceat``), so no Python
loop runs over rows. Exact solves form the n×k×k Gram matrices (O(|Ω| k²)); the approximate
solver of paper 6 (Gu, Song, Yin & Zhang, "Low rank matrix completion via robust alternating
minimization in nearly linear time") runs a few Jacobi-preconditioned conjugate-gradient
steps warm-started from the previous iterate, O(|Ω| k) per step.
"""

from __future__ import annotations

import numpy as np

#: Gram matrices are formed in chunks of at most this many float64 numbers (32 MiB).
CHUNK_FLOATS = 1 << 22
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
        order = np.argsort(index, kind="stable")
        counts = np.bincount(index, minlength=n)
        self.n = n
        self.counts = counts
        self.nonempty = counts > 0
        self.starts = (np.cumsum(counts) - counts)[self.nonempty]
        self.other_index = other_index[order]
        self.values = values[order]

    def segment_sum(self, per_entry):
        """Per-row sums of an array over the sorted entries (rows with no entry get 0)."""
        out = np.zeros((self.n, *per_entry.shape[1:]))
        out[self.nonempty] = np.add.reduceat(per_entry, self.starts, axis=0)
        return out

    def solve_exact(self, other, ridge):
        """Exact batched solves; O(|Ω| k²) for the Gram matrices plus O(n k³).

        Rows are taken in groups of similar observation count, each group's entries padded
        to a ``(rows, count, k)`` block, so the Gram matrices ``Pᵀ P`` and right-hand sides
        ``Pᵀ v`` are batched matrix products (BLAS) rather than per-entry outer products.
        """
        k = other.shape[1]
        padded = np.vstack([other[self.other_index], np.zeros((1, k))])
        values = np.append(self.values, 0.0)
        grams = np.zeros((self.n, k, k))
        rhs = np.zeros((self.n, k))
        for rows, index in self._blocks(k):
            block = padded[index]
            blockT = block.transpose(0, 2, 1)
            grams[rows] = blockT @ block
            rhs[rows] = (blockT @ values[index][:, :, None])[:, :, 0]
        diag = np.arange(k)
        grams[:, diag, diag] += ridge
        try:
            return np.linalg.solve(grams, rhs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            # A row with fewer than k informative observations: minimum-norm solutions.
            return (np.linalg.pinv(grams, hermitian=True) @ rhs[:, :, None])[:, :, 0]

    def _blocks(self, k):
        """Groups of rows with similar counts and their padded entry indices (cached per k).

        Padding points at index |Ω|, a zero row appended by the caller.
        """
        if getattr(self, "_cached_blocks", (None,))[0] == k:
            return self._cached_blocks[1]
        first = np.cumsum(self.counts) - self.counts
        by_count = np.flatnonzero(self.nonempty)[np.argsort(self.counts[self.nonempty],
                                                            kind="stable")]
        blocks, lo, total = [], 0, len(self.values)
        while lo < len(by_count):
            width = int(self.counts[by_count[min(lo + 255, len(by_count) - 1)]])
            hi = min(len(by_count), lo + max(1, CHUNK_FLOATS // (width * k)), lo + 256)
            rows = by_count[lo:hi]
            width = int(self.counts[rows[-1]])
            offsets = np.arange(width)
            index = first[rows][:, None] + offsets
            index[offsets >= self.counts[rows][:, None]] = total
            blocks.append((rows, index))
            lo = hi
        self._cached_blocks = (k, blocks)
        return blocks

    def solve_cg(self, other, ridge, start, steps):
        """``steps`` Jacobi-preconditioned CG iterations on every row system, from ``start``.

        Each iteration costs O(|Ω| k): ``H p`` is a segment sum of ``<g_e, p_i> g_e``.
        """
        paired = other[self.other_index]
        rows = np.repeat(np.arange(self.n), self.counts)

        def apply(P):
            inner = np.einsum("ek,ek->e", paired, P[rows])
            return self.segment_sum(inner[:, None] * paired) + ridge * P

        precond = 1.0 / (self.segment_sum(paired**2) + ridge + JITTER)
        X = start.copy()
        R = self.segment_sum(self.values[:, None] * paired) - apply(X)
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
