"""Evaluating a ratings model: :meth:`HeldOutScore.score` (what scikit-learn's
``GridSearchCV`` calls) and :func:`cross_validate` (folds by entries or within every user,
for :class:`~lrkit.ratings.MatrixCompletion` and :class:`~lrkit.ratings.ImplicitALS`)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone

from lrkit._validation import check_choice, check_int
from lrkit.ratings._observations import listed_entries
from lrkit.ratings.implicit import ImplicitALS
from lrkit.ratings.ranking import ranking_report
from lrkit.ratings.recommend import items_by_user, recommendations

#: ``by=`` of :func:`cross_validate`.
FOLDINGS = ("entries", "users")


class HeldOutScore:
    """``score(X)`` for new rows (a mixin of :class:`~lrkit.ratings.MatrixCompletion`)."""

    #: Share of each row's observed entries that :meth:`score` hides.
    SCORE_HOLDOUT = 0.2

    def score(self, X, y=None):
        """Minus the RMSE of the hidden entries of new rows: ``SCORE_HOLDOUT`` of each
        row's observed entries (at least one, for rows with two or more; drawn with
        ``seed``) are hidden, the rows are folded in from the rest (:meth:`transform`), and
        the hidden ones predicted. Higher is better, as scikit-learn's model selection
        expects (``GridSearchCV`` splits the rows: users unseen in ``fit``)."""
        X = np.array(self._check_input(X, fitting=False)[0], dtype=float)
        rows, cols = np.nonzero(~np.isnan(X))
        counts = np.bincount(rows, minlength=X.shape[0])
        rng = np.random.default_rng(self.seed)
        hidden = (rng.random(rows.size) < self.SCORE_HOLDOUT) & (counts[rows] >= 2)
        if not hidden.any():
            raise ValueError("X has too few observed entries to hide some for the score")
        truth = X[rows[hidden], cols[hidden]]
        X[rows[hidden], cols[hidden]] = np.nan
        filled = self.transform(X)
        return -float(np.sqrt(np.mean((filled[rows[hidden], cols[hidden]] - truth) ** 2)))


def cross_validate(estimator, data, *, folds=5, by="entries", k=10, seed=0):
    """Fit a clone of ``estimator`` on each training fold and score its held-out fold.

    Parameters
    ----------
    estimator : MatrixCompletion or ImplicitALS
        Explicit ratings are scored by the RMSE and MAE of the held-out values; implicit
        feedback by the ranking metrics at ``k`` of the held-out items (those left out of
        each user's recommendations are the training items).
    data : tuple ``(rows, cols[, values[, shape]])`` or RatingData
    folds : int >= 2
    by : {"entries", "users"}
        ``"entries"``: the entries are dealt into ``folds`` random folds; ``"users"``: every
        user's entries are dealt into ``folds`` folds separately, so each fold holds out
        the same share of every user's (a user with fewer entries than folds is held out
        in fewer folds).
    k : int
        Cut-off of the ranking metrics.
    seed : int

    Returns
    -------
    dict
        ``metric -> [value per fold]`` (and ``"fit_seconds"``), plus ``"mean_<metric>"``.
    """
    rows, cols, values, shape = _parts(data)
    fold = fold_of_entries(rows, folds, by, seed)
    results = {}
    for held in range(folds):
        train, test = fold != held, fold == held
        model = clone(estimator)
        start = time.perf_counter()
        implicit = isinstance(model, ImplicitALS)
        if implicit:
            model.fit((rows[train], cols[train], values[train]), shape=shape)
        else:
            model.fit((rows[train], cols[train], values[train], shape))
        scores = {"fit_seconds": time.perf_counter() - start}
        if implicit:
            relevant = items_by_user(rows[test], cols[test])
            scores.update(ranking_report(recommendations(model, relevant, k), relevant, k))
        else:
            error = model.predict(rows[test], cols[test]) - values[test]
            scores.update(rmse=float(np.sqrt(np.mean(error**2))),
                          mae=float(np.mean(np.abs(error))))
        for name, value in scores.items():
            results.setdefault(name, []).append(value)
    results.update({f"mean_{name}": float(np.mean(v)) for name, v in list(results.items())})
    return results


def _parts(data):
    """Validated ``(rows, cols, values, shape)`` of triplets, pairs (values 1) or
    RatingData, read as ``MatrixCompletion`` reads them (entries kept in their order)."""
    parts = (data.rows, data.cols, data.values, data.shape) if hasattr(data, "rows") \
        else tuple(data)
    if len(parts) not in (2, 3, 4):
        raise ValueError("data must be (rows, cols[, values[, shape]]) or RatingData")
    if len(parts) == 2:
        parts = (*parts, np.ones(len(parts[0])))
    return listed_entries(parts)


def fold_of_entries(rows, folds=5, by="entries", seed=0):
    """The fold (``0 … folds − 1``) of every entry whose user is ``rows[e]``: the folds of
    :func:`cross_validate`, for running another package on the same ones.

    ``by="entries"`` deals the entries at random; ``by="users"`` deals every user's entries
    separately (shuffled, then in turn from a random first fold), so each fold holds out
    the same share of every user's."""
    folds = check_int("folds", folds, 2)
    check_choice("by", by, FOLDINGS)
    rows = np.asarray(rows)
    rng = np.random.default_rng(seed)
    if by == "entries":
        return rng.permutation(rows.size) % folds
    fold = np.empty(rows.size, dtype=np.intp)
    order = rng.permutation(rows.size)
    order = order[np.argsort(rows[order], kind="stable")]  # shuffled within each user
    starts = np.flatnonzero(np.r_[True, rows[order][1:] != rows[order][:-1]])
    position = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    fold[order] = (position + rng.integers(folds, size=starts.size).repeat(
        np.diff(np.r_[starts, rows.size]))) % folds
    return fold


