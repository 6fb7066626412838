"""ImplicitALS on a Dask DataFrame of pairs: the in-memory fit, one task per group (issue 44)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import lrkit
from lrkit.ratings import ImplicitALS

dd = pytest.importorskip("dask.dataframe")


def _pairs(seed=0, users=90, items=60, size=1500):
    rng = np.random.default_rng(seed)
    taste = rng.standard_normal((users, 3)) @ rng.standard_normal((3, items))
    chance = np.exp(taste) / np.exp(taste).sum(axis=1, keepdims=True)
    rows = rng.integers(0, users, size)
    cols = np.array([rng.choice(items, p=chance[u]) for u in rows])
    return rows, cols, rng.integers(1, 4, size).astype(float)  # repeated pairs add up


def _fit(X, shape=None, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        return ImplicitALS(**{"rank": 5, "alpha": 2.0, "n_iter": 8, "seed": 0,
                              **options}).fit(X, shape=shape)


@pytest.mark.parametrize("steps", [3, 0])
def test_dask_fit_equals_the_in_memory_fit(steps):
    rows, cols, counts = _pairs()
    frame = dd.from_pandas(pd.DataFrame({"user": rows, "item": cols, "plays": counts}),
                           npartitions=4)
    shape = (95, 64)  # users and items beyond the data: no pair, factors stay
    memory = _fit((rows, cols, counts), shape=shape, cg_steps=steps)
    dask = _fit(frame, shape=shape, cg_steps=steps)
    assert dask.result_.n_iter == memory.result_.n_iter
    assert dask.result_.history["loss"] == pytest.approx(memory.result_.history["loss"],
                                                         rel=1e-6)
    scale = np.abs(memory.user_factors_).max()
    assert np.abs(dask.user_factors_ - memory.user_factors_).max() < 1e-5 * scale
    assert (dask.seen_ != memory.seen_).nnz == 0
    np.testing.assert_array_equal(dask.popularity_, memory.popularity_)
    user = int(rows[0])
    np.testing.assert_array_equal(dask.recommend(user, 5)[0], memory.recommend(user, 5)[0])


def test_pairs_without_strengths_and_bad_frames():
    rows, cols, _ = _pairs(1)
    frame = dd.from_pandas(pd.DataFrame({"user": rows, "item": cols}), npartitions=2)
    np.testing.assert_allclose(_fit(frame).user_factors_, _fit((rows, cols)).user_factors_,
                               atol=1e-6)
    negative = dd.from_pandas(pd.DataFrame({"user": rows, "item": cols,
                                            "plays": -np.ones(rows.size)}), npartitions=2)
    with pytest.raises(ValueError, match="non-negative"):
        _fit(negative)
    with pytest.raises(ValueError, match="shape=.*smaller"):
        _fit(frame, shape=(3, 3))


def test_dask_fit_takes_ids_and_answers_in_them():
    rows, cols, counts = _pairs(2)
    users, items = np.array([f"user {r}" for r in rows]), np.array([f"i{c:02d}" for c in cols])
    frame = dd.from_pandas(pd.DataFrame({"user": users, "item": items, "plays": counts}),
                           npartitions=3)
    memory, dask = _fit((users, items, counts)), _fit(frame)
    np.testing.assert_array_equal(dask.user_ids_, memory.user_ids_)
    np.testing.assert_array_equal(dask.item_ids_, memory.item_ids_)
    best, _ = dask.recommend(users[0], 5)
    np.testing.assert_array_equal(best, memory.recommend(users[0], 5)[0])
    assert set(best) <= set(items) and not set(best) & set(items[users == users[0]])
    np.testing.assert_array_equal(dask.similar_items(items[0], 3)[0],
                                  memory.similar_items(items[0], 3)[0])


def test_dask_fit_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    rows, cols, counts = _pairs(3)
    frame = dd.from_pandas(pd.DataFrame({"user": rows, "item": cols, "plays": counts}),
                           npartitions=4)
    expected = _fit((rows, cols, counts))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        model = _fit(frame)
    scale = np.abs(expected.user_factors_).max()
    assert np.abs(model.user_factors_ - expected.user_factors_).max() < 1e-5 * scale
    assert (model.seen_ != expected.seen_).nnz == 0
