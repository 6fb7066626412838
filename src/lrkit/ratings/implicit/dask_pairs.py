"""Implicit feedback that need not fit in memory: :class:`~lrkit.ratings.ImplicitALS` on a
Dask DataFrame of ``(user, item[, strength])`` rows.

The pairs are grouped once into two copies, by user and by item, so that every user (item)
has all its pairs in one group (:func:`.dask_grouping.grouped`, the explicit model's
grouping: on disk with the local scheduler, a shuffle on a ``distributed`` cluster). A
half-sweep is one task per group with no reduction: the task builds its rows' confidences,
receives the other side's factors and their Gram matrix ``YᵀY`` (computed once by the
driver: ``n × rank``, the one thing every row shares) and solves its rows with the
in-memory model's own :class:`~lrkit.ratings.implicit.Side`, so the two paths cannot drift
apart. The item half-sweep's tasks also return their pairs' share of the objective, which
is all the stopping rule needs besides the factors. The driver keeps the factors and, for
``recommend(exclude_seen=True)``, the pattern of the pairs (a CSR matrix: 4 bytes a pair).
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from lrkit.ratings.dask_fit import triplet_frame
from lrkit.ratings.dask_grouping import grouped
from lrkit.ratings.implicit.side import Side


class DaskPairs:
    """The pairs of a Dask DataFrame, validated in one pass before any work."""

    def __init__(self, X, shape=None, workdir=None):
        if len(X.columns) == 2:
            X = X.assign(value=1.0)
        self.frame, summary = triplet_frame(X)
        self.ids = (summary.row_ids, summary.col_ids)
        if summary.lowest < 0:
            raise ValueError("strengths must be finite and non-negative (counts, ratings)")
        self.shape = summary.shape if shape is None else tuple(int(n) for n in shape)
        if self.shape[0] < summary.shape[0] or self.shape[1] < summary.shape[1]:
            raise ValueError(f"shape={self.shape} is smaller than the indices reach")
        self.workdir = workdir
        self.seen = None

    @contextmanager
    def sides(self, alpha):
        """``sweep(X, Y, ridge, steps) -> (X, Y, observed share of the objective)``, one
        Dask task per group; the groups' files are removed on exit."""
        directory = tempfile.mkdtemp(prefix="lrkit-implicit-", dir=self.workdir)
        try:
            by_user, by_item = (grouped(self.frame, side, f"{directory}/{side}")
                                for side in ("row", "col"))
            self.seen = _pattern(by_user, self.shape)

            def sweep(X, Y, ridge, steps):
                X, _ = _half_sweep(by_user, "row", "col", self.shape[1], alpha, Y, X, ridge,
                                   steps, score=False)
                Y, observed = _half_sweep(by_item, "col", "row", self.shape[0], alpha, X, Y,
                                          ridge, steps, score=True)
                return X, Y, observed

            yield sweep
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _half_sweep(groups, own, other, n_other, alpha, fixed, current, ridge, steps, score):
    """New factors of the ``own`` side for every group, and with ``score`` the pairs' share
    of the objective. Rows without pairs (beyond the data, or strengths all 0) are in no
    group: their system ``(YᵀY + λI) x = 0`` is solved here, as the in-memory fit does."""
    import dask

    gram = fixed.T @ fixed
    shared = dask.delayed((fixed, gram, current), pure=True)
    tasks = [dask.delayed(_solve_group)(part, own, other, n_other, alpha, shared, ridge,
                                        steps, score) for part in groups]
    updated, observed = current.copy(), 0.0
    solved = np.zeros(len(current), dtype=bool)
    for ids, rows, part_observed in dask.compute(*tasks):
        updated[ids], solved[ids] = rows, True
        observed += part_observed
    if not solved.all():
        alone = Side(sp.csr_matrix((int(np.sum(~solved)), n_other)), alpha)
        updated[~solved] = alone.update(fixed, ridge, current[~solved], steps, shared=gram)
    return updated, observed


def _solve_group(part, own, other, n_other, alpha, shared, ridge, steps, score):
    """One group's rows: ``(ids, new factor rows, their pairs' share of the objective)``."""
    fixed, gram, current = shared
    R, ids = _group_matrix(part, own, other, n_other)
    if not ids.size:
        return ids, current[:0], 0.0
    side = Side(R, alpha)
    rows = side.update(fixed, ridge, current[ids], steps, shared=gram)
    return ids, rows, side.observed(rows, fixed) if score else 0.0


def _group_matrix(part, own, other, n_other):
    """The group's strengths as a CSR matrix over its own ids (duplicates added, zeros
    dropped), and those ids."""
    own_index, other_index = part[own].to_numpy(), part[other].to_numpy()
    values = part["value"].to_numpy()
    keep = values > 0
    ids, local = np.unique(own_index[keep], return_inverse=True)
    R = sp.csr_matrix((values[keep], (local, other_index[keep])), shape=(ids.size, n_other))
    R.sum_duplicates()
    return R, ids


def _pattern(by_user, shape):
    """Which items every user has (CSR, users by items), read from the user groups."""
    import dask

    parts = dask.compute(*[dask.delayed(_group_matrix)(part, "row", "col", shape[1])
                           for part in by_user])
    rows = np.concatenate([ids.repeat(np.diff(R.indptr)) for R, ids in parts])
    cols = np.concatenate([R.indices for R, _ in parts])
    return sp.csr_matrix((np.ones(rows.size, dtype=bool), (rows, cols)), shape=shape)
