"""Alternating least squares for implicit feedback (Hu, Koren & Volinsky, "Collaborative
filtering for implicit feedback datasets", ICDM 2008).

Clicks, plays or purchases ``r_ui ≥ 0`` become a preference ``p_ui = [r_ui > 0]`` and a
confidence ``c_ui = 1 + α r_ui`` on *every* pair (unobserved pairs: ``p = 0``, ``c = 1``).
The model ``x_uᵀ y_i`` minimises

    Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ_u ||x_u||² + Σ_i ||y_i||²),

and with the items fixed each user solves

    (YᵀY + Yᵀ (C_u − I) Y + λ I) x_u = Yᵀ C_u p(u),

where ``YᵀY`` is shared by all users and ``C_u − I`` is non-zero only on the user's own
items: an exact half-step costs ``O(|Ω| k² + n k³)``, never ``O(n_users n_items)``, and a
conjugate-gradient step on all the users' systems at once ``O(|Ω| k + n k²)``. The same
holds for the items. The objective itself is evaluated the same way:
``Σ_{all} s² = tr(XᵀX YᵀY)`` plus the observed pairs' corrections.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real
from lrkit.ratings._observations import encoded_ids
from lrkit.ratings.dask_fit import is_dask_dataframe
from lrkit.ratings.implicit.side import InMemoryPairs, objective
from lrkit.ratings.ranking import ndcg_at_k
from lrkit.ratings.recommend import Recommender, items_by_user, recommendations
from lrkit.recovery.harness import Run
from lrkit.result import Status

#: Standard deviation of the random starting factors.
INIT_SCALE = 0.01
#: :meth:`ImplicitALS.score` is the NDCG of this many recommendations.
SCORE_K = 10


class ImplicitALS(Recommender, BaseEstimator):
    """Implicit-feedback matrix factorisation by alternating least squares.

    Parameters
    ----------
    rank : int, default 64
    alpha : float > 0, default 1
        Confidence slope: ``c = 1 + α r`` (the ``implicit`` package's default; the paper
        used 40 on viewing times). On MovieLens-100k liked films, 1 ranked best of 1, 10, 40.
    ridge : float >= 0, default 0.01
        ``λ``.
    n_iter : int, default 50
        Sweeps at most (each solves the users, then the items).
    tol : float, default 1e-3
        Stop when the objective's relative decrease in a sweep falls below ``tol``.
    cg_steps : int, default 3
        Conjugate-gradient steps per row and half-sweep, warm-started from the previous
        sweep; 0 solves every row's ``k × k`` system exactly. On MovieLens-100k both rank
        alike (precision@10 0.1594 and 0.1591, 5 folds) and 3 steps take 7.0 ms a sweep
        against 133 ms (compiled; 53 ms in NumPy without Numba; ``make bench``,
        "Recommendation: implicit feedback").
    seed : int or None

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of shape (n_users, rank), (n_items, rank)
    seen_ : scipy.sparse.csr_matrix
        The training pairs (what :meth:`recommend` leaves out).
    result_ : RecoveryResult
        The objective per sweep (``history["loss"]``) and the status.
    converged_ : bool
    popularity_ : ndarray (n_items,)
        Users per item: the ranking of a user unseen in ``fit``.
    user_ids_, item_ids_ : ndarray of str or None
        The users' and items' own ids when ``fit`` got names or codes rather than zero-based
        indices; :meth:`recommend` and :meth:`similar_items` then take and return those.

    Examples
    --------
    >>> import numpy as np, lrkit
    >>> from lrkit.ratings import ImplicitALS
    >>> ml = lrkit.problems.datasets.movielens_100k()
    >>> liked = ml.values >= 4                                 # implicit: the films rated 4+
    >>> model = ImplicitALS(rank=32, seed=0).fit((ml.rows[liked], ml.cols[liked]))
    >>> items, scores = model.recommend(0, n=5)                # user 0's five best unseen
    >>> len(items), bool(np.all(np.diff(scores) <= 0))
    (5, True)

    scikit-learn's ``GridSearchCV`` takes the pairs as an array or DataFrame of rows
    ``(user, item[, strength])``, folds them by entries, and ranks the options by
    :meth:`score` (NDCG@10 on the held-out fold)::

        GridSearchCV(ImplicitALS(seed=0), {"alpha": [1, 10]}, cv=5).fit(pairs)
    """

    def __init__(self, rank=64, alpha=1.0, ridge=0.01, n_iter=50, tol=1e-3, cg_steps=3,
                 seed=None):
        self.rank, self.alpha, self.ridge = rank, alpha, ridge
        self.n_iter, self.tol, self.cg_steps, self.seed = n_iter, tol, cg_steps, seed

    def fit(self, X, shape=None):
        """Learn from ``X``: ``(users, items)`` pairs, ``(users, items, strengths)``
        triplets (strengths ≥ 0: counts, ratings; a pair listed twice adds up), a 2-d
        array or pandas DataFrame with one such pair a row (2 or 3 columns), a
        scipy.sparse matrix of strengths, a :class:`~lrkit.problems.datasets.RatingData`,
        or a Dask DataFrame whose first two (or three) columns are users, items (and
        strengths), fit out of core (:mod:`lrkit.ratings.implicit.dask_pairs`).
        Users and items are zero-based integer indices, or ids of any other kind (names,
        codes), which the model then answers in.
        ``shape``: ``(n_users, n_items)`` when the data do not reach the last ones."""
        alpha = check_real("alpha", self.alpha, low=0.0, low_open=True)
        ridge = check_real("ridge", self.ridge, low=0.0)
        n_iter = check_int("n_iter", self.n_iter, 1)
        tol = check_real("tol", self.tol, low=0.0)
        steps = check_int("cg_steps", self.cg_steps, 0)
        if is_dask_dataframe(X):  # options first: reading a Dask frame is a pass over it
            from lrkit.ratings.implicit.dask_pairs import DaskPairs

            pairs = DaskPairs(X, shape)
            self.user_ids_, self.item_ids_ = pairs.ids
        else:
            R, self.user_ids_, self.item_ids_ = _strengths(X, shape)
            pairs = InMemoryPairs(R)
        rank = check_int("rank", self.rank, 1, min(pairs.shape))
        rng = as_generator(self.seed)
        X_ = INIT_SCALE * rng.standard_normal((pairs.shape[0], rank))
        Y_ = INIT_SCALE * rng.standard_normal((pairs.shape[1], rank))
        run, previous = Run("implicit_als", max_iter=n_iter), None
        with pairs.sides(alpha) as sweep:
            for _ in run.iterations():
                X_, Y_, observed = sweep(X_, Y_, ridge, steps)
                loss = objective(observed, X_, Y_, ridge)
                run.record(loss, (X_, Y_))
                if previous is not None and previous - loss <= tol * abs(previous):
                    run.stop(Status.CONVERGED,
                             f"objective decrease below tol={tol:g} in a sweep")
                previous = loss
        self.result_ = run.result((X_, Y_))
        self.converged_ = self.result_.converged
        self.user_factors_, self.item_factors_ = X_, Y_
        self.seen_ = pairs.seen
        self.popularity_ = np.bincount(self.seen_.indices,
                                       minlength=pairs.shape[1]).astype(float)
        return self

    def score(self, X, y=None):
        """NDCG@10 (:data:`SCORE_K`) of the recommendations for the users of the held-out
        pairs ``X`` (any form :meth:`fit` takes but a sparse matrix or Dask frame), their
        items being the relevant ones; the training pairs are left out of the lists, as in
        :meth:`recommend`; a user unseen in ``fit`` gets the popularity ranking (without
        :meth:`recommend`'s warning for each). Higher is better: what ``GridSearchCV``
        maximises."""
        check_is_fitted(self)
        users, items = _pair_columns(X)[:2]
        relevant = items_by_user(users, items if self.item_ids_ is None else items.astype(str))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            recommended = recommendations(self, relevant, SCORE_K)
        return ndcg_at_k(recommended, relevant, SCORE_K)

    def _user_scores(self, user):
        return self.item_factors_ @ self.user_factors_[user]

    def _cold_scores(self):
        return self.popularity_

    def _item_vectors(self):
        return self.item_factors_

    def _n_users(self):
        return self.user_factors_.shape[0]


def _strengths(X, shape):
    """``(R, user ids, item ids)``: a CSR matrix of non-negative strengths (duplicates
    summed) from pairs, triplets, a sparse matrix or RatingData, and the users' and items'
    own ids where they were not zero-based indices (None otherwise)."""
    user_ids = item_ids = None
    if sp.issparse(X):
        R = sp.csr_matrix(X, dtype=float)
    else:
        parts = _pair_columns(X)
        rows, cols = parts[:2]
        values = np.ones(rows.size) if len(parts) == 2 else np.asarray(parts[2], dtype=float)
        if rows.shape != cols.shape or values.shape != rows.shape or rows.ndim != 1:
            raise ValueError("users, items (and strengths) must be 1-d arrays of one length")
        if rows.size == 0:
            raise ValueError("X holds no interaction")
        (rows, user_ids), (cols, item_ids) = encoded_ids(rows, "users"), encoded_ids(cols, "items")
        if user_ids is not None or item_ids is not None:
            shape = (int(rows.max()) + 1 if user_ids is None else len(user_ids),
                     int(cols.max()) + 1 if item_ids is None else len(item_ids))
        shape = shape or (int(rows.max()) + 1, int(cols.max()) + 1)
        if rows.max() >= shape[0] or cols.max() >= shape[1]:
            raise ValueError(f"shape={tuple(shape)} is smaller than the indices reach")
        R = sp.csr_matrix((values, (rows, cols)), shape=tuple(shape))
    R.sum_duplicates()
    if not np.all(np.isfinite(R.data)) or np.any(R.data < 0):
        raise ValueError("strengths must be finite and non-negative (counts, ratings)")
    R.eliminate_zeros()
    if R.nnz == 0:
        raise ValueError("X holds no positive interaction")
    return R, user_ids, item_ids


def _pair_columns(X):
    """``(users, items[, strengths])`` as arrays from pairs or triplets given as arrays,
    as the rows of a 2-d array or DataFrame with 2 or 3 columns, or as RatingData."""
    if hasattr(X, "rows") and hasattr(X, "cols"):
        return X.rows, X.cols, X.values
    if hasattr(X, "iloc") and getattr(X, "ndim", 0) == 2:
        parts = tuple(X.iloc[:, j].to_numpy() for j in range(X.shape[1]))
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] in (2, 3):
        parts = tuple(X.T)
        if X.dtype.kind == "f" and np.all(X[:, :2] == np.round(X[:, :2])):
            parts = (parts[0].astype(np.int64), parts[1].astype(np.int64), *parts[2:])
    else:
        parts = tuple(np.asarray(part) for part in X)
    if len(parts) not in (2, 3):
        raise ValueError("X must be (users, items), (users, items, strengths), an array or "
                         "DataFrame of such rows, a sparse matrix or RatingData; got "
                         f"{len(parts)} columns")
    return parts
