"""MatrixCompletion on a Dask DataFrame of triplets: ALS over partitions (issue 17)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from lrkit import MatrixCompletion

dd = pytest.importorskip("dask.dataframe")


def _ratings(seed=0, n1=120, n2=80, rank=3, m=4000):
    rng = np.random.default_rng(seed)
    F, G = rng.standard_normal((n1, rank)), rng.standard_normal((n2, rank))
    flat = rng.choice(n1 * n2, m, replace=False)
    rows, cols = flat // n2, flat % n2
    keep = rows != 7  # row 7 has no rating: a cold-start user
    rows, cols = rows[keep], cols[keep]
    values = 3 + np.einsum("ek,ek->e", F[rows], G[cols]) + 0.1 * rng.standard_normal(rows.size)
    return rows, cols, values


def _fit(X, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MatrixCompletion(rank=3, ridge=0.05, n_models=2, max_iter=12, seed=0,
                                **options).fit(X)


def _pairs(n1=120, n2=80):
    rng = np.random.default_rng(5)
    return np.append(rng.integers(0, n1, 300), 7), np.append(rng.integers(0, n2, 300), 3)


def test_dask_fit_equals_the_in_memory_fit_and_predicts_cold_rows():
    rows, cols, values = _ratings()
    frame = dd.from_pandas(pd.DataFrame({"user": rows, "item": cols, "rating": values}),
                           npartitions=3)
    in_memory, on_dask = _fit((rows, cols, values)), _fit(frame)
    pr, pc = _pairs()
    np.testing.assert_allclose(on_dask.predict(pr, pc), in_memory.predict(pr, pc),
                               rtol=1e-9, atol=1e-9)
    assert (on_dask.rank_, on_dask.ridge_, on_dask.n_iter_) == (
        in_memory.rank_, in_memory.ridge_, in_memory.n_iter_)
    np.testing.assert_allclose(on_dask.result_.history["loss"],
                               in_memory.result_.history["loss"], rtol=1e-9)
    assert on_dask.row_bias_[7] == 0 and np.all(on_dask.row_factors_[7] == 0)  # cold start
    # The model fits: held-in RMSE near the noise level.
    assert on_dask.result_.history["loss"][-1] < 0.2


@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200])
def test_dask_fit_at_extreme_scales(scale):
    from lrkit.ratings.dask_fit import triplet_frame

    rows, cols, values = _ratings(seed=3)
    frame = dd.from_pandas(pd.DataFrame({"r": rows, "c": cols, "v": values * scale}),
                           npartitions=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow in the summary or fit
        _, summary = triplet_frame(frame)
        model = MatrixCompletion(rank=3, ridge=0.05, n_models=2, max_iter=12,
                                 seed=0).fit(frame)
    assert summary.mean == pytest.approx(np.mean(values) * scale, rel=1e-12)
    assert summary.std == pytest.approx(np.std(values) * scale, rel=1e-12)
    pr, pc = _pairs()
    np.testing.assert_allclose(model.predict(pr, pc) / scale,
                               _fit((rows, cols, values)).predict(pr, pc), rtol=1e-9)


def test_dask_fit_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    rows, cols, values = _ratings(seed=1)
    frame = dd.from_pandas(pd.DataFrame({"r": rows, "c": cols, "v": values}), npartitions=4)
    expected = _fit((rows, cols, values))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        model = _fit(frame)
    pr, pc = _pairs()
    np.testing.assert_allclose(model.predict(pr, pc), expected.predict(pr, pc), rtol=1e-9,
                               atol=1e-9)


def test_dask_fit_takes_ids_and_answers_in_them():
    rows, cols, values = _ratings(seed=2)
    users, items = np.array([f"u{r:03d}" for r in rows]), np.array([f"film {c}" for c in cols])
    frame = dd.from_pandas(pd.DataFrame({"user": users, "item": pd.Categorical(items),
                                         "rating": values}), npartitions=3)
    in_memory, on_dask = _fit((users, items, values)), _fit(frame)
    np.testing.assert_array_equal(on_dask.user_ids_, in_memory.user_ids_)
    np.testing.assert_array_equal(on_dask.item_ids_, in_memory.item_ids_)
    asked = (["u005", "u119", "nobody"], ["film 3", "film 70", "film 3"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown user: baseline, with a warning
        np.testing.assert_allclose(on_dask.predict(*asked), in_memory.predict(*asked),
                                   rtol=1e-9)
    films, _ = on_dask.recommend("u005", n=3, exclude_seen=False)
    assert all(str(film).startswith("film ") for film in films)


@pytest.mark.parametrize("frame, options, match", [
    (pd.DataFrame({"r": [0, 1], "c": [0, 1]}), {}, "three columns"),
    (pd.DataFrame({"r": [0.5, 1], "c": [0, 1], "v": [1.0, 2.0]}), {}, "integer indices .* or ids"),
    (pd.DataFrame({"r": [0, 1], "c": [0, 1], "v": [1.0, np.nan]}), {}, "NaN or inf"),
    (pd.DataFrame({"r": [0, -1], "c": [0, 1], "v": [1.0, 2.0]}), {}, "negative"),
    (pd.DataFrame({"r": [0, 1], "c": [0, 1], "v": [1.0, 2.0]}), {"method": "altmin"},
     "needs method='biased_als'"),
])
def test_dask_input_is_validated(frame, options, match):
    with pytest.raises(ValueError, match=match):
        MatrixCompletion(**options).fit(dd.from_pandas(frame, npartitions=1))


def test_data_beyond_the_search_sample_stop_early_on_a_held_out_split(monkeypatch):
    from lrkit.ratings import dask_fit as dask_ratings

    monkeypatch.setattr(dask_ratings, "SEARCH_ENTRIES", 2500)  # the data count as large
    rows, cols, values = _ratings(seed=2)
    frame = dd.from_pandas(pd.DataFrame({"r": rows, "c": cols, "v": values}), npartitions=3)
    # Rank 8 with almost no ridge overfits: going on from the search's best state (fit on a
    # sample of 2500 of the ~4000 entries), the held-out error turns up and stops the fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MatrixCompletion(rank=8, ridge=0.001, n_models=1, max_iter=40,
                                 seed=0).fit(frame)
    assert model.converged_ and model.n_iter_ < 40
    assert "early stopping" in model.result_.message
    fitted = model.predict(rows, cols)
    assert np.sqrt(np.mean((fitted - values) ** 2)) < 0.3  # noise 0.1
    held = dask_ratings.held_out(rows, cols, 7, 0.15, False)
    np.testing.assert_array_equal(held, dask_ratings.held_out(cols, rows, 7, 0.15, True))
    assert 0.12 < held.mean() < 0.18


def test_the_early_stopping_split_holds_out_at_most_held_out_entries(monkeypatch):
    from lrkit.ratings import dask_fit as dask_ratings

    rows, cols = np.divmod(np.arange(400_000), 1000)
    assert 0.045 < dask_ratings.held_out(rows, cols, 3, 0.05, False).mean() < 0.055
    seen = []
    original = dask_ratings.held_out
    monkeypatch.setattr(dask_ratings, "held_out",
                        lambda *args: seen.append(args[3]) or original(*args))
    monkeypatch.setattr(dask_ratings, "SEARCH_ENTRIES", 2500)
    monkeypatch.setattr(dask_ratings, "HELD_OUT_ENTRIES", 200)  # 5 % of ~4000 entries
    r, c, v = _ratings(seed=2)
    frame = dd.from_pandas(pd.DataFrame({"r": r, "c": c, "v": v}), npartitions=2)
    MatrixCompletion(rank=3, n_models=1, max_iter=4, seed=0).fit(frame)
    assert seen and all(share == pytest.approx(200 / len(v)) for share in seen)


def test_local_grouping_puts_each_row_in_one_group_and_keeps_every_entry(tmp_path):
    import dask

    from lrkit.ratings.dask_grouping import grouped

    rows, cols, values = _ratings()
    frame = dd.from_pandas(pd.DataFrame({"row": rows, "col": cols, "value": values}),
                           npartitions=5)
    groups = dask.compute(*grouped(frame, "row", str(tmp_path / "row")))
    assert len(groups) == 5
    owners = {}
    for index, group in enumerate(groups):
        for row in np.unique(group["row"]):
            assert owners.setdefault(row, index) == index  # a row's entries in one group
    together = pd.concat(groups).sort_values(["row", "col"]).to_numpy()
    expected = pd.DataFrame({"row": rows, "col": cols, "value": values}).sort_values(
        ["row", "col"]).to_numpy()
    np.testing.assert_array_equal(together, expected)
