"""Alternating minimisation (alternating least squares) for matrix completion."""

from __future__ import annotations

import math

import numpy as np

from lrkit.recovery._factored_run import least_squares_loss
from lrkit.recovery._init import spectral_init
from lrkit.recovery._loop import iterate
from lrkit.recovery._row_systems import RowSystems
from lrkit.recovery.registry import Option, Solver, choice, integer, real, register

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
    values = np.asarray(y, dtype=np.float64)
    n1, n2 = operator.shape
    by_row = RowSystems(operator.rows, operator.cols, values, n1)
    by_col = RowSystems(operator.cols, operator.rows, values, n2)

    def solve(systems, other, current):
        if solver == "exact":
            return systems.solve_exact(other, ridge)
        return systems.solve_cg(other, ridge, current, cg_steps)

    def update(t, F, G, residual):
        F = solve(by_row, G, F)
        G = solve(by_col, F, G)
        return F, G, math.nan

    return update


def _solve(run, operator, y, rank, options, rng):
    factors = spectral_init(operator, y, rank, False, seed=rng)
    update = altmin_update(operator, y, options["ridge"], options["solver"], options["cg_steps"])
    return iterate(run, (operator, y), factors, update, least_squares_loss, tol=options["tol"])


register(Solver(
    "altmin", _solve,
    {"ridge": Option(0.0, real(0.0), "ridge penalty λ||F||² + λ||G||² of the row solves"),
     "solver": Option("exact", choice(*ALTMIN_SOLVERS),
                      "exact k×k row solves, or cg_steps warm-started CG steps (paper 6)"),
     "cg_steps": Option(CG_STEPS, integer(1), "CG steps per half-iteration of 'approx'")},
    needs=frozenset({"entries"}), array_api=False,
    summary="alternating least squares from a spectral init (Jain et al. 2013; paper 6)"))
