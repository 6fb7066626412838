"""The adaptive primal–dual engine against closed-form proximal problems."""

import numpy as np
import pytest

from lrkit.imaging import primal_dual as pd


def _solve(terms, start, iterations=3000, tol=1e-9, adaptive=True):
    state = None
    for _, state in zip(range(iterations), pd.iterate(start, terms, lambda v, t: (v, 0.0),
                                                       adaptive=adaptive), strict=False):
        if state.residual <= tol:
            break
    return state


def _identity(x):
    return x


@pytest.mark.parametrize("adaptive", [True, False])
def test_lasso_denoising_is_soft_thresholding(adaptive):
    """``min ½||x − b||² + λ||x||₁`` has the solution ``sign(b) max(|b| − λ, 0)``."""
    b = np.random.default_rng(0).standard_normal(50) * 2
    terms = [pd.squared_loss(b, _identity, _identity), pd.l1_norm(0.7, _identity, _identity, 1.0)]
    state = _solve(terms, np.zeros_like(b), adaptive=adaptive)
    expected = np.sign(b) * np.maximum(np.abs(b) - 0.7, 0.0)
    np.testing.assert_allclose(state.x, expected, atol=1e-6)
    assert state.objective == pytest.approx(0.5 * np.sum((expected - b) ** 2)
                                            + 0.7 * np.abs(expected).sum(), rel=1e-8)


def test_nuclear_norm_denoising_is_singular_value_thresholding():
    B = np.random.default_rng(1).standard_normal((9, 6))
    terms = [pd.squared_loss(B, _identity, _identity), pd.nuclear_norm(1.5, _identity, _identity)]
    state = _solve(terms, np.zeros_like(B))
    U, s, Vt = np.linalg.svd(B, full_matrices=False)
    np.testing.assert_allclose(state.x, (U * np.maximum(s - 1.5, 0)) @ Vt, atol=1e-6)


def test_residuals_shrink_and_are_relative():
    b = np.linspace(-3, 3, 40)
    terms = [pd.squared_loss(b, _identity, _identity),
             pd.l1_norm(0.5, np.diff, lambda p: np.r_[-p[0], -np.diff(p), p[-1]], 4.0)]
    states = list(zip(range(400), pd.iterate(np.zeros_like(b), terms,
                                              lambda v, t: (v, 0.0)), strict=False))
    first, last = states[0][1], states[-1][1]
    assert last.residual < 1e-3 * max(first.residual, 1e-12) or last.residual < 1e-8
