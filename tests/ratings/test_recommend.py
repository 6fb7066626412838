"""Implicit-feedback ALS, top-N recommendation and ranking metrics (issue 44)."""

import warnings

import numpy as np
import pytest

import lrkit
from lrkit.ratings import (
    ImplicitALS,
    held_out_by_user,
    items_by_user,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
    recommendations,
)


def test_metrics_on_hand_computed_cases():
    recommended = {0: [5, 1, 7, 2], 1: [3, 4, 9, 8]}
    relevant = {0: [1, 2], 1: [8], 2: []}  # user 2 has nothing held out: not counted
    assert precision_at_k(recommended, relevant, 4) == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert recall_at_k(recommended, relevant, 4) == pytest.approx((2 / 2 + 1 / 1) / 2)
    assert recall_at_k(recommended, relevant, 1) == pytest.approx(0.0)
    # user 0: hits at positions 2 and 4; ideal: positions 1 and 2
    dcg0, ideal0 = 1 / np.log2(3) + 1 / np.log2(5), 1 + 1 / np.log2(3)
    dcg1 = 1 / np.log2(5)
    assert ndcg_at_k(recommended, relevant, 4) == pytest.approx((dcg0 / ideal0 + dcg1) / 2)
    # average precision: user 0 (1/2 + 2/4) / 2, user 1 (1/4) / 1
    assert map_at_k(recommended, relevant, 4) == pytest.approx(((0.5 + 0.5) / 2 + 0.25) / 2)
    perfect = {0: [1, 2], 1: [8]}
    report = ranking_report(perfect, relevant, 2)
    assert report["precision@2"] == 0.75  # user 1 has one relevant film for two places
    assert report["recall@2"] == report["ndcg@2"] == report["map@2"] == 1.0
    with pytest.raises(ValueError, match="no user with a relevant item"):
        precision_at_k(recommended, {3: []})
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(recommended, relevant, 0)


def test_the_objective_is_computed_without_the_dense_matrix_and_falls():
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 30, 200), rng.integers(0, 20, 200)
    counts = rng.integers(1, 5, 200).astype(float)
    model = ImplicitALS(rank=4, alpha=2.0, ridge=0.1, n_iter=8, tol=0, cg_steps=0, seed=0)
    cg = ImplicitALS(rank=4, alpha=2.0, ridge=0.1, n_iter=8, tol=0, cg_steps=3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        model.fit((rows, cols, counts))
        cg.fit((rows, cols, counts))
    R = np.zeros((30, 20))
    np.add.at(R, (rows, cols), counts)
    P, C = (R > 0).astype(float), 1 + 2.0 * R
    X, Y = model.user_factors_, model.item_factors_
    dense = np.sum(C * (P - X @ Y.T) ** 2) + 0.1 * (np.sum(X**2) + np.sum(Y**2))
    losses = model.result_.history["loss"]
    assert losses[-1] == pytest.approx(dense, rel=1e-10)
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:], strict=False))
    # three warm-started CG steps a half-sweep end near the exact sweeps' objective
    assert cg.result_.history["loss"][-1] == pytest.approx(losses[-1], rel=0.02)


@pytest.mark.parametrize("steps", [1, 3])
def test_compiled_and_numpy_conjugate_gradients_agree(monkeypatch, steps):
    """The Numba kernel (one pass over each row's pairs) and the vectorised NumPy path are
    the same float32 iteration: equal factors to float32 rounding, equal objective."""
    pytest.importorskip("numba")
    import lrkit.ratings.implicit.side as implicit

    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 60, 900), rng.integers(0, 45, 900)
    counts = rng.integers(1, 6, 900).astype(float)
    options = dict(rank=6, alpha=3.0, ridge=0.1, n_iter=6, tol=0, cg_steps=steps, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        compiled = ImplicitALS(**options).fit((rows, cols, counts))
        monkeypatch.setattr(implicit, "row_kernels", lambda: None)
        vectorised = ImplicitALS(**options).fit((rows, cols, counts))
    scale = np.abs(vectorised.user_factors_).max()
    assert np.abs(compiled.user_factors_ - vectorised.user_factors_).max() < 1e-4 * scale
    assert compiled.result_.history["loss"] == pytest.approx(
        vectorised.result_.history["loss"], rel=1e-5)


@pytest.fixture(scope="module")
def liked():
    """MovieLens-100k as implicit feedback (ratings of 4 or 5), 20 % of each user's films
    held out."""
    ml = lrkit.problems.datasets.movielens_100k()
    keep = ml.values >= 4
    rows, cols = ml.rows[keep], ml.cols[keep]
    train, test = held_out_by_user(rows, cols, 0.2, seed=0)
    return ml.shape, rows[train], cols[train], items_by_user(rows[test], cols[test])


def test_implicit_als_ranks_held_out_films_well_above_popularity(liked):
    """Precision@10 0.167 and NDCG@10 0.240 against popularity's 0.121 and 0.158 (rank 64,
    α = 1, λ = 0.01, converged in 13 sweeps)."""
    shape, rows, cols, relevant = liked
    model = ImplicitALS(seed=0).fit((rows, cols), shape=shape)
    assert model.converged_
    report = ranking_report(recommendations(model, relevant, 10), relevant, 10)
    popularity = np.argsort(-np.bincount(cols, minlength=shape[1]), kind="stable")
    seen = model.seen_
    popular = {u: [i for i in popularity if not seen[u, i]][:10] for u in relevant}
    baseline = ranking_report(popular, relevant, 10)
    assert report["precision@10"] > 1.25 * baseline["precision@10"]
    assert report["ndcg@10"] > 1.35 * baseline["ndcg@10"]


def test_recommend_and_similar_items(liked):
    shape, rows, cols, _ = liked
    model = ImplicitALS(rank=16, n_iter=5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        model.fit((rows, cols), shape=shape)
    items, scores = model.recommend(0, n=20)
    assert len(items) == 20 and np.all(np.diff(scores) <= 0)
    assert not set(items) & set(cols[rows == 0])  # the user's own films left out
    everything, _ = model.recommend(0, n=20, exclude_seen=False)
    assert set(everything) & set(cols[rows == 0])
    with pytest.warns(UserWarning, match="not seen in fit"):
        cold, _ = model.recommend(shape[0] + 5, n=3)
    assert cold.tolist() == np.argsort(-model.popularity_, kind="stable")[:3].tolist()
    similar, similarity = model.similar_items(49, n=5)
    assert 49 not in similar and np.all(np.diff(similarity) <= 0) and similarity[0] <= 1
    with pytest.raises(ValueError, match="item must be"):
        model.similar_items(shape[1])


def test_matrix_completion_recommends_by_predicted_rating():
    ml = lrkit.problems.datasets.movielens_100k()
    model = lrkit.MatrixCompletion(method="biased_als", seed=0).fit(ml)
    items, scores = model.recommend(0, n=5)
    np.testing.assert_allclose(scores, model.predict(np.zeros(5, int), items))
    assert not set(items) & set(ml.cols[ml.rows == 0])
    model.seen_ = None  # as after a Dask fit
    with pytest.raises(ValueError, match="exclude_seen=False"):
        model.recommend(0)


@pytest.mark.parametrize("X, message", [
    ((np.array([0, 1]), np.array([0])), "one length"),
    ((np.array([0, -1]), np.array([0, 1])), "non-negative"),
    ((np.array([0.5, 1]), np.array([0, 1])), "integer indices"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([1.0, -2.0])), "non-negative"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([0.0, 0.0])), "no positive"),
])
def test_bad_interactions_are_one_line_errors(X, message):
    with pytest.raises(ValueError, match=message):
        ImplicitALS(rank=1).fit(X)


def test_ids_as_users_have_them():
    """Users and items given as names come back as names; an unknown user is cold and
    flagged, an unknown item refused."""
    users = ["ann", "ann", "bob", "bob", "cy", "cy", "dee", "dee", "dee"]
    films = ["alien", "heat", "alien", "ran", "heat", "ran", "alien", "heat", "jaws"]
    model = ImplicitALS(rank=2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        model.fit((np.array(users), np.array(films)))
    assert model.user_ids_.tolist() == ["ann", "bob", "cy", "dee"]
    items, _ = model.recommend("ann", n=3)
    assert set(items) <= {"jaws", "ran"}  # ann's own films left out, names returned
    similar, _ = model.similar_items("alien", n=2)
    assert "alien" not in similar and set(similar) <= set(films)
    with pytest.warns(UserWarning, match="not seen in fit"):
        cold, _ = model.recommend("zed", n=2)
    assert cold.tolist() == ["alien", "heat"]  # by popularity: 3 users each
    with pytest.raises(ValueError, match="item 'up' was not seen"):
        model.similar_items("up")


def test_matrix_completion_answers_in_the_ids_it_was_fit_on():
    """Issue 44: ids as users have them. Ids that sort like the indices give the same model
    as the indices; every answer comes back in the ids; an unknown id is the baseline."""
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 40, 900), rng.integers(0, 30, 900)
    values = (rng.standard_normal((40, 2)) @ rng.standard_normal((2, 30)))[rows, cols] + 3
    users = np.array([f"user-{r:03d}" for r in rows], dtype=object)  # as pandas holds them
    items = np.array([f"item-{c:03d}" for c in cols])
    by_index = lrkit.MatrixCompletion(rank=2, method="biased_als", seed=0).fit(
        (rows, cols, values))
    by_id = lrkit.MatrixCompletion(rank=2, method="biased_als", seed=0).fit(
        (users, items, values))
    assert by_index.user_ids_ is None and by_id.user_ids_[5] == "user-005"
    np.testing.assert_allclose(by_id.predict(["user-003", "user-007"], ["item-001", "item-004"]),
                               by_index.predict([3, 7], [1, 4]))
    films, scores = by_id.recommend("user-003", n=3)
    expected, expected_scores = by_index.recommend(3, n=3)
    assert films.tolist() == [f"item-{c:03d}" for c in expected]
    np.testing.assert_allclose(scores, expected_scores)
    assert by_id.similar_items("item-002", n=2)[0].tolist() == [
        f"item-{c:03d}" for c in by_index.similar_items(2, n=2)[0]]
    with pytest.warns(UserWarning, match="not seen in fit"):
        cold = by_id.predict(["nobody"], ["item-001"])
    assert cold == pytest.approx(by_index.fill_values_[1])
