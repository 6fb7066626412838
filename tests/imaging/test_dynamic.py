"""Sub-sampled Fourier measurements and dynamic reconstruction (low rank + TV, paper 25)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.operators import SubsampledFourier, cartesian_masks, dottest


@settings(max_examples=25, deadline=None)
@given(shape=st.one_of(st.tuples(st.integers(2, 12)), st.tuples(st.integers(2, 9),
                                                                 st.integers(2, 9))),
       frames=st.integers(1, 5), rate=st.floats(0.05, 1.0), seed=st.integers(0, 2**31))
def test_subsampled_fourier_passes_the_dot_test(shape, frames, rate, seed):
    rng = np.random.default_rng(seed)
    masks = rng.random((frames, *shape)) < rate
    masks[0].flat[0] = True
    assert dottest(SubsampledFourier(shape, masks), seed=seed)


def test_full_sampling_is_an_isometry_and_masks_are_cartesian():
    op = SubsampledFourier((8, 6), np.ones((3, 8, 6), dtype=bool))
    X = np.random.default_rng(0).standard_normal((48, 3))
    np.testing.assert_allclose(op.adjoint(op.forward(X)), X, atol=1e-12)
    masks = cartesian_masks((32, 20), 5, 4, center=4, seed=0)
    assert masks.shape == (5, 32, 20) and np.all(masks.all(axis=2) == masks.any(axis=2))
    assert np.all(masks[:, [0, 1, 30, 31]]) and masks[:, :, 0].sum(axis=1).tolist() == [8] * 5
    assert not np.array_equal(masks[0], masks[1])  # new lines every frame


def _psnr(estimate, truth):
    return 10 * np.log10(truth.max() ** 2 / np.mean((estimate - truth) ** 2))


@pytest.mark.parametrize("acceleration, size, center", [(4, 32, 4), (8, 40, 2)])
def test_low_rank_plus_tv_beats_zero_filling_and_nuclear_norm_alone(acceleration, size,
                                                                     center):
    video = lrkit.problems.datasets.frame_sequence(n_frames=16, size=size, patch=7, seed=0)
    masks = cartesian_masks(video.frame_shape, 16, acceleration, center=center, seed=0)
    op = SubsampledFourier(video.frame_shape, masks)
    y = op.forward(video.matrix)
    y = y + 0.01 * np.std(y) * np.random.default_rng(1).standard_normal(y.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        both = lrkit.recover_dynamic(op, y, max_iter=400, truth=video.matrix)
        tuned = 0.0025 * np.linalg.norm(op.adjoint(y), 2) / (8 * op.isotropy)  # bench's best
        nuclear = lrkit.recover_dynamic(op, y, lam_nuclear=tuned, lam_space=0, lam_time=0,
                                        max_iter=200)
    zero_filled = _psnr(op.adjoint(y), video.matrix)
    assert _psnr(both.estimate, video.matrix) > _psnr(nuclear.estimate, video.matrix) + 0.5
    assert _psnr(nuclear.estimate, video.matrix) > zero_filled + 3
    gap = both.history["gap"]
    assert np.all(gap >= -1e-9) and gap[-1] < gap[9] / 10  # the gap closes
    assert both.history["rel_error"][-1] < both.history["rel_error"][0]


def test_converges_to_the_gap_tolerance():
    video = lrkit.problems.datasets.frame_sequence(n_frames=8, size=16, patch=4, seed=0)
    op = SubsampledFourier(video.frame_shape, cartesian_masks(video.frame_shape, 8, 2, seed=0))
    result = lrkit.recover_dynamic(op, op.forward(video.matrix), tol=1e-3, max_iter=2000)
    assert result.converged and result.history["gap"][-1] <= 1e-3 * result.history["loss"][-1]
    assert result.estimate.shape == video.matrix.shape


def test_bad_input_is_named():
    op = SubsampledFourier((4, 4), np.ones((2, 4, 4), dtype=bool))
    y = op.forward(np.ones((16, 2)))
    with pytest.raises(ValueError, match="frame_shape"):
        lrkit.recover_dynamic(lrkit.operators.GaussianSensing(4, 4, 10, seed=0), np.ones(10))
    with pytest.raises(ValueError, match="y must have shape"):
        lrkit.recover_dynamic(op, y[:-1])
    with pytest.raises(ValueError, match="lam_time"):
        lrkit.recover_dynamic(op, y, lam_time=-1.0)
    bad = y.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lrkit.recover_dynamic(op, bad)
    with pytest.raises(ValueError, match="masks"):
        SubsampledFourier((4, 4), np.ones((2, 4, 5), dtype=bool))
    with pytest.raises(ValueError, match="sample nothing"):
        SubsampledFourier((4, 4), np.zeros((2, 4, 4), dtype=bool))
