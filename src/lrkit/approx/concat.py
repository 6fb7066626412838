"""Concatenated matrices ``M = [B_1 | … | B_k]``: error bounds and error-constrained grouping.

From Shamrai (2026), "Concatenated matrix SVD: compression bounds, incremental
approximation, and error-constrained clustering". The optimal rank-r relative error is

    ε_r(M) = √(1 − E_r(M) / ||M||_F²),   E_r(M) = Σ_{i ≤ r} σ_i(M)²,   ||M||_F² = Σ ||B_i||_F²,

so any lower bound on the captured energy ``E_r`` gives an upper bound on ``ε_r``.
"""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import check_choice, check_finite_array, check_int, check_real
from lrkit.approx.incremental import IncrementalSVD

BOUNDS = ("norm", "residual", "estimate")
CLUSTER_METHODS = {"maxnorm": "norm", "residual": "residual", "estimate": "estimate"}
#: Extra dimensions kept by the incremental estimator beyond the rank.
ESTIMATE_OVERSAMPLE = 10
#: Residual singular values below this fraction of the largest block norm are ignored.
RESIDUAL_TOL = 1e-12


def _check_blocks(blocks):
    blocks = [np.asarray(b, dtype=np.float64) for b in blocks]
    if not blocks:
        raise ValueError("blocks is empty: give at least one matrix")
    for i, block in enumerate(blocks):
        check_finite_array(f"blocks[{i}]", block, ndim=2)
        if block.size == 0:
            raise ValueError(f"blocks[{i}] is empty (shape {block.shape})")
        if block.shape[0] != blocks[0].shape[0]:
            raise ValueError(f"blocks[{i}] has {block.shape[0]} rows; blocks[0] has "
                             f"{blocks[0].shape[0]}: horizontal concatenation needs equal heights")
    return blocks


class _EnergyBound:
    """A lower bound on ``E_r`` of the blocks added so far, updated one block at a time."""

    def __init__(self, kind, rank, height):
        self.kind, self.rank, self.total = kind, rank, 0.0
        self.norms, self.widths = [], []
        self.basis = np.zeros((height, 0))
        self.values = np.zeros(0)
        self.tracker = IncrementalSVD(rank + ESTIMATE_OVERSAMPLE, track_right=False)

    def add(self, block):
        norm2 = float(np.sum(block**2))
        self.total += norm2
        self.norms.append(norm2)
        self.widths.append(block.shape[1])
        if self.kind == "residual":
            residual = block - self.basis @ (self.basis.T @ block)
            U, s, _ = np.linalg.svd(residual, full_matrices=False)
            keep = s > RESIDUAL_TOL * math.sqrt(max(self.norms))
            self.basis = np.hstack([self.basis, U[:, keep]])
            self.values = np.concatenate([self.values, s[keep]])
        elif self.kind == "estimate":
            self.tracker.update(block)
        return self

    def copy(self):
        twin = _EnergyBound.__new__(_EnergyBound)
        twin.__dict__.update(self.__dict__)
        twin.norms, twin.widths = list(self.norms), list(self.widths)
        twin.tracker = self.tracker.copy()
        return twin

    def norm_energy(self):
        """Blocks with at most r columns in total, largest norms first (Weyl monotonicity)."""
        captured, used = 0.0, 0
        for i in np.argsort(self.norms)[::-1]:
            if used + self.widths[i] <= self.rank:
                captured += self.norms[i]
                used += self.widths[i]
        return captured

    def energy(self):
        if self.kind == "norm":
            return self.norm_energy()
        values = self.values if self.kind == "residual" else self.tracker.s
        top = float(np.sum(np.sort(values)[::-1][:self.rank] ** 2))
        # Both are lower bounds on E_r; the residual one drops the energy of later blocks
        # inside the earlier span, so the norm bound can be the larger of the two.
        return max(top, self.norm_energy()) if self.kind == "residual" else top

    def error(self):
        if self.total == 0:
            return 0.0
        return math.sqrt(max(0.0, 1.0 - self.energy() / self.total))


def concat_error_bound(blocks, rank, bound="residual") -> float:
    """Upper bound on the optimal rank-``rank`` relative error of ``[B_1 | … | B_k]``.

    Parameters
    ----------
    blocks : sequence of arrays with equal numbers of rows
    rank : int
    bound : {"norm", "residual", "estimate"}
        ``"norm"`` (Bound 1, Weyl-type monotonicity): appending columns never lowers a
        singular value, so blocks totalling at most ``rank`` columns give
        ``E_r ≥ Σ_{i∈S} ||B_i||_F²``; needs Frobenius norms only. ``"residual"`` (Bound 2):
        orthogonalise each block against the span of the earlier ones,
        ``R_j = (I − Q Qᵀ) B_j``; the ``rank`` largest of all ``σ(R_j)`` give a lower bound
        on ``E_r`` (block-triangular form of M); the larger of this and the norm bound's
        energy is used, since both are valid. ``"estimate"``: the incremental truncated
        SVD (rank + 10) never forms M; its tracked Gram matrix is dominated by ``M Mᵀ``, so in
        exact arithmetic it is an upper bound too, usually the tightest.

    Returns
    -------
    float in [0, 1]
    """
    check_choice("bound", bound, BOUNDS)
    blocks = _check_blocks(blocks)
    rank = check_int("rank", rank, 1)
    state = _EnergyBound(bound, rank, blocks[0].shape[0])
    # Column order does not change σ(M); largest blocks first keeps their energy in the
    # residual bound instead of leaving it to residuals of an already filled span.
    for block in sorted(blocks, key=lambda b: -float(np.sum(b**2))):
        state.add(block)
    return state.error()


def concat_error(blocks, rank) -> float:
    """The exact optimal rank-``rank`` relative error of the concatenation (forms M)."""
    M = np.hstack(_check_blocks(blocks))
    rank = check_int("rank", rank, 1)  # at or above min(M.shape) the error is 0
    s = np.linalg.svd(M, compute_uv=False)
    total = math.sqrt(np.sum(s**2))
    return float(math.sqrt(np.sum(s[rank:] ** 2)) / total) if total else 0.0


def cluster_for_compression(blocks, rank, max_error, method="residual", patience=None):
    """Group blocks so that each group's concatenation has rank-``rank`` error ≤ ``max_error``.

    The greedy loop of Shamrai (2026): sort blocks by Frobenius norm; seed a group with the
    largest remaining blocks that fit in ``rank`` columns (at least one block); then try the
    *smallest* remaining blocks, adding each while the group's bound stays ≤ ``max_error``
    and stopping at the first that would break it; remove the group and repeat. After
    ``patience`` consecutive single-block groups the remaining blocks are returned as
    singletons.

    Parameters
    ----------
    blocks : sequence of arrays with equal numbers of rows
    rank : int
    max_error : float in (0, 1]
    method : {"maxnorm", "residual", "estimate"}
        Bound used: :func:`concat_error_bound` ``"norm"`` (fastest, most conservative),
        ``"residual"`` (provable, tighter) or ``"estimate"`` (incremental SVD, for large
        collections).
    patience : int, optional

    Returns
    -------
    list of lists of block indices
        Every multi-block group satisfies the bound, hence the error constraint on its
        actual joint SVD. A single block whose own rank-``rank`` error exceeds ``max_error``
        still forms its own group (nothing can compress it better).
    """
    check_choice("method", method, tuple(CLUSTER_METHODS))
    blocks = _check_blocks(blocks)
    rank = check_int("rank", rank, 1)
    max_error = check_real("max_error", max_error, 0.0, 1.0, low_open=True)
    if patience is not None:
        patience = check_int("patience", patience, 1)
    kind = CLUSTER_METHODS[method]
    norms = [float(np.sum(b**2)) for b in blocks]
    remaining = sorted(range(len(blocks)), key=lambda i: -norms[i])
    groups, singles = [], 0
    while remaining:
        if patience is not None and singles >= patience:
            groups.extend([i] for i in remaining)
            break
        group, width = [], 0
        while remaining and (not group or width + blocks[remaining[0]].shape[1] <= rank):
            width += blocks[remaining[0]].shape[1]
            group.append(remaining.pop(0))
        state = _EnergyBound(kind, rank, blocks[0].shape[0])
        for i in group:
            state.add(blocks[i])
        while remaining:
            trial = state.copy().add(blocks[remaining[-1]])
            if trial.error() > max_error:
                break
            state = trial
            group.append(remaining.pop())
        groups.append(group)
        singles = singles + 1 if len(group) == 1 else 0
    return groups
