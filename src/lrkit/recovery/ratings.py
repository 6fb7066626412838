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

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit.recovery._row_systems import RowSystems
from lrkit.recovery.harness import Run
from lrkit.result import RecoveryResult, Status

#: Ridge of the bias terms, in pseudo-observations (a bias is a shrunk mean residual).
BIAS_RIDGE = 5.0
#: Standard deviation of the random starting factors (in units of the data's deviation).
INIT_SCALE = 0.1
#: The held-out search: ridges tried at the first rank, then the other ranks at the best
#: ridge (λ in units of the data's standard deviation).
RIDGES = (0.001, 0.08, 0.1, 0.12)
RANKS = (10, 5)
#: Sweeps each fit may run (the held-out search keeps the best count).
SEARCH_SWEEPS = 30
#: A search fit stops once its held-out error has not improved for this many sweeps.
PATIENCE = 3
#: Ensemble size of the search's fits, and the fraction of entries it holds out.
SEARCH_MODELS = 3
HOLDOUT = 0.15


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
    """

    model: BiasedFactors
    rank: int
    ridge: float
    sweeps: int
    scale: float
    scores: dict
    run: RecoveryResult


class _Sides:
    """The row and column systems of one set of observations (built once, reused by every
    fit on the same entries)."""

    def __init__(self, rows, cols, values, shape):
        self.rows, self.cols, self.values, self.shape = rows, cols, values, shape
        self.by_row = RowSystems(rows, cols, values, shape[0])
        self.by_col = RowSystems(cols, rows, values, shape[1])
        self.row_counts = np.bincount(rows, minlength=shape[0])
        self.col_counts = np.bincount(cols, minlength=shape[1])
        self.mean = float(np.mean(values))


def _half_step(systems, counts, target, other, ridge):
    """Solve every row's ``[f, b]`` against ``[g, 1]`` of the other side."""
    systems.set_values(target)
    return _solve_with_bias(systems, counts, other, ridge)


def _solve_with_bias(systems, counts, other, ridge):
    rank = other.shape[1]
    design = np.hstack([other, np.ones((other.shape[0], 1))])
    penalty = np.empty((systems.n, rank + 1))
    penalty[:, :rank] = ridge * np.maximum(counts, 1)[:, None]
    penalty[:, rank] = BIAS_RIDGE
    solution = systems.solve_exact(design, penalty)
    return solution[:, :rank], solution[:, rank]


class _Fit:
    """One ALS-WR fit from a random start, advanced one sweep at a time."""

    def __init__(self, sides, rank, ridge, rng):
        n1, n2 = sides.shape
        self.sides, self.ridge = sides, ridge
        self.F, self.G = random_start(sides.shape, rank, rng)
        self.row_bias, self.col_bias = np.zeros(n1), np.zeros(n2)
        self.centred = sides.values - sides.mean

    def sweep(self):
        sides = self.sides
        self.F, self.row_bias = _half_step(sides.by_row, sides.row_counts,
                                           self.centred - self.col_bias[sides.cols], self.G,
                                           self.ridge)
        self.G, self.col_bias = _half_step(sides.by_col, sides.col_counts,
                                           self.centred - self.row_bias[sides.rows], self.F,
                                           self.ridge)


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


def _average(sides, fits):
    """:func:`average_model` of the fits on ``sides``."""
    return average_model(sides.mean, [fit.F for fit in fits], [fit.G for fit in fits],
                         [fit.row_bias for fit in fits], [fit.col_bias for fit in fits])


def ensemble_als(sides, rank, ridge, sweeps, n_models, rng, *, monitor=None):
    """``n_models`` ALS-WR fits run in lockstep; ``monitor(model)`` sees their average
    after every sweep and ends the run early by returning True. Returns the last average."""
    fits = [_Fit(sides, rank, ridge, rng) for _ in range(n_models)]
    model = None
    for _ in range(sweeps):
        for fit in fits:
            fit.sweep()
        model = _average(sides, fits)
        if monitor is not None and monitor(model):
            break
    return model


def fit_ratings(rows, cols, values, shape, ranks=RANKS, ridges=RIDGES, *,
                max_sweeps=SEARCH_SWEEPS, n_models=5, holdout=HOLDOUT, seed=None):
    """Choose rank, ridge and sweeps on held-out entries, then fit the averaged model.

    A random ``holdout`` fraction of the entries is held out. Ensembles of
    ``SEARCH_MODELS`` fits run on the rest, with each ridge of ``ridges`` at the first rank
    of ``ranks``, then with each other rank at the best ridge. The held-out RMSE is recorded
    after every sweep (a fit stops ``PATIENCE`` sweeps past its minimum), and the best
    (rank, ridge, sweeps) wins. ``n_models`` fits with those choices then run on all the
    entries. With a single candidate and too few entries to hold any out, ``max_sweeps``
    sweeps run.

    Returns
    -------
    RatingsFit
    """
    rng = as_generator(seed)
    run = Run("biased_als", max_iter=max_sweeps)
    scale = value_scale(values)
    normalised = values / scale
    best, scores = _search(rows, cols, normalised, shape, ranks, ridges, max_sweeps, holdout,
                           rng)
    sides = _Sides(rows, cols, normalised, shape)

    def record(model):
        run.t += 1
        fitted = model.predict(rows, cols)
        run.record(float(np.sqrt(np.mean((fitted - normalised) ** 2))) * scale, ())

    model = ensemble_als(sides, best["rank"], best["ridge"], best["sweeps"], n_models, rng,
                         monitor=record)
    return finish_fit(run, model, best, scores, scale, max_sweeps)


def value_scale(values):
    """The standard deviation of ``values`` (1 when they are constant), computed on values
    divided by their largest magnitude so that it does not overflow near the float limit."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(peak) or peak == 0:
        return 1.0
    return float(np.std(values / peak)) * peak or 1.0


def finish_fit(run, model, best, scores, scale, max_sweeps):
    """The :class:`RatingsFit` of a final (normalised) ``model`` and the search's ``best``
    choices and ``scores``, with the run's status: converged when the held-out search
    stopped the sweeps early (or had nothing to hold out), else at ``max_sweeps``."""
    if best["sweeps"] < max_sweeps or best["rmse"] is None:
        run.stop(Status.CONVERGED, f"{best['sweeps']} sweeps: " + (
            "the count that predicted held-out entries best (early stopping)"
            if best["rmse"] is not None else "too few entries to hold any out"))
    else:
        run.stop(Status.MAX_ITER, f"held-out error still falling after max_iter={max_sweeps} "
                 "sweeps")
    scores = {key: rmse * scale for key, rmse in scores.items()}
    return RatingsFit(model.scaled(scale), best["rank"], best["ridge"], best["sweeps"], scale,
                      scores, run.result((model.row_factors, model.col_factors)))


def _search(rows, cols, values, shape, ranks, ridges, max_sweeps, holdout, rng):
    """The held-out search of :func:`fit_ratings`: ``(best, scores)``."""
    test = rng.random(values.size) < holdout
    if test.all() or not test.any():
        if len(ranks) > 1 or len(ridges) > 1:
            raise ValueError(f"too few observed entries ({values.size}) to choose the rank "
                             "and ridge on held-out ones; pass rank= and ridge=")
        return {"rank": ranks[0], "ridge": ridges[0], "sweeps": max_sweeps, "rmse": None}, {}
    sides = _Sides(rows[~test], cols[~test], values[~test], shape)
    held_rows, held_cols, held_values = rows[test], cols[test], values[test]
    scores, best = {}, None

    def trial(rank, ridge):
        nonlocal best
        curve = []

        def monitor(model):
            curve.append(float(np.sqrt(np.mean(
                (model.predict(held_rows, held_cols) - held_values) ** 2))))
            return len(curve) - 1 - int(np.argmin(curve)) >= PATIENCE  # past the minimum

        ensemble_als(sides, rank, ridge, max_sweeps, SEARCH_MODELS, rng, monitor=monitor)
        sweeps = int(np.argmin(curve)) + 1
        scores[(rank, ridge)] = curve[sweeps - 1]
        if best is None or curve[sweeps - 1] < best["rmse"]:
            best = {"rank": rank, "ridge": ridge, "sweeps": sweeps, "rmse": curve[sweeps - 1]}

    for ridge in ridges:
        trial(ranks[0], ridge)
    for rank in ranks[1:]:
        trial(rank, best["ridge"])
    return best, scores


def fold_in_rows(rows, cols, values, n_rows, col_factors, ridge):
    """Factors and biases of new rows against fitted column factors: each row's ``[f, b]``
    solves its ridge problem on its observed entries (``values`` already have the global
    mean and column biases removed; all in the fit's normalised units: values and
    ``col_factors`` divided by :attr:`RatingsFit.scale` and its square root). Returns
    ``(F, b)``."""
    systems = RowSystems(rows, cols, values, n_rows)
    counts = np.bincount(rows, minlength=n_rows)
    return _solve_with_bias(systems, counts, col_factors, ridge)
