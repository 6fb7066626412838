"""Calibration through unknown gains: blind gain (paper 5) and self-calibration (paper 9)."""

import warnings

import numpy as np
import pytest

import lrkit
from lrkit import Status
from lrkit.exceptions import ConvergenceWarning

METHODS = ("blind_gain", "least_squares", "spectral")


@pytest.mark.parametrize("method", METHODS)
def test_noiseless_recovery_is_exact(method):
    problem = lrkit.problems.calibration(n=16, m=32, p=8, seed=1)
    result = lrkit.calibrate(problem.sensing, problem.y, method, truth=problem.truth)
    assert result.converged and result.status in (Status.CONVERGED, Status.STAGNATED)
    assert result.rel_error < 1e-6
    assert np.isclose(result.gains.mean(), 1.0)
    np.testing.assert_allclose(result.gains, problem.gains, rtol=1e-6)
    np.testing.assert_allclose(result.signal, problem.signal, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(result.estimate, np.outer(result.gains, result.signal))


@pytest.mark.parametrize("method", ["least_squares", "spectral"])
@pytest.mark.parametrize("shared_sensing", [True, False])
def test_per_snapshot_signals(method, shared_sensing):
    problem = lrkit.problems.calibration(n=8, m=24, p=4, shared_signal=False,
                                         shared_sensing=shared_sensing, seed=2)
    result = lrkit.calibrate(problem.sensing, problem.y, method, shared_signal=False,
                             truth=problem.truth)
    assert result.converged and result.rel_error < 1e-8
    assert result.signal.shape == (4, 8)


@pytest.mark.parametrize("method", ["least_squares", "spectral"])
def test_blind_deconvolution_recovers_the_filter(method):
    problem = lrkit.problems.blind_deconvolution(64, 6, 4, seed=3)
    result = lrkit.calibrate(problem.sensing, problem.y, method, shared_signal=False,
                             truth=problem.truth)
    assert result.converged and result.rel_error < 1e-8
    true_filter = np.fft.ifft(problem.gains).real
    np.testing.assert_allclose(np.fft.ifft(result.gains).real, true_filter, atol=1e-8)


def _success_rate(method, p, seeds=10, n=20, m=40):
    wins = 0
    for seed in range(seeds):
        problem = lrkit.problems.calibration(n=n, m=m, p=p, seed=100 + seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = lrkit.calibrate(problem.sensing, problem.y, method, truth=problem.truth,
                                     max_iter=3000)
        wins += bool(result.converged and result.rel_error < 1e-6)
    return wins / seeds


@pytest.mark.parametrize("method", METHODS)
def test_phase_transition_linear_in_unknowns(method):
    """Success jumps from <= 20 % to >= 80 % as m p crosses a constant times n + m (paper 5:
    linear, up to logs, in the number of unknowns)."""
    # n = 20, m = 40: n + m = 60 unknowns
    assert _success_rate(method, p=1) <= 0.2  # m p = 40 < n + m - 1
    assert _success_rate(method, p=4) >= 0.8  # m p = 160, under 3 (n + m)


@pytest.mark.parametrize("method", METHODS)
def test_error_proportional_to_noise(method):
    errors = []
    for noise in (1e-3, 1e-2):
        problem = lrkit.problems.calibration(n=16, m=32, p=10, noise_std=noise, seed=4)
        errors.append(lrkit.calibrate(problem.sensing, problem.y, method,
                                      truth=problem.truth).rel_error)
    assert errors[0] < 0.05 and 5 < errors[1] / errors[0] < 20


def test_subspace_priors_need_fewer_measurements():
    problem = lrkit.problems.calibration(n=64, m=64, p=1, signal_dim=6, gain_dim=6, seed=5)
    with pytest.warns(ConvergenceWarning, match="under-determined"):
        plain = lrkit.calibrate(problem.sensing, problem.y, truth=problem.truth)
    assert plain.status is Status.ILL_POSED and not plain.converged
    prior = lrkit.calibrate(problem.sensing, problem.y, truth=problem.truth,
                            signal_basis=problem.signal_basis, gain_basis=problem.gain_basis)
    assert prior.converged and prior.rel_error < 1e-6


def test_spread_keeps_gains_in_the_box():
    problem = lrkit.problems.calibration(n=16, m=32, p=6, spread=0.3, noise_std=0.05, seed=6)
    result = lrkit.calibrate(problem.sensing, problem.y, spread=0.3)
    assert np.all(np.abs(result.gains - 1) <= 0.3 + 1e-9) and np.isclose(result.gains.mean(), 1)


def test_callback_and_history():
    problem = lrkit.problems.calibration(n=8, m=16, p=6, seed=7)
    seen = []

    def stop_after_three(info):
        seen.append(info.iteration)
        if info.iteration == 3:
            raise StopIteration

    result = lrkit.calibrate(problem.sensing, problem.y, callback=stop_after_three)
    assert seen == [1, 2, 3] and result.status is Status.CALLBACK and not result.converged
    assert len(result.history["loss"]) == 3


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    problem = lrkit.problems.calibration(n=8, m=16, p=6, seed=8)
    result = lrkit.calibrate(torch.from_numpy(problem.sensing), torch.from_numpy(problem.y),
                             truth=problem.truth)
    assert isinstance(result.gains, torch.Tensor) and isinstance(result.signal, torch.Tensor)
    on_numpy = lrkit.calibrate(problem.sensing, problem.y, truth=problem.truth)
    np.testing.assert_allclose(result.gains.numpy(), on_numpy.gains, rtol=1e-10)
    np.testing.assert_allclose(result.signal.numpy(), on_numpy.signal, rtol=1e-10)
    assert result.converged and result.rel_error < 1e-6


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "foo"}, "method must be one of"),
    ({"sensing": np.zeros((3, 4))}, "sensing has shape"),
    ({"y": np.zeros((6, 16))}, "y is all zeros"),
    ({"y": np.full((6, 16), np.nan)}, "y contains 96 non-finite"),
    ({"sensing": np.ones((6, 16, 8)) * 1j}, "complex"),
    ({"sensing": np.ones((16, 8))}, "different sensing matrix"),
    ({"shared_signal": False}, "shared_signal=True"),
    ({"method": "spectral", "spread": 0.5}, "apply to method='blind_gain' only"),
    ({"spread": 1.5}, "spread must be in"),
    ({"step": -1.0}, "step must be in"),
    ({"signal_basis": np.ones((3, 2))}, "signal_basis must have shape"),
    ({"truth": (np.ones(3), np.ones(8))}, "truth must be"),
])
def test_bad_input_is_one_line_error(kwargs, match):
    problem = lrkit.problems.calibration(n=8, m=16, p=6, seed=9)
    arguments = {"sensing": problem.sensing, "y": problem.y, **kwargs}
    with pytest.raises(ValueError, match=match) as error:
        lrkit.calibrate(**arguments)
    assert "\n" not in str(error.value)


def test_generators_validate():
    with pytest.raises(ValueError, match="spread must be in"):
        lrkit.problems.calibration(4, 4, 2, spread=1.0)
    with pytest.raises(ValueError, match="share at most one"):
        lrkit.problems.calibration(4, 4, 2, shared_sensing=True)
    problem = lrkit.problems.calibration(5, 7, 3, seed=0)
    assert problem.sensing.shape == (3, 7, 5) and np.isclose(problem.gains.mean(), 1)
    assert np.all(problem.gains > 0)
