"""Single-snapshot multidimensional parameter estimation (PLAIN, paper 4) and the
Cramér–Rao bound of its model."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import lrkit
from lrkit.problems import harmonic_tensor


def _errors(estimate, truth):
    gaps = np.angle(np.exp(1j * (estimate[:, None, :] - truth[None, :, :])))
    rows, cols = linear_sum_assignment(np.abs(gaps).sum(axis=2))
    return gaps[rows, cols]


@pytest.mark.parametrize("shape, rank", [((12, 10, 8), 3), ((9, 40), 4), ((30,), 3),
                                         ((40, 4, 4), 3)])
def test_exact_and_paired_without_noise(shape, rank):
    """A single dimension has one fibre, so its subspace comes from the Hankel stack."""
    prob = harmonic_tensor(shape, rank, snr_db=300, separation=0.8, seed=1)
    est = lrkit.tensor_subspace(prob.tensor, rank)
    assert np.abs(_errors(est.frequencies, prob.frequencies)).max() < 1e-8
    assert est.residual < 1e-8
    assert sorted(np.abs(est.amplitudes)) == pytest.approx([1.0] * rank)


def test_crb_matches_the_single_tone_closed_form():
    """One harmonic in M samples: CRB(μ) = 6σ² / (|α|² M (M² − 1))."""
    prob = harmonic_tensor((25,), 1, snr_db=10, seed=0)
    M = 25
    expected = 6 * prob.noise_std ** 2 / (M * (M ** 2 - 1))
    assert prob.crb()[0, 0] == pytest.approx(expected, rel=1e-10)


def test_error_against_the_cramer_rao_bound():
    """At 20 dB on 16³ snapshots with targets half a bin apart, PLAIN's RMSE is within
    2.5 × √CRB (ESPRIT's inefficiency), and the refined estimate within 1.3 ×."""
    plain, refined, bound = [], [], []
    for seed in range(8):
        prob = harmonic_tensor((16, 16, 16), 3, snr_db=20, separation=0.5, seed=seed)
        bound.append(prob.crb())
        plain.append(_errors(lrkit.tensor_subspace(prob.tensor, 3).frequencies,
                             prob.frequencies) ** 2)
        refined.append(_errors(lrkit.tensor_subspace(prob.tensor, 3, refine=True).frequencies,
                               prob.frequencies) ** 2)
    root_crb = np.sqrt(np.mean(bound))
    assert np.sqrt(np.mean(plain)) < 2.5 * root_crb
    assert np.sqrt(np.mean(refined)) < 1.3 * root_crb


def test_resolves_below_the_fourier_grid():
    """Half-bin separation: the zero-padded periodogram cannot separate the targets."""
    prob = harmonic_tensor((16, 16), 2, snr_db=30, separation=0.5, seed=3)
    est = lrkit.tensor_subspace(prob.tensor, 2)
    assert np.abs(_errors(est.frequencies, prob.frequencies)).max() < 2e-3


def test_real_and_torch_input():
    torch = pytest.importorskip("torch")
    prob = harmonic_tensor((10, 12), 2, snr_db=300, seed=4)
    from_torch = lrkit.tensor_subspace(torch.from_numpy(prob.tensor), 2)
    assert np.abs(_errors(from_torch.frequencies, prob.frequencies)).max() < 1e-8
    real = lrkit.tensor_subspace(np.cos(np.add.outer(0.5 * np.arange(10), np.arange(12))), 2)
    assert real.residual < 1e-8  # cos = two conjugate harmonics


def test_zero_snapshot_gives_zero_amplitudes():
    est = lrkit.tensor_subspace(np.zeros((6, 7)), 2)
    assert np.all(est.amplitudes == 0) and est.residual == 0.0


@pytest.mark.parametrize("X, rank, match", [
    (np.ones((4, 20)), 4, "dimension 0.*at least 5"),
    (np.ones(5), 3, "at least 6"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), 1, "NaN"),
    (np.ones((0, 3)), 1, "non-empty"),
    (np.array(["a", "b"]), 1, "numeric"),
    (np.ones((8, 8)), 0, "rank"),
])
def test_bad_input_is_named(X, rank, match):
    with pytest.raises(ValueError, match=match):
        lrkit.tensor_subspace(X, rank)


def test_generator_rejects_an_impossible_separation():
    with pytest.raises(ValueError, match="separation"):
        harmonic_tensor((8, 8), 5, separation=2.0)
