"""Alternating minimisation (alternating least squares) for matrix completion."""

from __future__ import annotations

import math

import numpy as np

from lrkit.recovery._factored_run import least_squares_loss
from lrkit.recovery._init import spectral_init
from lrkit.recovery._loop import descend
from lrkit.recovery._row_systems import RowSystems
from lrkit.recovery.harness import GOOD_STATUSES
from lrkit.recovery.registry import Option, Solver, choice, integer, real, register
from lrkit.result import Status

ALTMIN_SOLVERS = ("auto", "exact", "approx")
#: Conjugate-gradient steps per half-iteration of ``solver="approx"``.
CG_STEPS = 2
#: ``solver="auto"`` runs the approximate solves from this rank on and exact ones below:
#: ``make bench`` ("time per iteration as k grows", 4000 × 4000) measured 2 CG steps 19 %
#: slower than exact at k = 10 and 7–10 % faster from k = 20 to 40, 25 % at 70.
AUTO_CG_RANK = 20


#: How often (in iterations) ``drop_coherent`` looks for components to drop.
COHERENCE_CHECK = 10


def altmin_update(operator, y, ridge=0.0, solver="auto", cg_steps=CG_STEPS,
                  drop_coherent=True, dropped=None):
    """One alternating-minimisation iteration as an update for the shared loop.

    ``F ← argmin_F ||P_Ω(F Gᵀ) − y||² + λ||F||²`` (rows solved independently), then the same
    for ``G`` with the new ``F`` (Jain, Netrapalli & Sanghavi 2013). ``solver="auto"`` (the
    default) is ``"exact"`` below rank ``AUTO_CG_RANK`` and ``"approx"`` from it;
    ``solver="exact"``
    solves the k×k normal equations of every row (O(|Ω| k²) per iteration);
    ``solver="approx"`` replaces them by ``cg_steps`` preconditioned conjugate-gradient
    steps warm-started from the current factor, O(|Ω| k) per iteration: paper 6 (Gu, Song,
    Yin & Zhang 2023) shows that alternating minimisation tolerates such approximate
    solves and keeps its linear rate.

    With ``drop_coherent``, every ``COHERENCE_CHECK`` iterations the components of
    ``F Gᵀ`` that :func:`coherent_components` flags are removed (their count is added to
    ``dropped[0]``): with a rank above the data's, plain alternating least squares fills
    the spare columns with such components and drifts away from the truth (factors can
    grow without bound); without them it converges to the truth at the lower rank.
    """
    dropped = [0, np.inf] if dropped is None else dropped
    values = np.asarray(y, dtype=np.float64)
    n1, n2 = operator.shape
    by_row = RowSystems(operator.rows, operator.cols, values, n1)
    by_col = RowSystems(operator.cols, operator.rows, values, n2)

    def solve(systems, other, current):
        exact = solver == "exact" or (solver == "auto" and other.shape[1] < AUTO_CG_RANK)
        if exact:
            return systems.solve_exact(other, ridge)
        return systems.solve_cg(other, ridge, current, cg_steps)

    def update(t, F, G, residual):
        if drop_coherent and t % COHERENCE_CHECK == COHERENCE_CHECK - 1 and F.shape[1] > 1:
            kept = drop_coherent_components(F, G, dropped,
                                            lambda: least_squares_loss(residual))
            if kept is not None:
                F, G = kept
        F = solve(by_row, G, F)
        G = solve(by_col, F, G)
        return F, G, math.nan

    return update


#: A component of the estimate with more than this share of its left or right singular
#: vector on one row or column is coherent: the observed entries cannot pin it down.
COHERENCE_LIMIT = 0.5


def coherent_components(F, G):
    """Split ``F Gᵀ`` into its SVD components and flag the coherent ones.

    Completion identifies a low-rank matrix only when its singular vectors are spread over
    many rows and columns (incoherence, Candès & Recht 2009); with a rank above the data's,
    alternating least squares fills the spare columns with components concentrated on the
    unobserved entries of single rows or columns (a max squared entry of ``u`` or ``v``
    near 1, against ``≈ r log n / n`` for the truth's), or with numerically zero ones.
    Returns ``(U √σ, V √σ, flagged)``.
    """
    Qf, Rf = np.linalg.qr(F)
    Qg, Rg = np.linalg.qr(G)
    U, s, Vt = np.linalg.svd(Rf @ Rg.T)
    U, V = Qf @ U, Qg @ Vt.T
    coherent = np.maximum((U**2).max(axis=0), (V**2).max(axis=0)) > COHERENCE_LIMIT
    largest = s[~coherent].max() if not coherent.all() else s[0]
    tiny = s <= np.finfo(float).eps * largest * max(F.shape[0], G.shape[0])
    root = np.sqrt(s)
    return U * root, V * root, tiny | coherent


def drop_coherent_components(F, G, dropped, current_loss):
    """``F Gᵀ`` without its :func:`coherent_components`, as factors, or None when none is
    flagged (or all are). ``dropped = [count, loss before the first drop]`` is updated;
    ``current_loss()`` gives that loss."""
    U, V, flagged = coherent_components(F, G)
    if not flagged.any() or flagged.all():
        return None
    if not dropped[0]:
        dropped[1] = current_loss()
    dropped[0] += int(flagged.sum())
    return U[:, ~flagged], V[:, ~flagged]


def _check_determined(run, operator, k):
    """Without a ridge, rank ``k`` needs at least ``k(n1 + n2 − k)`` observations and ``k``
    in every observed row and column; otherwise the observed entries do not determine the
    answer (status ILL_POSED, with a warning)."""
    n1, n2 = operator.shape
    row_counts = np.bincount(operator.rows, minlength=n1)
    col_counts = np.bincount(operator.cols, minlength=n2)
    # Rows or columns never observed are left at zero (MatrixCompletion fills them itself).
    thin_rows = int(np.count_nonzero((row_counts > 0) & (row_counts < k)))
    thin_cols = int(np.count_nonzero((col_counts > 0) & (col_counts < k)))
    if k * (n1 + n2 - k) > operator.m:
        run.overrule(Status.ILL_POSED, f"under-determined: rank {k} has {k * (n1 + n2 - k)} "
                     f"degrees of freedom and only {operator.m} entries are observed; lower "
                     "the rank or set ridge > 0")
    elif thin_rows or thin_cols:
        run.overrule(Status.ILL_POSED, f"{thin_rows} row(s) and {thin_cols} column(s) have "
                     f"fewer than {k} observed entries, which rank {k} does not determine; "
                     "set ridge > 0 or lower the rank")


#: Dropping is undone when the fit it leads to is this many times worse than before it.
WORSE_FIT = 10.0


def _solve(run, operator, y, rank, options, rng):
    """Alternating least squares from the spectral initialisation; with ``drop_coherent``
    the components the observed entries cannot determine are dropped as they appear, and
    once more at convergence, so an over-parameterised call still finds the truth. When
    the lower rank then fits the data ``WORSE_FIT`` times worse than the full rank did (the
    dropped components carried signal: too few entries for the rank), plain alternating
    least squares is run again from the same start, without dropping."""
    start = spectral_init(operator, y, rank, False, seed=rng)
    F, G, dropped = _alternate(run, operator, y, start, options, options["drop_coherent"])
    undone = False
    if dropped[0]:
        fit = least_squares_loss(operator.forward_factored(F, G) - y)
        floor = least_squares_loss(y) * (100 * np.finfo(float).eps) ** 2
        if fit > WORSE_FIT * dropped[1] + floor:
            run.reset()
            F, G, dropped = _alternate(run, operator, y, start, options, False)
            undone = True
    if options["ridge"] == 0:
        _check_determined(run, operator, F.shape[1])
    result = run.result((F, G))
    if dropped[0]:
        result.message += (f" (rank {rank} -> {F.shape[1]}: dropped {dropped[0]} coherent "
                           "component(s) the observed entries do not determine)")
    elif undone:
        result.message += " (dropping coherent components worsened the fit; none dropped)"
    return result


def _alternate(run, operator, y, factors, options, drop_coherent):
    """Alternate until convergence, dropping coherent components (also once more at
    convergence) when asked; returns ``(F, G, dropped)``."""
    dropped = [0, np.inf]
    update = altmin_update(operator, y, options["ridge"], options["solver"], options["cg_steps"],
                           drop_coherent, dropped)
    while True:
        F, G = descend(run, (operator, y), factors, update, least_squares_loss,
                       tol=options["tol"])
        if not drop_coherent or run.status not in GOOD_STATUSES or F.shape[1] == 1:
            return F, G, dropped
        factors = drop_coherent_components(
            F, G, dropped,
            lambda F=F, G=G: least_squares_loss(operator.forward_factored(F, G) - y))
        if factors is None:
            return F, G, dropped
        run.resume()


register(Solver(
    "altmin", _solve,
    {"ridge": Option(0.0, real(0.0), "ridge penalty λ||F||² + λ||G||² of the row solves",
                     unit=1),
     "solver": Option("auto", choice(*ALTMIN_SOLVERS),
                      "exact k×k row solves, cg_steps warm-started CG steps (paper 6), or "
                      f"auto: exact below rank {AUTO_CG_RANK}, CG from there"),
     "cg_steps": Option(CG_STEPS, integer(1), "CG steps per half-iteration of 'approx'"),
     "drop_coherent": Option(True, choice(True, False),
                             "drop components the sampling cannot determine (rank > data's)")},
    needs=frozenset({"entries"}), array_api=False,
    summary="alternating least squares from a spectral init (Jain et al. 2013; paper 6)"))
