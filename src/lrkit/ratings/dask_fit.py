"""Ratings that need not fit in memory: the biased ALS-WR model of :mod:`ratings` on a Dask
DataFrame of ``(row, col, value)`` triplets (issue 17, scale-out).

The data are grouped once into two copies on disk: one by row, one by column, so that every
row (column) has all its entries in one group (:func:`.dask_grouping.grouped`). A half step
of ALS-WR is then one task per group, in parallel and with no reduction: the task reads its
entries, receives the other side's factors and biases (small: ``n × rank``), builds its rows'
``(k+1) × (k+1)`` systems and solves them for every model of the ensemble with the
in-memory solver's own engine (:func:`~lrkit.ratings.biased_als.solve_side`), so the two
paths cannot drift apart. The driver keeps only the factors. The tasks run on whatever
Dask scheduler is active: the threaded one by default, or a ``distributed`` cluster
(``LocalCluster`` in the tests, a real cluster unchanged) when a client exists.

Rank and ridge are chosen as in memory (:func:`ratings.fit_ratings`), on a uniform sample
of at most ``SEARCH_ENTRIES`` entries held in memory (all of them when the data are small,
which makes the Dask fit equal to the in-memory one); the search's best ensemble then goes
on over all the entries on Dask for ``FINAL_SWEEPS`` sweeps. On data larger than the
sample, whose rows the sample thins out, the sample's best sweep count does not carry over:
the best ensemble first goes on with ``HOLDOUT`` of the entries (at most ``HELD_OUT_ENTRIES``)
held out by a hash of (row, col) (:func:`held_out`) until it is past the held-out minimum
(:func:`~lrkit.ratings.early_stopping.held_out_stop`), and the ``FINAL_SWEEPS`` sweeps on
all entries start from the state at that minimum. Dask is imported here only.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit.ratings._biased_systems import BiasedSystems
from lrkit.ratings.biased_als import (
    FINAL_SWEEPS,
    HOLDOUT,
    _search,
    average_model,
    finish_fit,
    random_start,
    solve_side,
)
from lrkit.ratings.dask_grouping import grouped
from lrkit.ratings.early_stopping import sweep_until_stop
from lrkit.recovery.harness import Run

#: The held-out search runs in memory on a uniform sample of at most this many entries.
SEARCH_ENTRIES = 2_000_000
#: On data larger than the sample, the early-stopping split holds out ``HOLDOUT`` of the
#: entries or this many, whichever is fewer: enough to rank successive sweeps, while the
#: sweeps fit on all the rest.
HELD_OUT_ENTRIES = 200_000
COLUMNS = ("row", "col", "value")


def is_dask_dataframe(X) -> bool:
    """Whether ``X`` is a Dask DataFrame (without importing Dask)."""
    return type(X).__module__.startswith("dask") and hasattr(X, "npartitions") and hasattr(
        X, "columns")


@dataclass
class TripletSummary:
    """One pass over the triplets: counts, sums, the smallest value and the shape."""

    shape: tuple
    row_counts: np.ndarray
    col_counts: np.ndarray
    col_sums: np.ndarray
    size: int
    mean: float
    std: float
    lowest: float
    row_ids: np.ndarray | None = None
    col_ids: np.ndarray | None = None


def triplet_frame(X):
    """The first three columns of a Dask DataFrame as ``row, col, value`` (integers, floats),
    validated in one pass: ``(frame, summary)``. Rows or columns given as ids of another
    kind (strings, categories) are numbered in sorted order, one more pass over that column;
    the summary keeps the ids (``row_ids``, ``col_ids``)."""
    import dask

    if len(X.columns) < 3:
        raise ValueError(f"X as a Dask DataFrame needs three columns (row, col, value); got "
                         f"{list(X.columns)}")
    frame = X[list(X.columns[:3])]
    frame.columns = list(COLUMNS)
    frame, ids = _numbered(frame)
    frame = frame.astype({"value": np.float64})
    parts = dask.compute(*[dask.delayed(_partial_summary)(part)
                           for part in frame.to_delayed()])
    summary = _combine(parts)  # every id occurs, so the shape counts them
    summary.row_ids, summary.col_ids = ids
    return frame, summary


def _numbered(frame):
    """``(frame, (row ids, col ids))``: integer rows and columns stay (ids None); names or
    codes are replaced by their positions among the sorted distinct ids."""
    import dask
    import pandas as pd

    found = {}
    for side in ("row", "col"):
        dtype = frame.dtypes[side]
        if pd.api.types.is_integer_dtype(dtype):
            continue
        if pd.api.types.is_float_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ValueError(f"X's {side} column must hold integer indices (zero-based) or "
                             f"ids such as strings; got {dtype}")
        found[side] = frame[side].astype(str).unique()
    if not found:
        return frame, (None, None)
    labels = dict(zip(found, (np.unique(np.asarray(distinct, dtype=str))
                              for distinct in dask.compute(*found.values())), strict=True))
    for side, ids in labels.items():
        frame = frame.assign(**{side: frame[side].map_partitions(
            _positions, ids, meta=(side, np.int64))})
    return frame, (labels.get("row"), labels.get("col"))


def _positions(column, ids):
    """Each id of ``column`` (a pandas Series) as its position in the sorted ``ids``."""
    import pandas as pd

    positions = np.searchsorted(ids, column.astype(str).to_numpy(dtype=str))
    return pd.Series(positions.astype(np.int64), index=column.index, name=column.name)


def _partial_summary(part):
    rows, cols = part["row"].to_numpy(), part["col"].to_numpy()
    values = part["value"].to_numpy()
    if len(rows) and (rows.min() < 0 or cols.min() < 0):
        raise ValueError("X has negative row or column indices; they must be >= 0")
    if not np.isfinite(values).all():
        raise ValueError("X has NaN or inf values; drop those rows of the DataFrame")
    peak = float(np.max(np.abs(values))) if len(values) else 0.0
    centre = peak * float(np.mean(values / peak)) if peak else 0.0
    deviations = float(np.sum(((values - centre) / peak) ** 2)) if peak else 0.0
    lowest = float(values.min()) if len(values) else np.inf
    return (np.bincount(rows), np.bincount(cols), np.bincount(cols, weights=values),
            len(values), centre, peak, deviations, lowest)


def _combine(parts):
    def total(index):
        arrays = [part[index] for part in parts]
        out = np.zeros(max(len(a) for a in arrays))
        for a in arrays:
            out[:len(a)] += a
        return out

    row_counts, col_counts, col_sums = total(0), total(1), total(2)
    size = int(row_counts.sum())
    if size == 0:
        raise ValueError("X has no observed entry: the DataFrame is empty")
    # Chan, Golub & LeVeque's pairwise update of the mean and the sum of squared deviations,
    # the squares in units of the largest magnitude (each part's were in its own), so that
    # they do not overflow near the float limit.
    peak = max(part[5] for part in parts)
    count, mean, squares = 0, 0.0, 0.0
    for _, _, _, n, centre, part_peak, deviations, _ in parts:
        if n:
            delta = (centre - mean) / peak if peak else 0.0
            mean += (centre - mean) * n / (count + n)
            squares += deviations * (part_peak / peak) ** 2 + delta**2 * count * n / (count + n)
            count += n
    return TripletSummary((len(row_counts), len(col_counts)), row_counts.astype(np.int64),
                          col_counts.astype(np.int64), col_sums, size, mean,
                          peak * float(np.sqrt(squares / size)),
                          min(part[7] for part in parts))


def fit_ratings_dask(frame, summary, ranks, ridges, *, max_sweeps, n_models, seed=None,
                     workdir=None):
    """:func:`ratings.fit_ratings` on a Dask DataFrame ``frame`` (columns row, col, value)
    with its :class:`TripletSummary`; same choices, same model, same :class:`RatingsFit`."""
    rng = as_generator(seed)
    scale = summary.std or 1.0
    sample = _search_sample(frame, summary.size, rng)
    rows, cols, values = (sample[name].to_numpy() for name in COLUMNS)
    best, scores = _search(rows, cols, values / scale, summary.shape, ranks, ridges,
                           max_sweeps, HOLDOUT, n_models, rng)
    state = best.pop("state")
    best.pop("held_out")  # a mask of the in-memory sample, not of the frame
    mean = summary.mean / scale
    # Data larger than the sample: the sample's best sweep count does not carry over (its
    # rows are sparser), so the sweeps stop early on a held-out split of all the data.
    split = None
    if summary.size > SEARCH_ENTRIES:
        split = (int(rng.integers(2**31)), min(HOLDOUT, HELD_OUT_ENTRIES / summary.size))
    directory = tempfile.mkdtemp(prefix="lrkit-als-", dir=workdir)
    try:
        by_row, by_col = (grouped(frame, side, f"{directory}/{side}")
                          for side in ("row", "col"))
        run = Run("biased_als", max_iter=max_sweeps)
        if state is not None:
            fits = (state.F, state.G, state.row_bias, state.col_bias)
        else:
            starts = [random_start(summary.shape, best["rank"], rng) for _ in range(n_models)]
            fits = (np.stack([f for f, _ in starts]), np.stack([g for _, g in starts]),
                    np.zeros((n_models, summary.shape[0])),
                    np.zeros((n_models, summary.shape[1])))
        sweep = _Sweeps(by_row, by_col, summary.shape, mean, scale, best["ridge"], run)
        if split is None:
            final = max_sweeps if state is None else min(FINAL_SWEEPS, max_sweeps)
        else:  # all sweeps together within max_sweeps
            final = min(FINAL_SWEEPS, max_sweeps - 1)
            fits, curve, stopped = sweep_until_stop(lambda fits: sweep(fits, split), fits,
                                                    max_sweeps - final, cold=state is None)
            best = {**best, "sweeps": int(np.argmin(curve)) + 1, "rmse": min(curve),
                    "stopped": stopped}
        for _ in range(final):
            fits, _ = sweep(fits)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    model = average_model(mean, *fits)
    return finish_fit(run, model, best, scores, scale)


class _Sweeps:
    """ALS-WR sweeps over the row- and column-partitioned copies, recorded in ``run``."""

    def __init__(self, by_row, by_col, shape, mean, scale, ridge, run):
        self.by_row, self.by_col, self.shape = by_row, by_col, shape
        self.mean, self.scale, self.ridge, self.run = mean, scale, ridge, run

    def __call__(self, fits, split=None):
        """One sweep from ``fits = (F, G, row_bias, col_bias)`` on the entries outside the
        held-out ``split = (salt, share)`` of :func:`held_out` (None: all):
        ``(fits, held-out RMSE or None)``."""
        _, G, _, col_bias = fits
        n1, n2 = self.shape
        F, row_bias, _ = _half_step(self.by_row, "row", "col", n1, G, col_bias, self.mean,
                                    self.scale, self.ridge, split=split)
        G, col_bias, errors = _half_step(self.by_col, "col", "row", n2, F, row_bias,
                                         self.mean, self.scale, self.ridge, score=True,
                                         split=split)
        self.run.t += 1
        self.run.record(float(np.sqrt(errors[0] / max(errors[1], 1))) * self.scale, ())
        held = float(np.sqrt(errors[2] / max(errors[3], 1))) if split is not None else None
        return (F, G, row_bias, col_bias), held


def _search_sample(frame, size, rng):
    """All the entries (in order) when at most ``SEARCH_ENTRIES``, else a uniform sample of
    about that many, as a pandas DataFrame."""
    if size <= SEARCH_ENTRIES:
        return frame.compute()
    seed = int(rng.integers(2**31))
    return frame.sample(frac=SEARCH_ENTRIES / size, random_state=seed).compute()


def _half_step(parts, own, other, n, other_factors, other_bias, mean, scale, ridge,
               score=False, split=None):
    """Every model's factors and biases of the ``own`` side, one task per group of ``parts``
    (delayed DataFrames grouped by ``own``, :func:`.dask_grouping.grouped`), fit on the
    entries outside the held-out ``split`` (None: all); with ``score`` also the averaged
    model's squared errors and counts ``(train, held out)`` after this step."""
    import dask

    shared = dask.delayed((other_factors, other_bias), pure=True)
    tasks = [dask.delayed(_solve_partition)(part, own, other, shared, mean, scale, ridge,
                                            score, split) for part in parts]
    models, _, rank = other_factors.shape
    factors, bias = np.zeros((models, n, rank)), np.zeros((models, n))
    errors = np.zeros(4)
    for ids, (part_factors, part_bias), part_errors in dask.compute(*tasks):
        factors[:, ids], bias[:, ids] = part_factors, part_bias
        errors += part_errors
    return factors, bias, errors


def _solve_partition(part, own, other, shared, mean, scale, ridge, score, split):
    """The rows of one partition (all their entries are in it): ``(ids, (factors, bias) of
    every model, [train SSE, train count, held-out SSE, held-out count])``: the in-memory
    solver's systems (:func:`~lrkit.ratings.biased_als.solve_side`), on the entries outside
    the held-out split."""
    other_factors, other_bias = shared
    own_index, other_index = part[own].to_numpy(), part[other].to_numpy()
    values = part["value"].to_numpy() / scale
    held = (held_out(own_index, other_index, *split, own == "col") if split is not None
            else np.zeros(len(values), dtype=bool))
    ids, local = np.unique(own_index[~held], return_inverse=True)
    systems = BiasedSystems(local, other_index[~held], len(ids), other_factors.shape[1])
    factors, bias = solve_side(systems, systems.with_values(values[~held] - mean),
                               other_factors, other_bias, ridge)
    errors = np.zeros(4)
    if score and len(values):
        position = np.minimum(np.searchsorted(ids, own_index), max(len(ids) - 1, 0))
        known = (ids[position] == own_index) if len(ids) else np.zeros(len(values), bool)
        own_part = bias[:, position] + np.einsum("mek,mek->me", factors[:, position],
                                                 other_factors[:, other_index])
        fitted = mean + np.mean(np.where(known, own_part, 0.0)
                                + other_bias[:, other_index], axis=0)
        squared = (fitted - values) ** 2
        errors[:] = (squared[~held].sum(), (~held).sum(), squared[held].sum(), held.sum())
    return ids, (factors, bias), errors


def held_out(own_index, other_index, salt, share, transposed):
    """A fixed pseudo-random ``share`` of the entries, by a hash of (row, col) and ``salt``
    (splitmix64's finaliser): the same entries whichever side's partition holds them."""
    rows, cols = (other_index, own_index) if transposed else (own_index, other_index)
    with np.errstate(over="ignore"):
        mixed = (rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                 ^ (cols.astype(np.uint64) + np.uint64(salt)) * np.uint64(0xBF58476D1CE4E5B9))
        mixed ^= mixed >> np.uint64(31)
        mixed *= np.uint64(0x94D049BB133111EB)
        mixed ^= mixed >> np.uint64(29)
    return (mixed >> np.uint64(40)).astype(np.float64) / 2.0**24 < share
