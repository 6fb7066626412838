"""``MatrixCompletion()``'s default on generic low-rank data (issue 39, items 8 and 12):
the biased ratings model and a plain low-rank one are weighed on the same held-out entries,
and the better one is kept and reported (``method_``, ``rank_``, ``rank_scores_``)."""

import warnings

import numpy as np
import pytest

import lrkit


def _low_rank(n1, n2, rank, observed, noise, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n1, rank)) @ rng.standard_normal((rank, n2)) / np.sqrt(rank)
    seen = rng.random(M.shape) < observed
    X = np.where(seen, M + noise * rng.standard_normal(M.shape), np.nan)
    return M, X, np.nonzero(~seen)


def _missing_rmse(model, M, missing):
    return float(np.sqrt(np.mean((model.predict(*missing) - M[missing]) ** 2)))


def test_the_default_is_exact_on_exact_data():
    """Item 8: noiseless rank 6, 400 x 300, 30 % observed (the biased search alone: 2.6e-3)."""
    M, X, missing = _low_rank(400, 300, 6, 0.3, 0.0, seed=11)
    model = lrkit.MatrixCompletion(seed=0).fit(X)
    assert (model.method_, model.rank_, model.ridge_) == ("altmin", 6, 0.0)
    assert model.converged_ and _missing_rmse(model, M, missing) < 1e-8
    assert model.rank_scores_[("altmin", 6, 0.0)] == min(model.rank_scores_.values())


def test_the_default_finds_a_small_rank():
    """Item 12: a rank-3 matrix (the search over {10, 5} picked 10: 7.3 % error)."""
    M, X, missing = _low_rank(300, 200, 3, 0.3, 0.0, seed=12)
    model = lrkit.MatrixCompletion(seed=0).fit(X)
    assert model.method_ == "altmin" and model.rank_ == 3
    assert _missing_rmse(model, M, missing) < 1e-8 * np.sqrt(np.mean(M**2))


def test_the_default_matches_altmin_at_the_true_rank_on_noisy_data():
    """Item 12, smaller: rank 8, 1200 x 800, 10 % observed, noise 1 %: the default predicts
    the missing entries as well as altmin told the rank (0.0045), better than the biased
    model alone (0.0062)."""
    M, X, missing = _low_rank(1200, 800, 8, 0.1, 0.01, seed=0)
    model = lrkit.MatrixCompletion(seed=0).fit(X)
    told = lrkit.MatrixCompletion(rank=8, method="altmin", seed=0).fit(X)
    assert model.method_ == "altmin" and model.rank_ == 8
    assert _missing_rmse(model, M, missing) <= 1.05 * _missing_rmse(told, M, missing)
    biased = lrkit.MatrixCompletion(method="biased_als", seed=0).fit(X)
    assert _missing_rmse(model, M, missing) < 0.8 * _missing_rmse(biased, M, missing)


@pytest.mark.slow
def test_the_issue_s_large_noisy_problem():
    """Item 12 as filed: rank 15, 3000 x 2000, 8 % observed, noise 1 %: RMSE on the missing
    entries 0.485 before (48x the noise); now altmin's 0.0043."""
    M, X, missing = _low_rank(3000, 2000, 15, 0.08, 0.01, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        model = lrkit.MatrixCompletion(seed=0).fit(X)
    assert model.method_ == "altmin" and model.rank_ == 15
    assert _missing_rmse(model, M, missing) < 0.006


def test_ratings_keep_the_biased_model():
    """MovieLens-100k: the plain model predicts the held-out ratings worse (0.95 at rank 1)
    than the biased one (0.908), which the default keeps."""
    model = lrkit.MatrixCompletion(seed=0).fit(lrkit.problems.datasets.movielens_100k())
    assert model.method_ == "biased_als" and model.rank_ == 10
    plain = [score for (method, _, _), score in model.rank_scores_.items()
             if method == "altmin"]
    assert plain and min(plain) > model.rank_scores_[("biased_als", 10, model.ridge_)]


def test_the_plain_model_is_not_weighed_where_it_cannot_predict():
    """Repeated entries (ratings listed twice), an empty row, or a given ridge (a setting
    of the biased model): the default is the biased model."""
    M, X, _ = _low_rank(60, 40, 2, 0.5, 0.0, seed=3)
    rows, cols = np.nonzero(~np.isnan(X))
    values = X[rows, cols]
    twice = (np.r_[rows, rows[:5]], np.r_[cols, cols[:5]], np.r_[values, values[:5]])
    X_empty = X.copy()
    X_empty[0] = np.nan
    for data, options in ((twice, {}), (X_empty, {}), (X, {"ridge": 0.01})):
        model = lrkit.MatrixCompletion(seed=0, **options).fit(data)
        assert model.method_ == "biased_als"
        assert {method for method, _, _ in model.rank_scores_} == {"biased_als"}
