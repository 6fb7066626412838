"""Sub-sampled Fourier measurements and dynamic reconstruction (L + S, double TV, paper 25)."""

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


def _quiet(operator, y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        return lrkit.recover_dynamic(operator, y, **options)


@pytest.mark.parametrize("acceleration", [5, 10])
def test_low_rank_plus_dynamic_part_beats_tv_alone_and_the_nuclear_norm_alone(acceleration):
    """Paper 25's claim on a real image sequence: the split X = L + S with its default
    weights beats TV alone (the same TV weights, no split) and the nuclear norm alone (the
    best of three weights), and zero-filling by far."""
    video = lrkit.problems.datasets.frame_sequence(n_frames=16, size=32, patch=7, seed=0)
    masks = cartesian_masks(video.frame_shape, 16, acceleration, center=2, seed=0)
    op = SubsampledFourier(video.frame_shape, masks)
    y = op.forward(video.matrix)
    y = y + 0.01 * np.std(y) * np.random.default_rng(1).standard_normal(y.size)
    split = _quiet(op, y, truth=video.matrix)
    tv_alone = _quiet(op, y, decompose=False, lam_nuclear=0.0)
    unit = np.linalg.norm(op.adjoint(y), 2) / (8 * op.isotropy)
    nuclear = max(_psnr(_quiet(op, y, decompose=False, lam_nuclear=c * unit, lam_space=0.0,
                               lam_time=0.0).estimate, video.matrix)
                  for c in (0.0025, 0.005, 0.01))
    best = _psnr(split.estimate, video.matrix)
    assert split.converged
    assert best > _psnr(tv_alone.estimate, video.matrix) + 1.0
    assert best > nuclear + 2.0
    assert best > _psnr(op.adjoint(y), video.matrix) + 8.0
    np.testing.assert_allclose(split.low_rank + split.dynamic, split.estimate, atol=1e-10)
    assert split.history["rel_error"][-1] < split.history["rel_error"][0]


def test_converges_to_the_residual_tolerance_and_says_when_it_does_not():
    video = lrkit.problems.datasets.frame_sequence(n_frames=8, size=16, patch=4, seed=0)
    op = SubsampledFourier(video.frame_shape, cartesian_masks(video.frame_shape, 8, 2, seed=0))
    y = op.forward(video.matrix)
    result = lrkit.recover_dynamic(op, y, tol=1e-3, max_iter=3000)
    history = result.history
    assert result.converged and result.estimate.shape == video.matrix.shape
    assert max(history["primal_residual"][-1], history["dual_residual"][-1]) <= 1e-3
    with pytest.warns(lrkit.ConvergenceWarning, match="max_iter"):
        short = lrkit.recover_dynamic(op, y, max_iter=5)
    assert not short.converged and short.n_iter == 5


def test_zero_measurements_give_the_zero_sequence():
    op = SubsampledFourier((6, 6), cartesian_masks((6, 6), 4, 2, seed=0))
    result = lrkit.recover_dynamic(op, np.zeros(op.m))
    assert result.converged and np.all(result.estimate == 0)


def test_the_second_nuclear_norm_is_the_row_unfolding():
    """``lam_unfolding`` penalises the frames' rows × (columns · frames) unfolding: a
    sequence whose every frame has rank one (an outer product) keeps that unfolding rank
    one, and a strong weight then leaves a rank-one unfolding."""
    rng = np.random.default_rng(0)
    rows, cols = rng.standard_normal(8), rng.standard_normal((6, 5))
    frames = np.einsum("i,jt->tij", rows, cols)  # frame t = rows ⊗ cols[:, t]
    X = frames.reshape(5, -1).T
    op = SubsampledFourier((8, 6), np.ones((5, 8, 6), dtype=bool))
    y = op.forward(X + 0.3 * rng.standard_normal(X.shape))
    result = lrkit.recover_dynamic(op, y, decompose=False, lam_nuclear=0.0, lam_space=0.0,
                                   lam_time=0.0, lam_unfolding=3.0, tol=1e-4, max_iter=5000)
    unfolded = np.moveaxis(result.estimate.T.reshape(5, 8, 6), 0, -1).reshape(8, -1)
    values = np.linalg.svd(unfolded, compute_uv=False)
    assert result.converged and values[1] < 1e-3 * values[0]


def test_dynamic_phantom_is_seeded_and_splits_into_rest_and_change():
    a = lrkit.problems.dynamic_phantom(10, 24, seed=3)
    b = lrkit.problems.dynamic_phantom(10, 24, seed=3)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert a.matrix.shape == (576, 10) and a.frame_shape == (24, 24)
    np.testing.assert_allclose(a.background + a.foreground, a.matrix)
    assert np.all(a.background == a.background[:, :1])  # the anatomy at rest is static
    assert np.abs(np.diff(a.foreground, axis=1)).sum() > 0  # the heart beats, the organ fills
    flat = lrkit.problems.dynamic_phantom(10, 24, texture=0.0, seed=3)
    assert len(np.unique(np.round(flat.background, 12))) <= 6  # piecewise constant
    assert not np.array_equal(lrkit.problems.dynamic_phantom(10, 24, seed=4).matrix, a.matrix)
    with pytest.raises(ValueError, match="texture"):
        lrkit.problems.dynamic_phantom(texture=2.0)


def test_bad_input_is_named():
    op = SubsampledFourier((4, 4), np.ones((2, 4, 4), dtype=bool))
    y = op.forward(np.ones((16, 2)))
    with pytest.raises(ValueError, match="frame_shape"):
        lrkit.recover_dynamic(lrkit.operators.GaussianSensing(4, 4, 10, seed=0), np.ones(10))
    with pytest.raises(ValueError, match="y must have shape"):
        lrkit.recover_dynamic(op, y[:-1])
    with pytest.raises(ValueError, match="lam_time"):
        lrkit.recover_dynamic(op, y, lam_time=-1.0)
    with pytest.raises(ValueError, match="decompose=False"):
        lrkit.recover_dynamic(op, y, lam_space=0.0, lam_time=0.0)
    with pytest.raises(ValueError, match="lam_unfolding"):
        lrkit.recover_dynamic(op, y, lam_unfolding=float("nan"))
    bad = y.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lrkit.recover_dynamic(op, bad)
    with pytest.raises(ValueError, match="masks"):
        SubsampledFourier((4, 4), np.ones((2, 4, 5), dtype=bool))
    with pytest.raises(ValueError, match="sample nothing"):
        SubsampledFourier((4, 4), np.zeros((2, 4, 4), dtype=bool))
