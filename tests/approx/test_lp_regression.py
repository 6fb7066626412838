"""ℓp regression on sampled rows (paper 41: root-leverage and leverage + sensitivity)."""

import numpy as np
import pytest

import lrkit
from lrkit.approx import lp_regression
from lrkit.approx.lp_regression import importance, sensitivities

N, D = 2000, 6


def _coherent(seed):
    """Gaussian rows plus ``D`` rows of huge leverage that uniform sampling misses."""
    problem = lrkit.problems.coherent_regression(N, D, seed=seed)
    return problem.A, problem.b


def _median_ratio(p, m, sampling, seeds=5):
    A, b = _coherent(0)
    optimum = lp_regression(A, b, p).cost
    return float(np.median([lp_regression(A, b, p, m, sampling=sampling, seed=s).cost
                            for s in range(seeds)]) / optimum)


def test_full_problem_solvers_are_optimal():
    rng = np.random.default_rng(1)
    A, b = rng.standard_normal((300, 4)), rng.standard_normal(300)
    for p in (1.0, 1.5, 2.0, 3.0):
        result = lp_regression(A, b, p)
        assert result.converged
        for _ in range(20):  # no nearby point does better
            other = result.x + 1e-3 * rng.standard_normal(4)
            assert np.linalg.norm(A @ other - b, p) >= result.cost * (1 - 1e-9)


def test_root_leverage_sample_size_is_linear_in_d():
    """p = 1: Õ(d) root-leverage samples give a (1 + ε) solution, and ε shrinks with m."""
    coarse = _median_ratio(1.0, 4 * D, "root_leverage")
    fine = _median_ratio(1.0, 32 * D, "root_leverage")
    assert fine < 1.1 and (fine - 1) < (coarse - 1) / 2


@pytest.mark.parametrize("p, sampling", [(1.5, "root_leverage"),
                                         (3.0, "leverage_sensitivity")])
def test_importance_sampling_beats_uniform_on_coherent_rows(p, sampling):
    assert _median_ratio(p, 16 * D, sampling) < 1.02
    assert _median_ratio(p, 16 * D, "uniform") > 2.0


def test_sensitivities_are_exact_at_p2_and_bounded_by_one():
    rng = np.random.default_rng(2)
    U = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    np.testing.assert_allclose(sensitivities(U, 2.0), np.sum(U**2, axis=1))
    s = sensitivities(U, 3.0)
    assert np.all((s > 0) & (s <= 1))


def test_sampled_rows_are_about_m_and_rescaled():
    A, b = _coherent(3)
    result = lp_regression(A, b, 1.0, 200, seed=0)
    assert 120 < result.rows.size < 280 and np.all(result.scale >= 1)
    assert set(range(D)) <= set(result.rows)  # the heavy rows are always kept
    weights = importance(np.column_stack([A, b]), 1.0, "root_leverage")
    assert weights.shape == (N,)


@pytest.mark.parametrize("kwargs, match", [
    ({"p": 0.5}, "p must be in"),
    ({"m": 0}, "m must be an int in"),
    ({"m": 10, "sampling": "foo"}, "sampling must be one of"),
    ({"m": 10, "p": 3.0, "sampling": "root_leverage"}, "p <= 2"),
    ({"b": np.ones(7)}, "b must have 20 entries"),
    ({"A": np.full((20, 3), np.nan)}, "non-finite"),
])
def test_bad_input_is_one_line_error(kwargs, match):
    arguments = {"A": np.ones((20, 3)), "b": np.ones(20), "p": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match) as error:
        lp_regression(**arguments)
    assert "\n" not in str(error.value)


def test_sampled_sensitivities_track_the_exact_ones():
    rng = np.random.default_rng(4)
    U = np.linalg.qr(rng.standard_normal((3000, 5)) * rng.exponential(size=(3000, 1)))[0]
    exact = sensitivities(U, 3.0)
    estimate = sensitivities(U, 3.0, exact_up_to=100)
    assert np.median(np.abs(estimate / exact - 1)) < 0.1
    assert np.all((estimate > 0) & (estimate <= 1))
