"""MatrixCompletion, the scikit-learn style imputer (issue 3)."""

import numpy as np
import pytest

import lrkit


@pytest.fixture
def low_rank_with_gaps():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((150, 4)) @ rng.standard_normal((4, 90))
    X = np.where(rng.random(M.shape) < 0.4, M, np.nan)
    return M, X


@pytest.mark.parametrize("rank", [4, "auto"])
def test_fit_transform_recovers_and_keeps_observed(low_rank_with_gaps, rank):
    M, X = low_rank_with_gaps
    model = lrkit.MatrixCompletion(rank=rank, method="altmin", seed=0)
    Y = model.fit_transform(X)
    observed = ~np.isnan(X)
    assert model.rank_ == 4
    np.testing.assert_array_equal(Y[observed], X[observed])
    assert np.abs(Y - M).max() < 1e-6


def test_transform_folds_in_new_rows(low_rank_with_gaps):
    M, X = low_rank_with_gaps
    model = lrkit.MatrixCompletion(rank=4, method="altmin", seed=0).fit(X[:100])
    Y = model.transform(X[100:])
    assert np.abs(Y - M[100:]).max() < 1e-6


def test_softimpute_method(low_rank_with_gaps):
    M, X = low_rank_with_gaps
    Y = lrkit.MatrixCompletion(rank=4, method="softimpute", seed=0).fit_transform(X)
    assert lrkit.relative_error(Y, M) < 0.05


def test_sklearn_pipeline_clone_and_params(low_rank_with_gaps):
    pytest.importorskip("sklearn")
    from sklearn.base import BaseEstimator, clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, X = low_rank_with_gaps
    model = lrkit.MatrixCompletion(rank=4, ridge=0.1, seed=0)
    twin = clone(model)
    assert isinstance(model, BaseEstimator) and twin is not model
    assert twin.get_params() == model.get_params()
    assert model.set_params(ridge=0.2) is model and model.ridge == 0.2
    with pytest.raises(ValueError, match="Invalid parameter .alpha."):
        model.set_params(alpha=1)
    out = make_pipeline(lrkit.MatrixCompletion(rank=4, seed=0), StandardScaler()).fit_transform(X)
    assert out.shape == X.shape and np.all(np.isfinite(out))


def test_empty_rows_and_columns(low_rank_with_gaps):
    _, X = low_rank_with_gaps
    X = X.copy()
    X[3] = np.nan
    X[:, 5] = np.nan
    with pytest.raises(ValueError, match="all-NaN row"):
        lrkit.MatrixCompletion(rank=4, method="altmin").fit(X)
    with pytest.raises(ValueError, match="all-NaN row"):
        lrkit.MatrixCompletion(rank=4, fill_empty="error").fit(X)
    Y = lrkit.MatrixCompletion(rank=4, method="altmin", fill_empty="mean",
                               seed=0).fit_transform(X)
    column_means = np.nanmean(X[:, :5], axis=0)
    np.testing.assert_allclose(Y[3, :5], column_means)
    assert np.all(np.isfinite(Y))


def test_bad_input(low_rank_with_gaps):
    _, X = low_rank_with_gaps
    with pytest.raises(ValueError, match="every value is NaN"):
        lrkit.MatrixCompletion(rank=2).fit(np.full((5, 4), np.nan))
    with pytest.raises(ValueError, match="inf"):
        bad = X.copy()
        bad[0, 0] = np.inf
        lrkit.MatrixCompletion(rank=2).fit(bad)
    with pytest.raises(ValueError, match="Expected 2D array"):
        lrkit.MatrixCompletion(rank=2).fit(X[0])
    with pytest.raises(ValueError, match="rank"):
        lrkit.MatrixCompletion(rank=500).fit(X)
    with pytest.raises(ValueError, match="ridge"):
        lrkit.MatrixCompletion(rank=2, ridge=-1).fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        lrkit.MatrixCompletion().transform(X)
    model = lrkit.MatrixCompletion(rank=2, seed=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :10])


from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

#: The two checks that need ``predict(X)`` to give one value per row: an imputer's model
#: value is one per entry (``predict(X)`` returns the matrix, as ``transform`` does).
ONE_VALUE_PER_ROW = {
    "check_estimator_sparse_array": "predict(X) gives a value per entry, not per row",
    "check_estimator_sparse_matrix": "predict(X) gives a value per entry, not per row",
}


@parametrize_with_checks([lrkit.MatrixCompletion(rank=1, method="altmin", fill_empty="mean",
                                                 seed=0),
                          lrkit.MatrixCompletion(seed=0),
                          lrkit.MatrixCompletion(rank=1, seed=0, n_models=2)],
                         expected_failed_checks=lambda estimator: ONE_VALUE_PER_ROW)
def test_scikit_learn_conformance(estimator, check):
    """Audit D12: scikit-learn's whole estimator check suite passes (``predict`` in both
    its forms), but for the two checks that assume a value per row."""
    check(estimator)


def test_predict_both_forms_agree():
    """``predict(X)`` is the model at every entry of new rows: for a converged fit it
    equals ``predict(rows, cols)`` on the training rows, and ``transform`` differs from it
    only at the missing entries (for the biased ensemble too, whose fold-in of a row is not
    its fitted factor)."""
    rng = np.random.default_rng(3)
    M = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 25))
    X = np.where(rng.random(M.shape) < 0.6, M, np.nan)
    rows, cols = np.indices(X.shape).reshape(2, -1)
    exact = lrkit.MatrixCompletion(rank=3, method="altmin", seed=0).fit(X)
    np.testing.assert_allclose(exact.predict(X).ravel(), exact.predict(rows, cols),
                               atol=1e-9)
    np.testing.assert_allclose(exact.predict(X), M, atol=1e-9)
    for model in (exact, lrkit.MatrixCompletion(rank=3, ridge=0.1, n_models=2, seed=0)):
        model.fit(X)
        whole, filled, missing = model.predict(X), model.transform(X), np.isnan(X)
        np.testing.assert_array_equal(filled[~missing], X[~missing])
        np.testing.assert_array_equal(filled[missing], whole[missing])
    with pytest.raises(ValueError, match="return_known"):
        model.predict(X, return_known=True)


def test_not_fitted_feature_names_and_pandas_output():
    pd = pytest.importorskip("pandas")
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    M = rng.standard_normal((30, 2)) @ rng.standard_normal((2, 5))
    X = pd.DataFrame(np.where(rng.random(M.shape) < 0.7, M, np.nan), columns=list("abcde"))
    with pytest.raises(NotFittedError):
        lrkit.MatrixCompletion(rank=2).transform(X)
    model = lrkit.MatrixCompletion(rank=2, seed=0).set_output(transform="pandas")
    out = model.fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list("abcde")
    assert list(model.feature_names_in_) == list("abcde") and model.n_iter_ >= 1
    assert list(model.get_feature_names_out()) == list("abcde")
    with pytest.raises(ValueError, match="1 sample"):
        lrkit.MatrixCompletion(rank=1).fit(np.ones((1, 5)))
    with pytest.raises(ValueError, match=r"rank=4 does not fit X of shape \(30, 4\)"):
        lrkit.MatrixCompletion(rank=4).fit(X.to_numpy()[:, :4])
