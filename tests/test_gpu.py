"""The torch path on a GPU (issue 17): ``svd``, ``recover`` and ``MatrixCompletion`` take CUDA
tensors unchanged. Every test runs on the CPU too, so its body is checked everywhere; the CUDA
runs are marked ``gpu`` and skip without a GPU (``pytest -m gpu`` on a machine with one)."""

import numpy as np
import pytest

import lrkit

torch = pytest.importorskip("torch")


def _on(device, array):
    return torch.as_tensor(array, device=device)


def test_svd_of_a_device_tensor_stays_there_and_matches_numpy(device):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((300, 8)) @ rng.standard_normal((8, 200))
    A += 1e-3 * rng.standard_normal(A.shape)
    for method in ("randomized", "krylov"):
        U, s, Vt = lrkit.svd(_on(device, A), rank=5, method=method, seed=0)
        assert U.device.type == s.device.type == Vt.device.type == device
        np.testing.assert_allclose(s.cpu().numpy(), np.linalg.svd(A, compute_uv=False)[:5],
                                   rtol=1e-8)


def test_recover_from_device_measurements(device, asym_problem):
    p = asym_problem
    res = lrkit.recover(p.operator, _on(device, p.y), rank=2, method="scaled_gd",
                        truth=p.truth, seed=0)
    assert res.estimate.device.type == device and res.converged
    assert res.rel_error < 1e-8


def test_matrix_completion_of_a_device_tensor(device):
    rng = np.random.default_rng(1)
    M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    X = np.where(rng.random(M.shape) < 0.5, M, np.nan)
    reference = lrkit.MatrixCompletion(rank=3, seed=0).fit_transform(X)
    filled = lrkit.MatrixCompletion(rank=3, seed=0).fit_transform(_on(device, X))
    np.testing.assert_allclose(np.asarray(filled), reference, atol=1e-8)
    assert np.linalg.norm(reference - M) < 1e-2 * np.linalg.norm(M)
