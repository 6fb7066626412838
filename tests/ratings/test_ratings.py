"""Ratings with the default MatrixCompletion: biases, cold start, sparse and triplet input,
pair predictions, MovieLens-100k (issue 17, items 1-3)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import lrkit
from lrkit.problems import datasets


def _ratings(n_users=300, n_items=200, rank=3, density=0.15, noise=0.3, seed=0):
    """Ratings-like data: global mean, user and item biases, a low-rank part and noise."""
    rng = np.random.default_rng(seed)
    full = (3.5 + 0.5 * rng.standard_normal((n_users, 1)) + 0.5 * rng.standard_normal(n_items)
            + rng.standard_normal((n_users, rank)) @ rng.standard_normal((rank, n_items)) / 2)
    rows, cols = np.nonzero(rng.random((n_users, n_items)) < density)
    values = full[rows, cols] + noise * rng.standard_normal(rows.size)
    return full, rows, cols, values


def _split(rows, seed=0, fraction=0.2):
    test = np.random.default_rng(seed).random(rows.size) < fraction
    return ~test, test


def test_default_beats_the_bias_model_and_reports_its_choices():
    full, rows, cols, values = _ratings()
    train, test = _split(rows)
    shape = full.shape
    model = lrkit.MatrixCompletion(seed=0).fit((rows[train], cols[train], values[train], shape))
    rmse = np.sqrt(np.mean((model.predict(rows[test], cols[test]) - values[test]) ** 2))
    means = np.bincount(cols[train], values[train], shape[1]) / np.maximum(
        np.bincount(cols[train], minlength=shape[1]), 1)
    baseline = np.sqrt(np.mean((means[cols[test]] - values[test]) ** 2))
    assert rmse < 0.5 * baseline  # the noise level is 0.3; column means leave ~1
    # The default weighs the biased model against a plain low-rank one on the same held-out
    # entries, and keeps and reports the better (here a plain rank 4: test RMSE 0.372
    # against the biased model's 0.418).
    choice = (model.method_, model.rank_, model.ridge_)
    assert model.converged_ and model.rank_scores_[choice] == min(model.rank_scores_.values())
    assert {method for method, _, _ in model.rank_scores_} == {"biased_als", "altmin"}
    biased = lrkit.MatrixCompletion(method="biased_als", seed=0).fit(
        (rows[train], cols[train], values[train], shape))
    biased_rmse = np.sqrt(np.mean((biased.predict(rows[test], cols[test]) - values[test]) ** 2))
    assert rmse <= biased_rmse
    assert biased.converged_ and biased.rank_ in (5, 10) and biased.ridge_ > 0
    assert set(biased.rank_scores_) >= {(biased.rank_, biased.ridge_)}
    assert biased.components_.shape == (shape[1], biased.n_models * biased.rank_)


def test_the_ridge_path_walks_from_its_start_towards_lower_held_out_error():
    from lrkit.ratings import biased_als as ratings

    # Noiseless rank-3 data: less ridge is better, so the path goes down from START_RIDGE.
    full, rows, cols, values = _ratings(noise=0.0, density=0.3, seed=7)
    model = lrkit.MatrixCompletion(rank=3, method="biased_als", seed=0).fit((rows, cols, values))
    tried, scores = [ridge for _, ridge in model.rank_scores_], list(model.rank_scores_.values())
    start = ratings.RIDGES.index(ratings.START_RIDGE)
    assert tried[:2] == [ratings.START_RIDGE, ratings.RIDGES[start + 1]]  # up first: worse
    assert scores[1] > scores[0]
    down = tried[2:]  # then down, while each step improves on the last
    assert down == sorted(down, reverse=True) and model.ridge_ < ratings.START_RIDGE
    before = [scores[0], *scores[2:-2]]  # every step down but the last improved
    assert all(a > b for a, b in zip(before, scores[2:-1], strict=True))
    rmse = np.sqrt(np.mean((model.predict(rows, cols) - values) ** 2))
    assert rmse < 0.05 * np.std(values)
    # Noisy data: the path goes up instead, or stops at once.
    _, rows, cols, values = _ratings(noise=1.0, seed=8)
    noisy = lrkit.MatrixCompletion(rank=3, method="biased_als", seed=0).fit((rows, cols, values))
    assert noisy.ridge_ >= ratings.START_RIDGE


def test_a_run_from_random_starts_does_not_stop_on_its_first_plateau():
    # A flat rank-10 spectrum, 45 ratings a row: from small random factors the held-out
    # error first rises (1.17, 1.19) and only then falls to the noise level (0.67).
    rng = np.random.default_rng(0)
    U, V = rng.standard_normal((2000, 10)) / 10**0.25, rng.standard_normal((1000, 10)) / 10**0.25
    rows, cols = rng.integers(0, 2000, 90_000), rng.integers(0, 1000, 90_000)
    values = np.einsum("ek,ek->e", U[rows], V[cols]) + 0.5 * rng.standard_normal(90_000)
    train, test = _split(rows)
    model = lrkit.MatrixCompletion(rank=10, ridge=0.05, n_models=1, seed=1).fit(
        (rows[train], cols[train], values[train], (2000, 1000)))
    rmse = np.sqrt(np.mean((model.predict(rows[test], cols[test]) - values[test]) ** 2))
    assert model.converged_ and rmse < 0.75  # stopping at the plateau left 1.17


def test_cold_rows_and_columns_are_predicted_by_biases():
    full, rows, cols, values = _ratings()
    cold_user, cold_item = 7, 11
    keep = (rows != cold_user) & (cols != cold_item)
    model = lrkit.MatrixCompletion(seed=0).fit((rows[keep], cols[keep], values[keep],
                                                full.shape))
    assert model.row_factors_[cold_user].any() == False  # noqa: E712 (no data, no factor)
    assert model.row_bias_[cold_user] == 0
    expected = model.mean_[[3, cold_item]]  # the global mean plus the item biases
    np.testing.assert_allclose(model.predict([cold_user, cold_user], [3, cold_item]), expected)
    assert np.isfinite(model.predict([cold_user], [cold_item])).all()
    dense = np.full(full.shape, np.nan)
    dense[rows[keep], cols[keep]] = values[keep]
    filled = lrkit.MatrixCompletion(seed=0).fit_transform(dense)
    assert np.all(np.isfinite(filled))


def test_sparse_triplet_and_dense_inputs_give_the_same_model():
    full, rows, cols, values = _ratings(seed=1)
    dense = np.full(full.shape, np.nan)
    dense[rows, cols] = values
    csr = sp.csr_matrix((values, (rows, cols)), shape=full.shape)
    fits = [lrkit.MatrixCompletion(seed=3).fit(X)
            for X in (dense, csr, (rows, cols, values, full.shape),
                      datasets.RatingData(rows, cols, values, full.shape, ""))]
    shifted = (cols[:50] + 1) % full.shape[1]
    reference = fits[0].predict(rows[:50], shifted)
    for model in fits[1:]:
        np.testing.assert_allclose(model.predict(rows[:50], shifted), reference,
                                   rtol=1e-10)
    np.testing.assert_allclose(fits[1].transform(csr[:20]), fits[0].transform(dense[:20]),
                               rtol=1e-10)


def test_explicit_zeros_of_a_sparse_matrix_are_observations():
    full, rows, cols, values = _ratings(seed=2)
    values = values.copy()
    values[:40] = 0.0
    csr = sp.csr_matrix((values, (rows, cols)), shape=full.shape)
    assert csr.nnz == rows.size  # scipy keeps explicit zeros given this way
    model = lrkit.MatrixCompletion(rank=5, ridge=0.1, seed=0).fit(csr)
    assert model.result_.n_iter >= 1
    fitted = model.predict(rows[:40], cols[:40])
    assert np.mean(np.abs(fitted)) < np.mean(np.abs(full[rows[:40], cols[:40]]))


def test_given_rank_and_ridge_skip_their_search_and_max_iter_warns():
    _, rows, cols, values = _ratings(seed=4)
    model = lrkit.MatrixCompletion(rank=4, ridge=0.1, seed=0).fit((rows, cols, values))
    assert model.rank_ == 4 and model.ridge_ == 0.1
    assert list(model.rank_scores_) == [("biased_als", 4, 0.1)]  # a ridge: the biased model
    with pytest.warns(lrkit.ConvergenceWarning, match="max_iter=1"):
        short = lrkit.MatrixCompletion(rank=4, ridge=0.1, max_iter=1, seed=0).fit(
            (rows, cols, values))
    assert not short.converged_ and short.n_iter_ == 1


@pytest.mark.parametrize("factor", [1e6, 1e280, 1e-280])
def test_scale_does_not_change_the_model(factor):
    full, rows, cols, values = _ratings(seed=5)
    small = lrkit.MatrixCompletion(seed=0).fit((rows, cols, values))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way, near the float limits too
        large = lrkit.MatrixCompletion(seed=0).fit((rows, cols, factor * values))
        np.testing.assert_allclose(large.predict(rows[:30], cols[:30]),
                                   factor * small.predict(rows[:30], cols[:30]), rtol=1e-8)
        X = np.full((5, 200), np.nan)  # new rows folded in, in the fit's units
        X[:, :40] = values[:200].reshape(5, 40)
        np.testing.assert_allclose(large.transform(factor * X), factor * small.transform(X),
                                   rtol=1e-8)
    assert large.converged_ == small.converged_


@pytest.mark.parametrize("X, message", [
    ((np.array([0, 1]), np.array([0]), np.array([1.0])), "equal length"),
    ((np.array([0, -1]), np.array([0, 1]), np.array([1.0, 2.0])), "rows must be non-negative"),
    ((np.array([0.5, 1]), np.array([0, 1]), np.array([1.0, 2.0])), "integer indices"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([1.0, np.nan])), "NaN or inf"),
    ((np.array([0, 3]), np.array([0, 1]), np.array([1.0, 2.0]), (2, 2)), "below 2"),
    (sp.csr_matrix((3, 4)), "stores none"),
])
def test_bad_sparse_and_triplet_input_is_named(X, message):
    with pytest.raises(ValueError, match=message):
        lrkit.MatrixCompletion(rank=1, ridge=0.1).fit(X)


def test_predict_checks_its_pairs():
    _, rows, cols, values = _ratings(seed=6)
    model = lrkit.MatrixCompletion(rank=2, ridge=0.1, seed=0).fit((rows, cols, values))
    with pytest.raises(ValueError, match="same length"):
        model.predict([0, 1], [0])
    with pytest.raises(ValueError, match="cols must be non-negative"):
        model.predict([0], [-1])
    with pytest.raises(ValueError, match="rows must be integer indices"):
        model.predict([0.5], [0])


def test_movielens_100k_loader():
    data = datasets.movielens_100k()
    assert data.shape == (943, 1682) and data.values.size == 100_000
    assert set(np.unique(data.values)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert data.rows.max() == 942 and data.cols.max() == 1681
    # MovieLens' own user ids and the film titles, unique (18 titles listed twice carry ids)
    assert data.row_names.shape == (943,) and data.row_names[0] == "1"
    assert len(set(data.col_names)) == 1682 and data.col_names[0] == "Toy Story (1995)"
    assert sum("#" in name for name in data.col_names) == 36


def test_movielens_100k_five_fold_rmse():
    """Issue 17's aim: 5-fold RMSE <= 0.91 with the defaults (Surprise: SVD 0.934); about
    2 s a fold here."""
    data = datasets.movielens_100k()
    fold = np.random.default_rng(0).permutation(data.values.size) % 5
    errors = []
    for k in range(5):
        train, test = fold != k, fold == k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
            model = lrkit.MatrixCompletion(seed=0).fit(
                (data.rows[train], data.cols[train], data.values[train], data.shape))
        predicted = np.clip(model.predict(data.rows[test], data.cols[test]), 1, 5)
        errors.append(np.sqrt(np.mean((predicted - data.values[test]) ** 2)))
    assert np.mean(errors) <= 0.91


def test_users_and_items_unseen_in_fit_get_the_baseline_flagged():
    """Issue 39: triplets take their shape from the largest index, so predicting a test
    fold with items seen only there raised; a recommender gives them the baseline."""
    import warnings

    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 40, 600), rng.integers(0, 30, 600)
    values = 3 + 0.1 * rows + 0.05 * cols + rng.normal(0, 0.1, 600)
    model = lrkit.MatrixCompletion(rank=2, method="biased_als").fit(
        np.column_stack([rows, cols, values]))
    n_rows, n_cols = model.row_factors_.shape[0], model.components_.shape[0]
    test_rows = np.array([0, n_rows + 5, 1, n_rows + 1])
    test_cols = np.array([n_cols + 2, 0, 1, n_cols])
    with pytest.warns(UserWarning, match="3 of 4 pairs have a row or column not seen"):
        predicted, known = model.predict(test_rows, test_cols, return_known=True)
    assert known.tolist() == [False, False, True, False]
    assert predicted[0] == pytest.approx(model.overall_mean_ + model.row_bias_[0])
    assert predicted[1] == pytest.approx(model.fill_values_[0])
    assert predicted[3] == pytest.approx(model.overall_mean_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.predict([1], [1])[0] == pytest.approx(predicted[2])
