"""The ensemble solver of the biased ALS-WR half step (recovery._biased_systems)."""

import numpy as np
import pytest

from lrkit.ratings import _biased_systems
from lrkit.ratings._biased_systems import BiasedSystems, spd_solve


def _direct(index, other, values, n, factors, bias, penalty):
    """Each model's and row's system formed and solved on its own."""
    models, _, k = factors.shape
    out_f, out_b = np.zeros((models, n, k)), np.zeros((models, n))
    for m in range(models):
        design = np.hstack([factors[m], np.ones((len(factors[m]), 1))])
        for i in range(n):
            mine = index == i
            D = design[other[mine]]
            target = values[mine] - bias[m][other[mine]]
            x = np.linalg.solve(D.T @ D + np.diag(penalty[i]), D.T @ target)
            out_f[m, i], out_b[m, i] = x[:k], x[k]
    return out_f, out_b


@pytest.mark.parametrize("chunk", [None, 700])
def test_every_model_and_row_solves_its_own_system(monkeypatch, chunk):
    if chunk:  # groups of one model, blocks of a few rows: the same solutions
        monkeypatch.setattr(_biased_systems, "CHUNK_FLOATS", chunk)
    rng = np.random.default_rng(0)
    n, n_other, k, models, m = 30, 20, 4, 3, 300
    index, other = rng.integers(0, n - 2, m), rng.integers(0, n_other, m)  # rows 28, 29: empty
    index[:5], other[:5] = 3, 7  # a repeated pair counts twice
    values = rng.standard_normal(m)
    factors = rng.standard_normal((models, n_other, k))
    bias = rng.standard_normal((models, n_other))
    penalty = rng.uniform(0.1, 2, (n, k + 1))
    systems = BiasedSystems(index, other, n, n_other)
    F, b = systems.solve(systems.with_values(values), factors, bias, penalty)
    expected_F, expected_b = _direct(index, other, values, n, factors, bias, penalty)
    np.testing.assert_allclose(F, expected_F, atol=1e-10)
    np.testing.assert_allclose(b, expected_b, atol=1e-10)
    assert np.all(F[:, 28:] == 0) and np.all(b[:, 28:] == 0)  # cold rows keep zeros


def test_semidefinite_systems_get_their_minimum_norm_solution():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6, 5))
    matrices = np.einsum("ijs,kjs->iks", A, A)  # positive definite
    singular = rng.standard_normal((6, 2))
    matrices[:, :, 2] = singular @ singular.T  # rank 2: Cholesky breaks down
    rhs = rng.standard_normal((6, 5))
    rhs[:, 2] = singular @ rng.standard_normal(2)  # consistent
    x = spd_solve(matrices, rhs)
    for s in range(5):
        expected = np.linalg.pinv(matrices[:, :, s], hermitian=True) @ rhs[:, s]
        np.testing.assert_allclose(x[:, s], expected, atol=1e-8)
