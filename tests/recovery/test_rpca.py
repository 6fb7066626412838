"""Robust PCA (issue 3): exact recovery by PCP and AltProj, missing entries, bad input."""

import numpy as np
import pytest

import lrkit


@pytest.fixture(scope="module")
def rpca_problem():
    # rank 5 % of n, 5 % gross corruptions (Candès, Li, Ma & Wright 2011, Sec. 4).
    return lrkit.problems.robust_pca(300, 300, rank=15, corruption=0.05, seed=0)


@pytest.mark.parametrize("method", ["pcp", "altproj"])
def test_exact_recovery(rpca_problem, method):
    dec = lrkit.rpca(rpca_problem.matrix, method=method, rank=15, tol=1e-9,
                     truth=rpca_problem.low_rank)
    assert dec.converged
    assert lrkit.relative_error(dec.low_rank, rpca_problem.low_rank) < 1e-6
    assert lrkit.relative_error(dec.sparse, rpca_problem.sparse) < 1e-6
    np.testing.assert_allclose(dec.estimate, dec.low_rank, atol=1e-10)
    assert dec.factors[0].shape[1] == 15


@pytest.mark.parametrize("method", ["pcp", "altproj"])
def test_missing_entries(method):
    prob = lrkit.problems.robust_pca(200, 200, rank=5, corruption=0.05, p_obs=0.8, seed=1)
    dec = lrkit.rpca(prob.matrix, method=method, rank=5, mask=prob.mask, tol=1e-9)
    assert lrkit.relative_error(dec.low_rank, prob.low_rank) < 1e-6
    assert np.all(dec.sparse[~prob.mask] == 0)


def test_default_lambda_and_history(rpca_problem):
    dec = lrkit.rpca(rpca_problem.matrix, truth=rpca_problem.low_rank)
    assert dec.method == "pcp" and dec.history["rel_error"][-1] < 1e-5
    assert len(dec.history["loss"]) == dec.n_iter


def test_bad_input():
    M = np.ones((20, 10))
    with pytest.raises(ValueError, match="rank"):
        lrkit.rpca(M, method="altproj")
    with pytest.raises(ValueError, match="rank"):
        lrkit.rpca(M, method="altproj", rank=11)
    with pytest.raises(ValueError, match="lam"):
        lrkit.rpca(M, lam=-0.1)
    with pytest.raises(ValueError, match="mask"):
        lrkit.rpca(M, mask=np.ones((10, 20), dtype=bool))
    with pytest.raises(ValueError, match="no observed"):
        lrkit.rpca(M, mask=np.zeros((20, 10), dtype=bool))
    bad = M.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="contains inf"):
        lrkit.rpca(bad)
    with pytest.raises(ValueError, match="method"):
        lrkit.rpca(M, method="svd")
