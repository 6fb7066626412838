import numpy as np
import pytest
import scipy.sparse as sp

import lrkit
from lrkit.approx import choose_svd_method, gavish_donoho_threshold, select_rank


def slowly_decaying(n1=300, n2=200, seed=0):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n1, n2)))
    V, _ = np.linalg.qr(rng.standard_normal((n2, n2)))
    s = 1.0 / np.sqrt(np.arange(1, n2 + 1))
    return (U * s) @ V.T, s


def truncation_error(A, U, s, Vt):
    return np.linalg.norm(A - (U * s) @ Vt)


def test_exact_matches_numpy():
    A = np.random.default_rng(0).standard_normal((60, 40))
    U, s, Vt = lrkit.svd(A, rank=10, method="exact")
    s_ref = np.linalg.svd(A, compute_uv=False)[:10]
    np.testing.assert_allclose(s, s_ref, rtol=1e-10)
    assert truncation_error(A, U, s, Vt) == pytest.approx(np.sqrt(np.sum(
        np.linalg.svd(A, compute_uv=False)[10:] ** 2)), rel=1e-10)


def test_randomized_default_within_one_percent_of_optimal():
    A, s_true = slowly_decaying()
    k = 20
    optimal = np.sqrt(np.sum(s_true[k:] ** 2))  # Eckart–Young
    U, s, Vt = lrkit.svd(A, rank=k, method="randomized", seed=0)
    assert truncation_error(A, U, s, Vt) <= 1.01 * optimal
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-10)


def test_lanczos_sparse_and_operator():
    A = sp.random(200, 150, density=0.05, random_state=0, format="csr")
    U, s, Vt = lrkit.svd(A, rank=5, seed=0)
    s_ref = np.linalg.svd(A.toarray(), compute_uv=False)[:5]
    np.testing.assert_allclose(s, s_ref, rtol=1e-8)
    assert choose_svd_method(A, 5) == "lanczos"


def test_auto_rule():
    assert choose_svd_method(np.zeros((100, 50)), 5) == "exact"
    assert choose_svd_method(np.zeros((2000, 1000)), 10) == "lanczos"
    assert choose_svd_method(np.zeros((3000, 2000)), 20) == "randomized"
    assert choose_svd_method(np.zeros((3000, 2000)), 100) == "lanczos"
    assert choose_svd_method(np.zeros((2000, 1000)), 500) == "exact"
    torch = pytest.importorskip("torch")
    assert choose_svd_method(torch.zeros((3000, 2000)), 100) == "randomized"


def test_torch_input_stays_torch():
    torch = pytest.importorskip("torch")
    A, _ = slowly_decaying(120, 80)
    U, s, Vt = lrkit.svd(torch.as_tensor(A), rank=5, method="randomized", seed=0)
    assert isinstance(s, torch.Tensor)
    _, s_numpy, _ = lrkit.svd(A, rank=5, method="randomized", seed=0)
    np.testing.assert_allclose(s.numpy(), s_numpy, rtol=1e-10)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lrkit.svd(np.ones((5, 4)), rank=5), r"rank must be an int in \[1, min\(n1"),
        (lambda: lrkit.svd(np.full((5, 4), np.nan), rank=2), "non-finite"),
        (lambda: lrkit.svd(np.ones(5), rank=1), "2-dimensional"),
        (lambda: lrkit.svd(np.ones((5, 4)), rank=2, method="qr"), "method must be one of"),
        (lambda: select_rank([3.0, 1.0], threshold=1.5), r"threshold must be in \(0, 1\]"),
        (lambda: select_rank([3.0, 1.0], threshold=0.0), r"threshold must be in \(0, 1\]"),
        (lambda: select_rank([3.0, np.inf]), "non-finite"),
        (lambda: select_rank([3.0, 1.0], rule="gavish_donoho"), "shape"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_energy_rule():
    s = np.array([3.0, 2.0, 1.0, 0.1])
    assert select_rank(s, "energy", threshold=1.0) == 4
    assert select_rank(s, "energy", threshold=0.9) == 2
    assert select_rank(s, "energy", threshold=0.99) == 3


@pytest.mark.parametrize("shape", [(300, 300), (400, 150), (150, 500)])
@pytest.mark.parametrize("known_noise", [True, False])
def test_gavish_donoho_finds_the_rank(shape, known_noise):
    rng = np.random.default_rng(1)
    rank, sigma = 6, 0.1
    n1, n2 = shape
    X = lrkit.problems.low_rank_matrix(n1, n2, rank, cond=2.0, seed=rng) * 8 * sigma * np.sqrt(
        max(shape))
    Y = X + sigma * rng.standard_normal(shape)
    s = np.linalg.svd(Y, compute_uv=False)
    noise = sigma if known_noise else None
    assert select_rank(s, "gavish_donoho", shape=shape, noise=noise) == rank
    assert select_rank(s, "marchenko_pastur", shape=shape, noise=noise) == rank


def test_gavish_donoho_square_constant():
    # λ*(1) = 4/√3 for square matrices (Gavish & Donoho 2014).
    assert gavish_donoho_threshold((100, 100), noise=1.0) == pytest.approx(4 / np.sqrt(3) * 10)


def test_spectral_metrics():
    A = np.diag([4.0, 2.0, 2.0, 0.0])
    assert lrkit.spectral.stable_rank(A) == pytest.approx(24 / 16)
    assert lrkit.spectral.effective_rank(np.eye(5)) == pytest.approx(5)
    assert lrkit.spectral.marchenko_pastur_edge((100, 400), 0.5) == pytest.approx(15.0)
    noise = np.random.default_rng(0).standard_normal((400, 100))
    assert np.linalg.norm(noise, 2) == pytest.approx(30.0, rel=0.05)
