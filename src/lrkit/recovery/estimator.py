"""``MatrixCompletion``: a scikit-learn style imputer built on the completion solvers."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from lrkit._backend import foreign_array, to_numpy
from lrkit._validation import check_choice, check_real
from lrkit.exceptions import ConvergenceWarning
from lrkit.operators import EntrySampling
from lrkit.recovery._row_systems import RowSystems
from lrkit.recovery.api import recover
from lrkit.recovery.completion_rank import RANK_RULES, select_completion_rank
from lrkit.recovery.registry import get_solver, solvers_needing

FILL_RULES = ("error", "mean")
#: Default iteration bound per method.
MAX_ITER = {"altmin": 300, "softimpute": 3000}


class MatrixCompletion(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Fill the missing (NaN) entries of a matrix with a low-rank model.

    ``fit`` learns row factors ``F`` and column factors ``G`` (``components_``) from the
    observed entries of ``X`` with :func:`lrkit.recover` (``method="altmin"`` or
    ``"softimpute"``). ``transform`` fills new rows: each row's factor solves the ridge
    problem ``min_f Σ_{j observed} (x_j − <f, g_j>)² + ridge ||f||²``, then
    ``x̂_j = <f, g_j>`` on its missing entries. Observed entries are always kept exactly.

    Parameters
    ----------
    rank : int or "auto", default "auto"
        Rank of the model; ``"auto"`` chooses it with :func:`select_completion_rank`
        (``rank_rule``, up to ``max_rank``).
    method : {"altmin", "softimpute"}, default "altmin"
    ridge : float >= 0, default 0
        Ridge penalty of the row solves (altmin and ``transform``).
    center : bool, default False
        Subtract each column's observed mean before fitting (usual for ratings).
    fill_empty : {"error", "mean"}, default "error"
        What to do with rows or columns that have no observed entry: raise ``ValueError``,
        or ignore them while fitting and fill them with the column mean (the global mean
        for an empty column).
    rank_rule : {"holdout", "gap"}, default "holdout"
    max_rank : int, optional
    max_iter : int, optional
        Default :data:`MAX_ITER` of the method: 300 for altmin (which converges in tens of
        iterations), 3000 for the softimpute path (one solve per λ; 300 stopped some seeds
        before the path reached the rank).
    tol : float, default 1e-10
    seed : int or None

    Attributes
    ----------
    rank_ : int
    components_ : ndarray of shape (n_features, ``rank_``)
        Column factors ``G``.
    row_factors_ : ndarray of shape (n_samples, ``rank_``)
        Row factors ``F`` of the training matrix.
    mean_ : ndarray (n_features,)
        Column means removed before fitting (zeros when ``center=False``).
    rank_scores_ : dict
        The scores of the rank search when ``rank="auto"``.
    result_ : RecoveryResult
    n_iter_ : int
        Iterations of the final fit.
    converged_ : bool
        Whether the final fit converged; when it did not, ``fit`` warns with a
        :class:`~lrkit.ConvergenceWarning`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    lrkit.recover : the solvers.
    sklearn.impute.IterativeImputer : column-wise regression imputation.

    References
    ----------
    Jain, Netrapalli & Sanghavi (2013), low-rank matrix completion using alternating
    minimization. Mazumder, Hastie & Tibshirani (2010), spectral regularization algorithms
    for learning large incomplete matrices.

    Examples
    --------
    >>> import numpy as np, lrkit
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    >>> X = np.where(rng.random(M.shape) < 0.5, M, np.nan)
    >>> Y = lrkit.MatrixCompletion(rank=3, seed=0).fit_transform(X)
    >>> bool(np.abs(Y - M).max() < 1e-6)
    True
    """

    def __init__(self, rank="auto", method="altmin", *, ridge=0.0, center=False,
                 fill_empty="error", rank_rule="holdout", max_rank=None, max_iter=None,
                 tol=1e-10, seed=None):
        self.rank = rank
        self.method = method
        self.ridge = ridge
        self.center = center
        self.fill_empty = fill_empty
        self.rank_rule = rank_rule
        self.max_rank = max_rank
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    def fit(self, X, y=None):
        """Learn the low-rank model from the observed (non-NaN) entries of ``X``."""
        self._fit(*self._check_input(X, fitting=True))
        return self

    def _fit(self, X, observed):
        self._check_params()
        self.fill_values_ = self._fallback_values(X, observed)
        # Centring removes the observed column means (0 for a column with none).
        self.mean_ = (np.where(observed.any(axis=0), self.fill_values_, 0.0) if self.center
                      else np.zeros(X.shape[1]))
        rows, cols = np.nonzero(observed)
        operator = EntrySampling(X.shape, rows, cols)
        values = X[rows, cols] - self.mean_[cols]
        if self.rank == "auto":
            self.rank_, self.rank_scores_ = select_completion_rank(
                operator, values, self.max_rank, self.rank_rule, ridge=self.ridge,
                seed=self.seed)
        else:
            most = min(X.shape) - 1
            if not isinstance(self.rank, numbers.Integral) or not 1 <= self.rank <= most:
                raise ValueError(f"rank={self.rank!r} does not fit X of shape {X.shape}: a "
                                 f"completion rank is an int in [1, min(X.shape) - 1 = {most}]")
            self.rank_ = int(self.rank)
            self.rank_scores_ = {}
        options = {"ridge": self.ridge} if "ridge" in get_solver(self.method).options else {}
        with warnings.catch_warnings():
            # The solver's own warning is replaced by one that names the estimator.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.result_ = recover(operator, values, self.rank_, method=self.method,
                                   max_iter=self._max_iter(), tol=self.tol, seed=self.seed,
                                   **options)
        self.n_iter_, self.converged_ = self.result_.n_iter, self.result_.converged
        if not self.converged_:
            warnings.warn(f"MatrixCompletion({self.method}) did not converge: "
                          f"{self.result_.message}; raise max_iter (now {self._max_iter()}) or "
                          "lower the rank", ConvergenceWarning, stacklevel=3)
        F, G = (np.asarray(f) for f in self.result_.factors)
        self.row_factors_, self.components_ = F, G

    def transform(self, X):
        """``X`` with its missing entries filled; observed entries unchanged."""
        self._check_fitted()
        X, observed = self._check_input(X, fitting=False)
        rows, cols = np.nonzero(observed)
        values = X[rows, cols] - self.mean_[cols]
        systems = RowSystems(rows, cols, values, X.shape[0])
        F = systems.solve_exact(self.components_, self.ridge)
        return self._fill(X, observed, F)

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and fill it with the fitted row factors."""
        X, observed = self._check_input(X, fitting=True)
        self._fit(X, observed)
        return self._fill(X, observed, self.row_factors_)

    def _fill(self, X, observed, F):
        estimate = F @ self.components_.T + self.mean_
        empty_rows = ~observed.any(axis=1)
        estimate[empty_rows] = self.fill_values_
        return np.where(observed, X, estimate)

    def _fallback_values(self, X, observed):
        """Fill values for empty rows: column means, the global mean for empty columns."""
        counts = observed.sum(axis=0)
        sums = np.where(observed, X, 0.0).sum(axis=0)
        overall = sums.sum() / counts.sum()
        return np.where(counts > 0, sums / np.maximum(counts, 1), overall)

    def _max_iter(self):
        return MAX_ITER[self.method] if self.max_iter is None else self.max_iter

    def _check_params(self):
        check_choice("method", self.method, solvers_needing("entries"))
        check_choice("fill_empty", self.fill_empty, FILL_RULES)
        check_choice("rank_rule", self.rank_rule, RANK_RULES)
        check_real("ridge", self.ridge, low=0.0)
        if self.rank != "auto" and (isinstance(self.rank, str) or self.rank is None):
            raise ValueError(f"rank must be a positive int or 'auto'; got {self.rank!r}")

    def _check_input(self, X, fitting):
        """scikit-learn's own input validation (feature counts and names, dtypes, 1-d or
        complex or empty input, at least 2 rows and 2 columns to fit, NaN allowed, inf
        refused),
        after moving tensors to NumPy; sparse input is refused by name."""
        if sp.issparse(X):
            raise ValueError("X is a scipy.sparse matrix: MatrixCompletion fills a dense "
                             "matrix; pass X.toarray() with NaN at the missing entries")
        if foreign_array(X) is not None:
            X = to_numpy(X)
        if _is_complex(X):
            raise ValueError("X is complex: Complex data not supported; MatrixCompletion "
                             "works on real matrices")
        X = validate_data(self, X, reset=fitting, dtype=np.float64,
                          ensure_all_finite="allow-nan", ensure_min_samples=2 if fitting else 1,
                          ensure_min_features=2 if fitting else 1, copy=True)
        observed = ~np.isnan(X)
        if not observed.any():
            raise ValueError("X has no observed entry: every value is NaN")
        if self.fill_empty == "error":
            empty_rows = np.flatnonzero(~observed.any(axis=1))
            empty_cols = np.flatnonzero(~observed.any(axis=0))
            if len(empty_rows) or (fitting and len(empty_cols)):
                raise ValueError(
                    f"X has {len(empty_rows)} all-NaN row(s) (first: {empty_rows[:3].tolist()})"
                    f" and {len(empty_cols)} all-NaN column(s) "
                    f"(first: {empty_cols[:3].tolist()}); drop them or set fill_empty='mean'")
        return X, observed

    def _check_fitted(self):
        check_is_fitted(self, "components_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN marks the entries to fill
        return tags


def _is_complex(X) -> bool:
    """Whether an array or DataFrame holds complex numbers (lists are left to
    scikit-learn's own check)."""
    dtypes = [X.dtype] if hasattr(X, "dtype") else list(getattr(X, "dtypes", []))
    return any(getattr(dtype, "kind", "") == "c" for dtype in dtypes)
