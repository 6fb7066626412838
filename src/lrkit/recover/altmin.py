"""Alternating minimisation (alternating least squares) for matrix completion."""

from __future__ import annotations

import math

import numpy as np

from lrkit._backend import like, to_numpy
from lrkit.recover._row_systems import RowSystems

ALTMIN_SOLVERS = ("exact", "approx")
#: Conjugate-gradient steps per half-iteration of ``solver="approx"``.
CG_STEPS = 4


def altmin_update(operator, y, ridge=0.0, solver="exact", cg_steps=CG_STEPS):
    """One alternating-minimisation iteration as an update for the shared loop.

    ``F ← argmin_F ||P_Ω(F Gᵀ) − y||² + λ||F||²`` (rows solved independently), then the same
    for ``G`` with the new ``F`` (Jain, Netrapalli & Sanghavi 2013). ``solver="exact"``
    solves the k×k normal equations of every row (O(|Ω| k²) per iteration);
    ``solver="approx"`` replaces them by ``cg_steps`` preconditioned conjugate-gradient
    steps warm-started from the current factor, O(|Ω| k) per iteration: paper 6 (Gu, Song,
    Yin & Zhang 2023) shows that alternating minimisation tolerates such approximate
    solves and keeps its linear rate.
    """
    values = to_numpy(y).astype(np.float64)
    n1, n2 = operator.shape
    by_row = RowSystems(operator.rows, operator.cols, values, n1)
    by_col = RowSystems(operator.cols, operator.rows, values, n2)

    def solve(systems, other, current):
        if solver == "exact":
            return systems.solve_exact(other, ridge)
        return systems.solve_cg(other, ridge, current, cg_steps)

    def update(t, F, G, residual):
        F_np, G_np = to_numpy(F), to_numpy(G)
        F_np = solve(by_row, G_np, F_np)
        G_np = solve(by_col, F_np, G_np)
        return like(F_np, y), like(G_np, y), math.nan

    return update
