"""Entrywise (ℓ∞) low-rank estimation from anchor lines and low-rank Q-value iteration
(paper 43)."""

import numpy as np
import pytest

import lrkit
from lrkit.operators import EntrySampling

NOISE = 1e-5  # the truth's entries are about 5e-3 (unit singular values, 300 × 200)


def _cross_problem(noise=NOISE, seed=0):
    prob = lrkit.problems.cross_completion(300, 200, 4, noise=noise, seed=seed)
    return prob.truth, prob.operator, prob.y


def test_exact_on_noiseless_anchor_lines():
    M, op, y = _cross_problem(noise=0.0)
    res = lrkit.recover(op, y, 4, method="linf")
    assert res.converged and res.n_iter == 1
    assert np.abs(res.estimate - M).max() < 1e-9 * np.abs(M).max()


def test_entrywise_error_within_the_bound_and_below_svd_at_equal_samples():
    M, op, y = _cross_problem()
    res = lrkit.recover(op, y, 4, method="linf")
    error = np.abs(res.estimate - M).max()
    assert error <= NOISE * res.history["linf_gain"][-1]  # the first-order ℓ∞ bound
    assert error < 0.01 * np.abs(M).max()
    # Plain truncated SVD of the rescaled zero-filled matrix, same number of samples.
    uniform = EntrySampling.random(*M.shape, op.m, seed=1)
    rng = np.random.default_rng(2)
    Z = uniform.adjoint(uniform.forward(M) + NOISE * rng.uniform(-1, 1, op.m))
    U, s, Vt = np.linalg.svd(Z / uniform.isotropy, full_matrices=False)
    assert error < 0.01 * np.abs((U[:, :4] * s[:4]) @ Vt[:4] - M).max()


def test_linf_needs_full_anchor_lines():
    M, _, _ = _cross_problem()
    op = EntrySampling.random(*M.shape, 5000, seed=0)
    with pytest.raises(ValueError, match="linf"):  # random entries have no anchor lines
        lrkit.recover(op, op.forward(M), 4, method="linf")
    few = EntrySampling.cross(M.shape, [0, 1], [0, 1, 2, 3])
    with pytest.raises(ValueError, match="at least rank=4 anchor rows"):
        lrkit.recover(few, few.forward(M), 4, method="linf")


def test_low_rank_q_iteration_beats_tabular_at_equal_samples():
    mdp = lrkit.problems.low_rank_mdp(120, 60, latent=2, gamma=0.5, seed=0)
    assert np.linalg.matrix_rank(mdp.q_star, tol=1e-8 * np.abs(mdp.q_star).max()) <= 3
    low = lrkit.estimate_q(mdp.rewards, mdp.sample_next, mdp.gamma, rank=3,
                           samples_per_entry=60, n_iter=15, seed=0)
    per_entry = -(-low.samples // (15 * 120 * 60))  # at least as many samples
    tabular = lrkit.estimate_q(mdp.rewards, mdp.sample_next, mdp.gamma, method="tabular",
                               samples_per_entry=per_entry, n_iter=15, seed=0)
    assert tabular.samples >= low.samples
    low_error = np.abs(low.q - mdp.q_star).max()
    assert low_error < 0.5 * np.abs(tabular.q - mdp.q_star).max()
    assert low_error < 0.1 * np.abs(mdp.q_star).max()
    np.testing.assert_array_equal(low.value, low.q.max(axis=1))


def test_generative_model_matches_the_transition_matrix():
    mdp = lrkit.problems.low_rank_mdp(30, 10, latent=3, seed=1)
    draws = mdp.sample_next(np.array([4]), np.array([2]), 40_000, np.random.default_rng(0))
    empirical = np.bincount(draws[0], minlength=30) / 40_000
    exact = mdp.mixture[4, 2] @ mdp.emission
    assert np.abs(empirical - exact).max() < 0.02


@pytest.mark.parametrize("options, match", [
    ({"gamma": 1.0}, "gamma must be in"),
    ({"method": "deep"}, "method must be one of"),
    ({"rank": None}, "needs rank="),
    ({"samples_per_entry": 0}, "samples_per_entry"),
])
def test_estimate_q_bad_input(options, match):
    mdp = lrkit.problems.low_rank_mdp(20, 10, seed=0)
    arguments = {"gamma": 0.5, "rank": 2, **options}
    with pytest.raises(ValueError, match=match):
        lrkit.estimate_q(mdp.rewards, mdp.sample_next, arguments.pop("gamma"), **arguments)
