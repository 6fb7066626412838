"""Top-N recommendation from a fitted factor model: :meth:`Recommender.recommend` (a user's
best unseen items), :meth:`Recommender.similar_items` (cosine similarity of item factors),
and :func:`recommendations` for many users at once (what the ranking metrics take)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from lrkit._validation import check_int


class Recommender:
    """The recommending part of a fitted model (a mixin). The model provides
    ``_user_scores(user)`` (a score per item, higher is better), ``_cold_scores()`` (the
    scores of a user unseen in ``fit``), ``_item_vectors()``, ``_n_users()`` and ``seen_``
    (a CSR matrix of the users' training items, or None when the fit did not keep them)."""

    def recommend(self, user, n=10, exclude_seen=True):
        """The ``n`` best items for ``user`` as ``(items, scores)``, best first; items the
        user had in ``fit`` are left out unless ``exclude_seen=False``. A user unseen in
        ``fit`` gets the model's cold-start ranking, with a warning."""
        check_is_fitted(self)
        n = check_int("n", n, 1)
        user = self._position("user", user, getattr(self, "user_ids_", None))
        if exclude_seen and self.seen_ is None:
            raise ValueError("exclude_seen needs the training pairs, which a fit on a Dask "
                             "DataFrame does not keep; pass exclude_seen=False")
        if user >= self._n_users():
            warnings.warn(f"user {user} was not seen in fit: recommending by the cold-start "
                          "scores (popularity or the item biases)", UserWarning, stacklevel=2)
            scores = self._cold_scores().astype(float)
        else:
            scores = np.array(self._user_scores(user), dtype=float)
            if exclude_seen:
                seen = self.seen_
                scores[seen.indices[seen.indptr[user]:seen.indptr[user + 1]]] = -np.inf
        return self._as_ids(*_top(scores, n))

    def similar_items(self, item, n=10):
        """The ``n`` items whose factors are most cosine-similar to ``item``'s (the item
        itself left out), as ``(items, similarities)``."""
        check_is_fitted(self)
        n = check_int("n", n, 1)
        vectors = self._item_vectors()
        item = self._position("item", item, getattr(self, "item_ids_", None))
        item = check_int("item", item, 0, len(vectors) - 1)
        norms = np.linalg.norm(vectors, axis=1)
        similarity = vectors @ vectors[item] / np.maximum(norms * norms[item], 1e-300)
        similarity[item] = -np.inf
        return self._as_ids(*_top(similarity, n))

    @staticmethod
    def _position(what, key, ids):
        """The model's index of a user or item given by index, or by id when the model
        was fit on ids (an unknown user id: past the last user, i.e. cold)."""
        if ids is None:
            return check_int(what, key, 0)
        key = str(key)
        at = int(np.searchsorted(ids, key))  # the ids are sorted
        if at < len(ids) and ids[at] == key:
            return at
        if what == "item":
            raise ValueError(f"item {key!r} was not seen in fit")
        return len(ids)

    def _as_ids(self, items, scores):
        ids = getattr(self, "item_ids_", None)
        return (items if ids is None else ids[items]), scores


class RatingsRecommender(Recommender):
    """:class:`Recommender` for :class:`~lrkit.ratings.MatrixCompletion`: scores are the
    predicted ratings, a new user gets the items' observed means."""

    def _user_scores(self, user):
        return self.components_ @ self.row_factors_[user] + self.row_bias_[user] + self.mean_

    def _cold_scores(self):
        return self.fill_values_

    def _item_vectors(self):
        return self.components_

    def _n_users(self):
        return self.row_factors_.shape[0]


def _top(scores, n):
    """``(indices, scores)`` of the ``n`` largest finite scores, best first."""
    finite = np.flatnonzero(np.isfinite(scores))
    n = min(n, finite.size)
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    best = finite[np.argpartition(-scores[finite], n - 1)[:n]]
    best = best[np.argsort(-scores[best], kind="stable")]
    return best, scores[best]


def seen_matrix(rows, cols, shape):
    """The CSR pattern of the training pairs (which items each user had)."""
    data = np.ones(len(rows), dtype=bool)
    return sp.csr_matrix((data, (rows, cols)), shape=shape)


def recommendations(model, users, n=10, exclude_seen=True):
    """``{user: items}`` of :meth:`Recommender.recommend` for every user in ``users``
    (indices, or the ids the model was fit on)."""
    users = users.tolist() if isinstance(users, np.ndarray) else users
    return {u: model.recommend(u, n, exclude_seen)[0].tolist() for u in users}


def items_by_user(rows, cols):
    """``{user: [items]}`` of the pairs ``(rows, cols)`` (the held-out relevant items the
    ranking metrics take), users and items as given: indices or ids."""
    grouped = {}
    for user, item in zip(np.asarray(rows).tolist(), np.asarray(cols).tolist(), strict=True):
        grouped.setdefault(user, []).append(item)
    return grouped


def held_out_by_user(rows, cols, test_fraction=0.2, seed=None, min_items=2):
    """A per-user split of the pairs ``(rows, cols)``: ``test_fraction`` of each user's
    items (at least one, for users with ``min_items`` or more) held out. Returns boolean
    masks ``(train, test)`` over the pairs."""
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows)
    test = np.zeros(rows.size, dtype=bool)
    order = np.argsort(rows, kind="stable")
    starts = np.flatnonzero(np.r_[True, rows[order][1:] != rows[order][:-1]])
    for start, stop in zip(starts, np.r_[starts[1:], rows.size], strict=True):
        count = stop - start
        if count >= min_items:
            chosen = rng.choice(count, max(1, int(round(test_fraction * count))),
                                replace=False)
            test[order[start + chosen]] = True
    return ~test, test
