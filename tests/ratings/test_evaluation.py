"""Model selection for ratings (issue 44): ``score`` for scikit-learn's GridSearchCV and
``cross_validate`` by entries or within users."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

import lrkit
from lrkit.ratings import ImplicitALS, cross_validate


def _low_rank(seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((120, 3)) @ rng.standard_normal((3, 40))
    return M, np.where(rng.random(M.shape) < 0.5, M, np.nan)


def test_score_is_minus_the_rmse_of_hidden_entries_of_new_rows():
    M, X = _low_rank()
    exact = lrkit.MatrixCompletion(rank=3, method="altmin", seed=0).fit(X[:80])
    assert -1e-8 < exact.score(X[80:]) <= 0  # exact data: the hidden entries come back
    coarse = lrkit.MatrixCompletion(rank=1, method="altmin", seed=0).fit(X[:80])
    assert coarse.score(X[80:]) < -0.5


def test_grid_search_finds_the_rank():
    _, X = _low_rank(1)
    search = GridSearchCV(lrkit.MatrixCompletion(method="altmin", seed=0),
                          {"rank": [1, 2, 3, 5]}, cv=3).fit(X)
    assert search.best_params_ == {"rank": 3}
    assert search.best_score_ > -1e-6


def _triplets(seed=2):
    rng = np.random.default_rng(seed)
    M = 3 + rng.standard_normal((200, 3)) @ rng.standard_normal((3, 80)) / 2
    rows, cols = np.nonzero(rng.random(M.shape) < 0.3)
    return rows, cols, M[rows, cols] + 0.1 * rng.standard_normal(rows.size), M.shape


@pytest.mark.parametrize("by", ["entries", "users"])
def test_cross_validate_folds_every_entry_once(by):
    rows, cols, values, shape = _triplets()
    result = cross_validate(lrkit.MatrixCompletion(rank=4, method="altmin", seed=0),
                            (rows, cols, values, shape), folds=4, by=by)
    assert len(result["rmse"]) == 4 and len(result["fit_seconds"]) == 4
    assert result["mean_rmse"] == pytest.approx(np.mean(result["rmse"]))
    assert 0.09 < result["mean_rmse"] < 0.2  # the noise is 0.1; rank 3 plus the mean 3
    assert result["mean_mae"] < result["mean_rmse"]


def test_within_user_folds_hold_out_the_same_share_of_every_user():
    from lrkit.ratings import fold_of_entries

    rows = np.repeat(np.arange(50), 20)
    fold = fold_of_entries(rows, 5, "users", seed=0)
    counts = np.array([[np.sum((rows == u) & (fold == f)) for f in range(5)]
                       for u in range(50)])
    assert np.all(counts == 4)


def test_cross_validate_ranks_implicit_feedback():
    ml = lrkit.problems.datasets.movielens_100k()
    liked = ml.values >= 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        result = cross_validate(ImplicitALS(rank=16, n_iter=5, seed=0),
                                (ml.rows[liked], ml.cols[liked], np.ones(liked.sum()),
                                 ml.shape), folds=2, by="users", k=10)
    assert len(result["precision@10"]) == 2 and result["mean_precision@10"] > 0.12
    with pytest.raises(ValueError, match="by must be"):
        cross_validate(ImplicitALS(), (ml.rows, ml.cols), by="items")


def _implicit_pairs(seed=4, users=150, items=60):
    """Each user likes items from one of three groups: the rank-3 structure to find."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, users)
    rows = np.repeat(np.arange(users), 12)
    cols = (20 * group[rows] + rng.integers(0, 20, rows.size))
    return np.unique(np.column_stack([rows, cols]), axis=0)


def test_implicit_score_is_the_ndcg_of_held_out_pairs():
    from lrkit.ratings import ndcg_at_k, recommendations

    pairs = _implicit_pairs()
    test = np.random.default_rng(0).random(len(pairs)) < 0.2
    model = ImplicitALS(rank=3, alpha=5.0, seed=0).fit(pairs[~test])
    relevant = {}
    for user, item in pairs[test].tolist():
        relevant.setdefault(user, []).append(item)
    expected = ndcg_at_k(recommendations(model, relevant, 10), relevant, 10)
    assert model.score(pairs[test]) == pytest.approx(expected)
    assert model.score(pairs[test]) > 0.3  # 20 liked items of 60, found from 12 pairs


def test_grid_search_on_implicit_pairs_prefers_the_structure():
    pairs = _implicit_pairs(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        search = GridSearchCV(ImplicitALS(alpha=5.0, seed=0), {"rank": [3, 40]}, cv=3).fit(
            pairs)
    assert search.best_params_ == {"rank": 3}
    import pandas as pd

    frame = pd.DataFrame({"user": [f"u{u}" for u in pairs[:, 0]], "item": pairs[:, 1]})
    named = ImplicitALS(rank=3, alpha=5.0, seed=0).fit(frame)
    assert named.user_ids_[0] == "u0" and named.score(frame.iloc[:50]) >= 0
    from lrkit.ratings import items_by_user, recommendations

    assert list(recommendations(named, np.array(["u0", "u1"]), 3)) == ["u0", "u1"]
    assert items_by_user(["u0", "u0", "u1"], ["a", "b", "a"]) == {"u0": ["a", "b"],
                                                                  "u1": ["a"]}


def test_an_unfitted_recommender_says_so():
    from sklearn.exceptions import NotFittedError

    for call in (lambda m: m.recommend(0), lambda m: m.similar_items(0),
                 lambda m: m.score(np.array([[0, 1]]))):
        with pytest.raises(NotFittedError, match="not fitted"):
            call(ImplicitALS())
    with pytest.raises(NotFittedError, match="not fitted"):
        lrkit.MatrixCompletion().recommend(0)
