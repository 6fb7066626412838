"""``MatrixCompletion``: a scikit-learn style imputer built on the completion solvers."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from lrkit._validation import check_choice, check_int, check_real
from lrkit.ratings._observations import (
    ObservedInput,
    nan_filled,
    sparse_entries,
)
from lrkit.ratings.biased_als import SEARCH_SWEEPS, fold_in_rows
from lrkit.ratings.biased_fit import BiasedFit
from lrkit.ratings.dask_fit import is_dask_dataframe
from lrkit.ratings.evaluation import HeldOutScore
from lrkit.ratings.options import AUTO, BIASED, FILL_RULES
from lrkit.ratings.plain_fit import PlainFit
from lrkit.ratings.recommend import RatingsRecommender, seen_matrix
from lrkit.recovery._row_systems import RowSystems
from lrkit.recovery.completion_rank import RANK_RULES
from lrkit.recovery.registry import solvers_needing

#: Default iteration bound per method (sweeps, for the biased model).
MAX_ITER = {"altmin": 300, "softimpute": 3000, BIASED: SEARCH_SWEEPS, AUTO: SEARCH_SWEEPS}


class MatrixCompletion(BiasedFit, PlainFit, RatingsRecommender, HeldOutScore,
                       ObservedInput, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Fill the missing entries of a matrix, or predict ratings, with a low-rank model.

    ``method="biased_als"`` is made for ratings: the model ``μ + b_i + c_j + <f_i, g_j>``
    (global mean, row and column biases, low-rank factors) fit by weighted-λ alternating
    least squares, an average of ``n_models`` fits from random starts
    (:mod:`lrkit.ratings.biased_als`). Its rank, ridge and number of sweeps are chosen on
    held-out entries unless given (a warm-started path over the ridges; the best state then
    runs a few sweeps on all the entries), and rows or columns without observations are
    predicted by the biases (cold start). ``"altmin"`` and ``"softimpute"`` fit a plain
    low-rank ``F Gᵀ`` with :func:`lrkit.recover` (exact on exactly low-rank data). The
    default, ``"auto"``, fits the biased model, then scores plain ``altmin`` (ridge 0) on the
    same held-out entries and keeps the better (:mod:`lrkit.ratings.plain_fit`): right on
    ratings and on generic low-rank data; ``method_`` says which.

    ``X`` is a dense matrix with NaN at the missing entries, a ``scipy.sparse`` matrix whose
    stored entries are the observations (explicit zeros are observed values), a triplet
    ``(rows, cols, values)`` or ``(rows, cols, values, shape)`` (shape, when not given: the
    largest indices plus one), or a :class:`~lrkit.problems.datasets.RatingData`.
    :meth:`predict` gives values at ``(row, column)`` pairs without forming the matrix;
    ``transform`` fills new rows: each row's factor (and bias) solves the ridge problem on
    its observed entries. Observed entries are always kept.

    Parameters
    ----------
    rank : int or "auto", default "auto"
        Rank of the model (per fit, for ``biased_als``); ``"auto"`` chooses it on held-out
        entries (``biased_als``: 10 or 5; the plain models: :func:`select_completion_rank`
        with ``rank_rule``, up to ``max_rank``).
    method : {"auto", "biased_als", "altmin", "softimpute"}, default "auto"
    ridge : float >= 0, optional
        Ridge penalty of the row solves. ``biased_als``: weighted-λ (``ridge · n_i ||f_i||²``
        on values divided by their standard deviation, so the same ridge suits any scale),
        chosen on held-out entries when None; the others: ``ridge ||f||²``, 0 when None.
    center : bool, default False
        Subtract each column's observed mean before fitting (the biases of ``biased_als``
        do this and more).
    fill_empty : {"auto", "error", "mean"}, default "auto"
        Rows or columns with no observed entry: ``"auto"`` predicts them by the biases with
        ``biased_als`` and refuses them (``"error"``) with the others; ``"mean"`` fills them
        with the column mean (the global mean for an empty column).
    rank_rule : {"holdout", "gap"}, default "holdout"
    max_rank : int, optional
    max_iter : int, optional
        Default :data:`MAX_ITER` of the method: 300 for altmin (which converges in tens of
        iterations), 3000 for the softimpute path (one solve per λ; 300 stopped some seeds
        before the path reached the rank), 30 sweeps for ``biased_als`` (each run of the
        held-out search, which stops earlier when that predicts better).
    tol : float, default 1e-10
    n_models : int >= 1, default 5
        ``biased_als`` fits averaged.
    seed : int or None

    Attributes
    ----------
    method_ : str
        The model fit: the method asked for, or for ``"auto"`` the one chosen.
    rank_ : int
    ridge_ : float
        The ridge used (chosen or given).
    components_ : ndarray of shape (n_features, r)
        Column factors ``G`` (``r = rank_``, or ``n_models · rank_`` for ``biased_als``).
    row_factors_ : ndarray of shape (n_samples, r)
        Row factors ``F`` of the training matrix.
    mean_ : ndarray (n_features,)
        Column offsets: the removed column means (zeros when ``center=False``); for
        ``biased_als`` the global mean plus the column biases.
    row_bias_ : ndarray (n_samples,)
        Row biases (zeros except for ``biased_als``).
    overall_mean_ : float
        The mean of the observed values: the baseline of a column unseen in ``fit``.
    rank_scores_ : dict
        The scores of the search: held-out RMSE per rank, per ``(rank, ridge)`` for
        ``biased_als``, per ``(method, rank, ridge)`` for ``auto``.
    result_ : RecoveryResult
    n_iter_ : int
        Iterations of the final fit (``biased_als``: its sweeps on all the entries, after
        the search's best state; on a Dask DataFrame larger than the search's sample, also
        the sweeps that stopped early on held-out entries).
    converged_ : bool
        Whether the final fit converged; when it did not, ``fit`` warns with a
        :class:`~lrkit.ConvergenceWarning`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    user_ids_, item_ids_ : ndarray of str or None
        The ids of a ``(rows, cols, values)`` fit on names or codes: ``predict(rows, cols)``,
        ``recommend`` and ``similar_items`` take and return them (unknown: the baseline).

    See Also
    --------
    lrkit.recover : the solvers.
    sklearn.impute.IterativeImputer : column-wise regression imputation.

    References
    ----------
    Jain, Netrapalli & Sanghavi (2013), low-rank matrix completion using alternating
    minimization. Mazumder, Hastie & Tibshirani (2010), spectral regularization algorithms
    for learning large incomplete matrices. Zhou, Wilkinson, Schreiber & Pan (2008),
    large-scale parallel collaborative filtering for the Netflix prize (ALS-WR).

    Examples
    --------
    >>> import numpy as np, lrkit
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    >>> X = np.where(rng.random(M.shape) < 0.5, M, np.nan)
    >>> Y = lrkit.MatrixCompletion(rank=3, method="altmin", seed=0).fit_transform(X)
    >>> bool(np.abs(Y - M).max() < 1e-6)
    True
    >>> ratings = lrkit.problems.datasets.movielens_100k()   # rows, cols, values, shape
    >>> model = lrkit.MatrixCompletion(seed=0).fit(ratings)   # biases, rank, ridge: chosen
    >>> model.predict([0, 0], [0, 1]).shape                   # user 0's ratings of films 0, 1
    (2,)
    """

    def __init__(self, rank="auto", method=AUTO, *, ridge=None, center=False,
                 fill_empty="auto", rank_rule="holdout", max_rank=None, max_iter=None,
                 tol=1e-10, n_models=5, seed=None):
        self.rank = rank
        self.method = method
        self.ridge = ridge
        self.center = center
        self.fill_empty = fill_empty
        self.rank_rule = rank_rule
        self.max_rank = max_rank
        self.max_iter = max_iter
        self.tol = tol
        self.n_models = n_models
        self.seed = seed

    def fit(self, X, y=None):
        """Learn the model from the observed entries of ``X`` (NaN-marked dense, sparse,
        ``(rows, cols, values)``, or a Dask DataFrame whose first three columns are row,
        column and value: then the data stay on disk or on the cluster, see
        :mod:`lrkit.ratings.dask_fit`)."""
        if is_dask_dataframe(X):
            self._fit_dask(X)
        else:
            self._fit(*self._observations(X, fitting=True))
        return self

    def predict(self, X, cols=None, *, return_known=False):
        """The model's values: at ``(row, column)`` pairs of the training matrix, or at
        every entry of new rows.

        ``predict(rows, cols)`` (the recommender form) gives the values at the pairs
        ``(rows[e], cols[e])`` (cold rows and columns by their biases) without forming
        the matrix. A row or column index beyond the fitted matrix (a user or item first
        seen after ``fit``, e.g. only in a test fold) gets the baseline prediction, as
        recommenders do: the known column's mean, or the global mean plus the known row's
        bias, or the global mean; a ``UserWarning`` counts them. ``return_known=True``
        also returns the boolean mask of the pairs the model knows both sides of.

        ``predict(X)`` (the scikit-learn form; ``X`` dense with NaN at the missing
        entries, or sparse with the observations stored) gives the model's value at every
        entry of the new rows, observed ones included (:meth:`transform` keeps those):
        each row's factor and bias solve the ridge problem on its observed entries.
        """
        if cols is None:
            if return_known:
                raise ValueError("return_known applies to predict(rows, cols); predict(X) "
                                 "knows every column")
            return self._model_values(*self._fold_in(X)[1:])
        return self._predict_pairs(X, cols, return_known)

    def _predict_pairs(self, rows, cols, return_known):
        self._check_fitted()
        rows, cols = self._pair_positions(rows, cols)
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols must have the same length; got {rows.size} and "
                             f"{cols.size}")
        known_row = rows < self.row_factors_.shape[0]
        known_col = cols < self.components_.shape[0]
        known = known_row & known_col
        r, c = rows[known], cols[known]
        fitted = np.empty(rows.size)
        fitted[known] = (np.einsum("ek,ek->e", self.row_factors_[r], self.components_[c])
                         + self.row_bias_[r] + self.mean_[c])
        if self._empty_rule() != "predict":
            empty = ~self._observed_rows_[r]
            fitted[np.flatnonzero(known)[empty]] = self.fill_values_[c[empty]]
        if not known.all():
            new_row, new_col = ~known_row & known_col, known_row & ~known_col
            fitted[new_row] = self.fill_values_[cols[new_row]]
            fitted[new_col] = self.overall_mean_ + self.row_bias_[rows[new_col]]
            fitted[~known_row & ~known_col] = self.overall_mean_
            warnings.warn(f"{int((~known).sum())} of {rows.size} pairs have a row or column "
                          "not seen in fit; they get the baseline prediction (mean plus the "
                          "known bias)", UserWarning, stacklevel=2)
        return (fitted, known) if return_known else fitted

    def _fit(self, rows, cols, values, shape):
        self._check_params()
        self._learn_columns(np.bincount(rows, minlength=shape[0]),
                            np.bincount(cols, minlength=shape[1]),
                            np.bincount(cols, weights=values, minlength=shape[1]),
                            float(values.mean()))
        offsets, self.seen_ = self.mean_, seen_matrix(rows, cols, shape)
        values = values - offsets[cols]
        if self.method in (AUTO, BIASED):
            held_out = self._fit_biased(rows, cols, values, shape)
            if self.method == AUTO:
                self._weigh_plain(rows, cols, values, shape, held_out, offsets)
        else:
            self._fit_plain(rows, cols, values, shape, self.method,
                            None if self.rank == "auto" else self._given_rank(shape))

    def _learn_columns(self, row_counts, col_counts, col_sums, overall_mean):
        """What every fit learns from the observation counts: the fill values (observed
        column means; ``overall_mean`` for a column without observations), which rows were
        observed, the centring (``center``: the observed column means, 0 for a column with
        none) and zero row biases."""
        has_values = col_counts > 0
        self.overall_mean_ = float(overall_mean)
        self.fill_values_ = np.where(has_values, col_sums / np.maximum(col_counts, 1),
                                     overall_mean)
        self._observed_rows_ = row_counts > 0
        self.mean_ = (np.where(has_values, self.fill_values_, 0.0) if self.center
                      else np.zeros(len(col_counts)))
        self.row_bias_ = np.zeros(len(row_counts))

    def _given_rank(self, shape):
        most = min(shape) - 1
        if not isinstance(self.rank, numbers.Integral) or not 1 <= self.rank <= most:
            raise ValueError(f"rank={self.rank!r} does not fit X of shape {shape}: a "
                             f"completion rank is an int in [1, min(X.shape) - 1 = {most}]")
        return int(self.rank)

    def transform(self, X):
        """New rows with their missing entries filled (a dense array); observed entries
        unchanged. ``X``: dense with NaN at the missing entries, or sparse with the
        observations stored."""
        X, observed, F, bias = self._fold_in(X)
        return np.where(observed, X, self._model_values(observed, F, bias))

    def _fold_in(self, X):
        """``(X, observed, F, bias)`` of new rows: ``X`` dense with NaN at the missing
        entries, each row's factor and bias fit to its observed entries (ridge solves)."""
        self._check_fitted()
        if sp.issparse(X):
            rows, cols, values, shape = sparse_entries(X)
            if shape[1] != self.n_features_in_:
                raise ValueError(f"X has {shape[1]} features, but MatrixCompletion is "
                                 f"expecting {self.n_features_in_} features as input")
            self._check_empty(np.bincount(rows, minlength=shape[0]) == 0, [], fitting=False)
            X = nan_filled(rows, cols, values, shape)
            observed = ~np.isnan(X)
        else:
            X, observed = self._check_input(X, fitting=False)
            rows, cols = np.nonzero(observed)
        values = X[rows, cols] - self.mean_[cols]
        if self.method_ == BIASED:  # solved in the units of the fit (values / scale)
            scale = self.value_scale_
            F, bias = fold_in_rows(rows, cols, values / scale, X.shape[0],
                                   self.components_ / np.sqrt(scale), self.ridge_)
            F, bias = F * np.sqrt(scale), bias * scale
        else:
            F = RowSystems(rows, cols, values, X.shape[0]).solve_exact(self.components_,
                                                                      self.ridge_)
            bias = np.zeros(X.shape[0])
        return X, observed, F, bias

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and fill it with the fitted model (a dense array, also for sparse
        or triplet input)."""
        rows, cols, values, shape = self._observations(X, fitting=True)
        self._fit(rows, cols, values, shape)
        X = nan_filled(rows, cols, values, shape)
        observed = ~np.isnan(X)
        return np.where(observed, X,
                        self._model_values(observed, self.row_factors_, self.row_bias_))

    def _model_values(self, observed, F, bias):
        """``F Gᵀ`` plus the biases and offsets; rows without observations get the fill
        values unless the model predicts them."""
        estimate = F @ self.components_.T + bias[:, None] + self.mean_
        if self._empty_rule() != "predict":
            estimate[~observed.any(axis=1)] = self.fill_values_
        return estimate

    def _empty_rule(self):
        """What rows and columns without observations get: ``"error"`` (refused),
        ``"mean"`` (the column means) or ``"predict"`` (the model, which for ``biased_als``
        is the global mean plus the column bias); ``fill_empty="auto"`` resolved."""
        if self.fill_empty != "auto":
            return self.fill_empty
        if getattr(self, "method_", self.method) in (AUTO, BIASED):
            return "predict"
        return "mean" if self.method == AUTO else "error"

    def _max_iter(self, method=None):
        """``max_iter``, or the default of ``method`` (the one asked for when None)."""
        method = self.method if method is None else method
        return MAX_ITER[method] if self.max_iter is None else self.max_iter

    def _check_params(self):
        check_choice("method", self.method, (AUTO, BIASED, *solvers_needing("entries")))
        check_choice("fill_empty", self.fill_empty, FILL_RULES)
        check_choice("rank_rule", self.rank_rule, RANK_RULES)
        if self.ridge is not None:
            check_real("ridge", self.ridge, low=0.0)
        check_int("n_models", self.n_models, 1)
        if self.max_iter is not None:
            check_int("max_iter", self.max_iter, 1)
        if self.rank != "auto" and (isinstance(self.rank, str) or self.rank is None):
            raise ValueError(f"rank must be a positive int or 'auto'; got {self.rank!r}")

    def _check_fitted(self):
        check_is_fitted(self, "components_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN marks the entries to fill
        tags.input_tags.sparse = True  # stored entries are the observations
        return tags
