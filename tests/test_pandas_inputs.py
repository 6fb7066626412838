"""Pandas nullable dtypes (Float64 / Int64 with pd.NA) wherever a frame is accepted (issue 39):
pd.NA is a missing value, the numbers are the numbers."""

import numpy as np
import pytest

import lrkit

pd = pytest.importorskip("pandas")


def _low_rank(seed=0, shape=(30, 20), rank=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((shape[0], rank)) @ rng.standard_normal((rank, shape[1]))


@pytest.mark.parametrize("dtype", ["Float64", "Int64"])
def test_complete_frames_give_the_numpy_answer(dtype):
    M = np.round(_low_rank() * 10)
    frame = pd.DataFrame(M).astype(dtype)
    U, s, Vt = lrkit.svd(frame, 3, seed=0)
    np.testing.assert_allclose(s, lrkit.svd(M, 3, seed=0)[1], rtol=1e-10)
    report = lrkit.spectral.analyze(frame)
    assert report.spectral_norm == pytest.approx(np.linalg.norm(M, 2), rel=1e-12)
    decomposition = lrkit.rpca(frame, rank=3)
    np.testing.assert_allclose(decomposition.low_rank, lrkit.rpca(M, rank=3).low_rank)


def test_na_is_missing_for_completion_and_refused_where_values_are_needed():
    M = _low_rank()
    observed = np.random.default_rng(1).random(M.shape) < 0.6
    frame = pd.DataFrame(np.where(observed, M, np.nan)).astype("Float64")
    assert frame.isna().to_numpy().sum() == (~observed).sum()
    filled = lrkit.MatrixCompletion(rank=3, method="altmin").fit_transform(frame)
    assert np.linalg.norm(filled - M) < 1e-6 * np.linalg.norm(M)
    with pytest.raises(ValueError, match="NaN"):
        lrkit.svd(frame, 3)
    with pytest.raises(ValueError, match="must hold numbers"):
        lrkit.svd(pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"]}), 1)
