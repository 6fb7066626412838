"""Ratings: a biased low-rank model fit by weighted-λ alternating least squares.

The model of a rating ``r_ij`` (user ``i``, item ``j``) is

    r̂_ij = μ + b_i + c_j + <f_i, g_j>

with the global mean ``μ``, row and column biases ``b``, ``c`` and rank-``k`` factors
(Koren, Bell & Volinsky 2009). It is fit by alternating least squares with weighted-λ
regularisation (ALS-WR, Zhou, Wilkinson, Schreiber & Pan 2008): with the items fixed, each
user solves

    min_{f, b}  Σ_{j ∈ Ω_i} (r_ij − μ − c_j − <f, g_j> − b)² + λ n_i ||f||² + λ_b b²,

a ``(k+1) × (k+1)`` system (``n_i`` the user's count, ``λ_b`` in pseudo-observations), and
the same for the items. The values are divided by their standard deviation first, so that
``λ`` means the same at every scale. A row or column with no observation keeps ``f = 0``
and ``b = 0``: it is predicted by the other side's bias (cold start).

``n_models`` fits from different random starts are averaged. The average is again a biased
model, of rank ``n_models · k`` (factors concatenated and scaled by ``1/√n_models``), and it
predicts better than any one fit. The rank, ``λ`` and the number of sweeps (early stopping)
are chosen on held-out entries by :func:`fit_ratings`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit.ratings._biased_systems import BiasedSystems
from lrkit.ratings.early_stopping import sweep_until_stop
from lrkit.recovery.harness import Run
from lrkit.result import RecoveryResult, Status

#: Ridge of the bias terms, in pseudo-observations (a bias is a shrunk mean residual).
BIAS_RIDGE = 5.0
#: Standard deviation of the random starting factors (in units of the data's deviation).
INIT_SCALE = 0.1
#: The held-out search: the ridges it may try at the first rank, starting at START_RIDGE and
#: moving up, or else down, while the held-out error falls; then the other ranks at the best
#: ridge (λ in units of the data's standard deviation).
RIDGES = (0.001, 0.01, 0.03, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)
START_RIDGE = 0.1
RANKS = (10, 5)
#: Sweeps each fit may run (the held-out search keeps the best count).
SEARCH_SWEEPS = 30
#: Sweeps at most at each further point of the search's warm-started path.
PATH_SWEEPS = 3
#: The fraction of entries the search holds out.
HOLDOUT = 0.15
#: Sweeps of the search's best state on all the entries.
FINAL_SWEEPS = 2


@dataclass
class BiasedFactors:
    """A fitted biased low-rank model ``μ + b_i + c_j + <f_i, g_j>``.

    Attributes
    ----------
    mean : float
    row_bias, col_bias : numpy.ndarray
    row_factors : numpy.ndarray, shape (n_rows, rank)
    col_factors : numpy.ndarray, shape (n_cols, rank)
    """

    mean: float
    row_bias: np.ndarray
    col_bias: np.ndarray
    row_factors: np.ndarray
    col_factors: np.ndarray

    def predict(self, rows, cols):
        """Predicted values at the pairs ``(rows[e], cols[e])``; never forms the matrix."""
        return (self.mean + self.row_bias[rows] + self.col_bias[cols]
                + np.einsum("ek,ek->e", self.row_factors[rows], self.col_factors[cols]))

    def scaled(self, factor):
        """The model of the values multiplied by ``factor``."""
        root = np.sqrt(factor)
        return BiasedFactors(factor * self.mean, factor * self.row_bias,
                             factor * self.col_bias, root * self.row_factors,
                             root * self.col_factors)


@dataclass
class RatingsFit:
    """What :func:`fit_ratings` chose and fit.

    Attributes
    ----------
    model : BiasedFactors
    rank, ridge, sweeps : int, float, int
        The choices (rank per fit; ridge in units of the data's standard deviation).
    scale : float
        That standard deviation (the values were divided by it while fitting).
    scores : dict of (rank, ridge) -> float
        Best held-out RMSE of each pair tried (in the data's units).
    run : RecoveryResult
        The final fit's history (training RMSE per sweep) and status.
    held_out : numpy.ndarray of bool or None
        The entries the search held out (None when it held none out), for comparing other
        models on the same split.
    """

    model: BiasedFactors
    rank: int
    ridge: float
    sweeps: int
    scale: float
    scores: dict
    run: RecoveryResult
    held_out: np.ndarray | None = None


class _Sides:
    """The row and column systems of one set of observations (built once, reused by every
    fit on the same entries)."""

    def __init__(self, rows, cols, values, shape):
        self.shape = shape
        self.mean = float(np.mean(values))
        self.by_row = BiasedSystems(rows, cols, shape[0], shape[1])
        self.by_col = BiasedSystems(cols, rows, shape[1], shape[0])
        self.row_values = self.by_row.with_values(values - self.mean)
        self.col_values = self.by_col.with_values(values - self.mean)


def biased_penalty(counts, rank, ridge):
    """The diagonal added to each row's ``[f, b]`` system: the weighted-λ ``λ max(n_i, 1)``
    on the factor coordinates and ``BIAS_RIDGE`` on the bias, shape ``(rows, rank + 1)``."""
    penalty = np.empty((len(counts), rank + 1))
    penalty[:, :rank] = ridge * np.maximum(counts, 1)[:, None]
    penalty[:, rank] = BIAS_RIDGE
    return penalty


def solve_side(systems, values, other_factors, other_bias, ridge):
    """Every model's ``[f, b]`` of one side against ``[g, 1]`` and the bias of the other
    (arrays with a leading model axis), penalised by :func:`biased_penalty`:
    ``(factors, bias)``."""
    penalty = biased_penalty(systems.counts, other_factors.shape[2], ridge)
    return systems.solve(values, other_factors, other_bias, penalty)


class _Ensemble:
    """``n_models`` ALS-WR fits from random starts, advanced together one sweep at a time
    (factors ``(models, n, rank)``, biases ``(models, n)``)."""

    def __init__(self, sides, rank, ridge, n_models, rng):
        n1, n2 = sides.shape
        self.sides, self.ridge = sides, ridge
        starts = [random_start(sides.shape, rank, rng) for _ in range(n_models)]
        self.F = np.stack([F for F, _ in starts])
        self.G = np.stack([G for _, G in starts])
        self.row_bias, self.col_bias = np.zeros((n_models, n1)), np.zeros((n_models, n2))

    def sweep(self):
        sides = self.sides
        self.F, self.row_bias = solve_side(sides.by_row, sides.row_values, self.G,
                                           self.col_bias, self.ridge)
        self.G, self.col_bias = solve_side(sides.by_col, sides.col_values, self.F,
                                           self.row_bias, self.ridge)

    def model(self):
        """The fits' average (:func:`average_model`)."""
        return average_model(self.sides.mean, self.F, self.G, self.row_bias, self.col_bias)

    def on(self, sides):
        """A copy that goes on with the observations of ``sides``."""
        other = copy.copy(self)
        other.sides = sides
        return other

    def with_ridge(self, ridge):
        """A copy that goes on at another ridge."""
        other = copy.copy(self)
        other.ridge = ridge
        return other

    def with_rank(self, rank, rng):
        """A copy in which every fit keeps the best rank-``rank`` part of its ``F Gᵀ`` (the
        SVD of the product of the factors' triangular QR factors), split evenly between the
        two sides, with random columns added when ``rank`` exceeds the current rank."""
        other = copy.copy(self)
        factors = []
        for F, G in zip(self.F, self.G, strict=True):
            (QF, RF), (QG, RG) = np.linalg.qr(F), np.linalg.qr(G)
            U, sigma, Vt = np.linalg.svd(RF @ RG.T)
            keep = min(rank, len(sigma))
            root = np.sqrt(sigma[:keep])
            pad_F, pad_G = random_start(self.sides.shape, rank - keep, rng)
            factors.append((np.hstack([(QF @ U[:, :keep]) * root, pad_F]),
                            np.hstack([(QG @ Vt[:keep].T) * root, pad_G])))
        other.F = np.stack([F for F, _ in factors])
        other.G = np.stack([G for _, G in factors])
        return other


def random_start(shape, rank, rng):
    """The random starting factors ``(F, G)`` of one fit (in the order the draws are made,
    so that fits on Dask and in memory start alike)."""
    return (INIT_SCALE * rng.standard_normal((shape[0], rank)),
            INIT_SCALE * rng.standard_normal((shape[1], rank)))


def average_model(mean, row_factors, col_factors, row_biases, col_biases):
    """The mean of several fits' predictions as one model: biases averaged, factors
    concatenated and scaled by ``1/√n_models``."""
    scale = 1.0 / np.sqrt(len(row_factors))
    return BiasedFactors(mean, np.mean(row_biases, axis=0), np.mean(col_biases, axis=0),
                         scale * np.hstack(row_factors), scale * np.hstack(col_factors))


def fit_ratings(rows, cols, values, shape, ranks=RANKS, ridges=RIDGES, *,
                max_sweeps=SEARCH_SWEEPS, n_models=5, holdout=HOLDOUT, seed=None):
    """Choose rank, ridge and sweeps on held-out entries, then fit the averaged model.

    A random ``holdout`` fraction of the entries is held out and :func:`_search` chooses on
    it with an ensemble of ``n_models`` fits; its best state then runs ``FINAL_SWEEPS`` more
    sweeps on all the entries. With a single candidate and too few entries to hold any
    out, ``n_models`` fits from random starts run ``max_sweeps`` sweeps.

    Returns
    -------
    RatingsFit
    """
    rng = as_generator(seed)
    run = Run("biased_als", max_iter=max_sweeps)
    scale = value_scale(values)
    normalised = values / scale
    best, scores = _search(rows, cols, normalised, shape, ranks, ridges, max_sweeps, holdout,
                           n_models, rng)
    sides = _Sides(rows, cols, normalised, shape)
    state = best.pop("state")
    if state is None:
        ensemble = _Ensemble(sides, best["rank"], best["ridge"], n_models, rng)
    else:
        ensemble = state.on(sides)
    for _ in range(max_sweeps if state is None else min(FINAL_SWEEPS, max_sweeps)):
        ensemble.sweep()
        model = ensemble.model()
        run.t += 1
        run.record(float(np.sqrt(np.mean((model.predict(rows, cols) - normalised) ** 2)))
                   * scale, ())
    return finish_fit(run, model, best, scores, scale)


def value_scale(values):
    """The standard deviation of ``values`` (1 when they are constant), computed on values
    divided by their largest magnitude so that it does not overflow near the float limit."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(peak) or peak == 0:
        return 1.0
    return float(np.std(values / peak)) * peak or 1.0


def finish_fit(run, model, best, scores, scale):
    """The :class:`RatingsFit` of a final (normalised) ``model`` and the search's ``best``
    choices and ``scores``, with the run's status: converged when the held-out error
    stopped the sweeps past its minimum (or there was nothing to hold out), else at the
    sweep limit."""
    if best["rmse"] is None:
        run.stop(Status.CONVERGED, "too few entries to hold any out: max_iter sweeps")
    elif best["stopped"]:
        run.stop(Status.CONVERGED, f"{best['sweeps']} sweeps: held-out error past its "
                 "minimum or no longer improving (early stopping)")
    else:
        run.stop(Status.MAX_ITER, "held-out error still falling after "
                 f"max_iter={run.max_iter} sweeps")
    scores = {key: rmse * scale for key, rmse in scores.items()}
    return RatingsFit(model.scaled(scale), best["rank"], best["ridge"], best["sweeps"], scale,
                      scores, run.result((model.row_factors, model.col_factors)),
                      best.get("held_out"))


def _search(rows, cols, values, shape, ranks, ridges, max_sweeps, holdout, n_models, rng):
    """The held-out search of :func:`fit_ratings`: ``(best, scores)``; ``best["state"]`` is
    the best ensemble (None when nothing could be held out).

    A regularisation path with warm starts: an ensemble of ``n_models`` fits at the first
    rank starts from random factors at ``START_RIDGE`` (or the middle candidate) and sweeps
    until :func:`~lrkit.ratings.early_stopping.held_out_stop` (at most ``max_sweeps``).
    From its best state the next larger ridge runs at most ``PATH_SWEEPS`` sweeps, then the
    next, while each improves on the best held-out RMSE; when the first step up does not,
    the path steps down instead.
    Each other rank then continues from the best state, truncated (or padded) to that rank,
    for at most ``PATH_SWEEPS`` sweeps. ``sweeps`` counts the sweeps the best state took in
    all.
    """
    test = rng.random(values.size) < holdout
    if test.all() or not test.any():
        if len(ranks) > 1 or len(ridges) > 1:
            raise ValueError(f"too few observed entries ({values.size}) to choose the rank "
                             "and ridge on held-out ones; pass rank= and ridge=")
        return {"rank": ranks[0], "ridge": ridges[0], "sweeps": max_sweeps, "rmse": None,
                "stopped": False, "state": None, "held_out": None}, {}
    sides = _Sides(rows[~test], cols[~test], values[~test], shape)
    held_rows, held_cols, held_values = rows[test], cols[test], values[test]
    scores, best = {}, None

    def advance(ensemble):
        ensemble = copy.copy(ensemble)  # a sweep replaces the arrays: the old one stays as it is
        ensemble.sweep()
        predicted = ensemble.model().predict(held_rows, held_cols)
        return ensemble, float(np.sqrt(np.mean((predicted - held_values) ** 2)))

    def descend(ensemble, rank, sweeps_before, limit, cold=False):
        nonlocal best
        kept, curve, stopped = sweep_until_stop(advance, ensemble, limit, cold)
        scores[(rank, ensemble.ridge)] = min(curve)
        improved = best is None or min(curve) < best["rmse"]
        if improved:
            best = {"rank": rank, "ridge": ensemble.ridge, "rmse": min(curve), "state": kept,
                    "sweeps": sweeps_before + int(np.argmin(curve)) + 1}
        return improved, stopped

    path = sorted(ridges)
    first = path.index(START_RIDGE) if START_RIDGE in path else len(path) // 2
    _, stopped = descend(_Ensemble(sides, ranks[0], path[first], n_models, rng), ranks[0], 0,
                         max_sweeps, cold=True)
    for direction in (path[first + 1:], path[first - 1::-1] if first else []):
        moved = False
        for ridge in direction:
            improved, _ = descend(best["state"].with_ridge(ridge), ranks[0], best["sweeps"],
                                  PATH_SWEEPS)
            if not improved:
                break
            moved = True
        if moved:
            break
    start, sweeps = best["state"], best["sweeps"]
    for rank in ranks[1:]:
        descend(start.with_rank(rank, rng), rank, sweeps, PATH_SWEEPS)
    return {**best, "stopped": stopped, "held_out": test}, scores


def fold_in_rows(rows, cols, values, n_rows, col_factors, ridge):
    """Factors and biases of new rows against fitted column factors: each row's ``[f, b]``
    solves its ridge problem on its observed entries (``values`` already have the global
    mean and column biases removed; all in the fit's normalised units: values and
    ``col_factors`` divided by :attr:`RatingsFit.scale` and its square root). Returns
    ``(F, b)``."""
    systems = BiasedSystems(rows, cols, n_rows, len(col_factors))
    F, b = solve_side(systems, systems.with_values(values), col_factors[None],
                      np.zeros((1, len(col_factors))), ridge)
    return F[0], b[0]
