"""Learning a wide quadratic network from quadratically many samples: GAMP-RIE and the
state evolution of its error (paper 19)."""

import math

import numpy as np
import pytest

import lrkit
from lrkit.estimation.quadratic_network import _FreeConvolution


def _test_error(fit, problem, seed=1):
    inputs = np.random.default_rng(seed).standard_normal((4000, problem.matrix.shape[0]))
    return float(np.mean((fit.predict(inputs) - problem.target(inputs)) ** 2))


def test_teacher_is_linear_in_its_matrix():
    prob = lrkit.problems.quadratic_network(dim=30, width_ratio=0.5, alpha=0.2, seed=0)
    X, d = prob.inputs, 30
    sensed = (np.einsum("ij,jk,ik->i", X, prob.matrix, X) - np.trace(prob.matrix)) / math.sqrt(d)
    assert np.allclose(prob.labels, sensed + prob.offset)


def test_denoising_error_formula_matches_monte_carlo():
    """mmse(Σ) = Σ − (4π²/3)Σ²∫ρ³ against the error of the prior's RIE on S + √Σ ξ."""
    rng = np.random.default_rng(0)
    d, kappa, sigma = 400, 0.5, 0.3
    W = rng.standard_normal((round(kappa * d), d))
    S = W.T @ W / (d * math.sqrt(kappa))
    G = rng.standard_normal((d, d))
    lam, Q = np.linalg.eigh(S + math.sqrt(sigma) * (G + G.T) / math.sqrt(2 * d))
    prior = _FreeConvolution(kappa)
    xi, _ = prior.rie(lam, sigma)
    measured = np.linalg.norm((Q * xi) @ Q.T - S) ** 2 / d
    assert measured == pytest.approx(prior.mmse(sigma), rel=0.05)


def test_state_evolution_has_the_perfect_recovery_threshold():
    """Noiseless, κ = 0.5: exact recovery above α = κ − κ²/2 = 0.375, not below."""
    assert lrkit.gamp_rie_error(0.42, 0.5)["mse"] < 1e-4
    assert lrkit.gamp_rie_error(0.33, 0.5)["mse"] > 0.02
    noisy = [lrkit.gamp_rie_error(a, 0.5, noise=0.5)["test_error"] for a in (0.2, 0.5, 1.0)]
    assert noisy[0] > noisy[1] > noisy[2] > 0


@pytest.mark.parametrize("alpha, noise", [(0.2, 0.0), (0.3, 0.0), (1.0, 0.5)])
def test_test_error_follows_the_theory(alpha, noise):
    """At d = 100 the measured test error is within 10 % of the d → ∞ prediction."""
    prob = lrkit.problems.quadratic_network(dim=100, width_ratio=0.5, alpha=alpha,
                                            noise=noise, seed=0)
    fit = lrkit.gamp_rie(prob.inputs, prob.labels, 0.5, noise=noise)
    assert fit.converged
    predicted = lrkit.gamp_rie_error(alpha, 0.5, noise)["test_error"]
    assert _test_error(fit, prob) == pytest.approx(predicted, rel=0.1)


def test_exact_recovery_above_the_threshold():
    prob = lrkit.problems.quadratic_network(dim=60, width_ratio=0.5, alpha=0.6, seed=2)
    fit = lrkit.gamp_rie(prob.inputs, prob.labels, 0.5)
    assert fit.converged and _test_error(fit, prob) < 1e-6


def test_zero_labels_give_the_zero_network():
    fit = lrkit.gamp_rie(np.random.default_rng(0).standard_normal((50, 5)), np.zeros(50), 1.0)
    assert fit.converged and not fit.matrix.any() and fit.offset == 0.0


@pytest.mark.parametrize("inputs, labels, options, match", [
    (np.ones(5), np.ones(5), {}, "inputs must be"),
    (np.ones((5, 3)), np.ones(4), {}, "labels must have shape"),
    (np.full((5, 3), np.nan), np.ones(5), {}, "finite"),
    (np.ones((5, 3)), np.ones(5), {"noise": -1.0}, "noise"),
])
def test_bad_input_is_named(inputs, labels, options, match):
    with pytest.raises(ValueError, match=match):
        lrkit.gamp_rie(inputs, labels, 0.5, **options)
    if match == "inputs must be":
        with pytest.raises(ValueError, match="width_ratio"):
            lrkit.gamp_rie(np.ones((5, 3)), np.ones(5), 0.0)
