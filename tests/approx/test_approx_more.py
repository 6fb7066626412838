"""Incremental SVD, concatenated-matrix bounds and clustering, Nyström / CUR, WeLore rule."""

import numpy as np
import pytest

from lrkit.approx import (
    IncrementalSVD,
    approximation_error,
    cluster_for_compression,
    concat_error,
    concat_error_bound,
    cur,
    nystrom,
    select_rank,
    svd,
    welore_rank,
)


def test_incremental_svd_matches_batch_on_exactly_low_rank_data():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((120, 10)) @ rng.standard_normal((10, 400))
    inc = IncrementalSVD(rank=10, reorthogonalize_every=5)
    for block in np.split(A, 20, axis=1):
        inc.update(block)
    U, s, Vt = inc.factors()
    Ub, sb, Vtb = svd(A, 10, method="exact")
    np.testing.assert_allclose(s, sb, rtol=1e-8)
    assert np.linalg.norm((U * s) @ Vt - (Ub * sb) @ Vtb) < 1e-8 * np.linalg.norm(A)
    np.testing.assert_allclose(U.T @ U, np.eye(10), atol=1e-10)


def test_incremental_svd_errors():
    inc = IncrementalSVD(rank=3)
    with pytest.raises(ValueError, match="no block"):
        inc.factors()
    inc.update(np.ones((5, 2)))
    with pytest.raises(ValueError, match="rows"):
        inc.update(np.ones((4, 2)))
    with pytest.raises(ValueError, match="empty"):
        inc.update(np.ones((5, 0)))
    with pytest.raises(ValueError, match="non-finite"):
        inc.update(np.full((5, 2), np.nan))


def _block_family(kind, rng):
    if kind == "random":
        return [rng.standard_normal((48, int(rng.integers(3, 9)))) * rng.uniform(0.1, 3)
                for _ in range(15)]
    if kind == "shared_subspace":
        base = rng.standard_normal((48, 5))
        return [base @ rng.standard_normal((5, 8)) + 0.02 * rng.standard_normal((48, 8))
                for _ in range(15)]
    decay = np.diag(np.geomspace(1, 1e-3, 8))
    return [rng.standard_normal((48, 8)) @ decay * rng.uniform(0.1, 3) for _ in range(15)]


@pytest.mark.parametrize("kind", ["random", "shared_subspace", "decaying"])
@pytest.mark.parametrize("bound", ["norm", "residual", "estimate"])
def test_every_bound_holds(kind, bound):
    rng = np.random.default_rng(["random", "shared_subspace", "decaying"].index(kind))
    blocks = _block_family(kind, rng)
    for rank in (4, 8, 16, 32):
        truth = concat_error(blocks, rank)
        assert concat_error_bound(blocks, rank, bound) >= truth - 1e-10, (kind, rank)


def test_bound_ordering_on_shared_subspace():
    blocks = _block_family("shared_subspace", np.random.default_rng(1))
    truth = concat_error(blocks, 8)
    norm, residual, estimate = (concat_error_bound(blocks, 8, b)
                                for b in ("norm", "residual", "estimate"))
    assert truth <= estimate < 1.1 * truth + 1e-3
    assert residual <= norm


@pytest.mark.parametrize("method", ["maxnorm", "residual", "estimate"])
def test_clustering_meets_error_threshold_on_joint_svd(method):
    rng = np.random.default_rng(3)
    blocks = _block_family("shared_subspace", rng) + _block_family("decaying", rng)
    groups = cluster_for_compression(blocks, rank=16, max_error=0.2, method=method)
    assert sorted(i for g in groups for i in g) == list(range(len(blocks)))
    for group in groups:
        assert concat_error([blocks[i] for i in group], 16) <= 0.2 + 1e-12
    assert len(groups) < len(blocks)


def test_clustering_patience_and_bad_input():
    blocks = [np.random.default_rng(i).standard_normal((20, 6)) for i in range(6)]
    groups = cluster_for_compression(blocks, rank=6, max_error=1e-6, patience=2)
    assert all(len(g) == 1 for g in groups) and len(groups) == 6
    with pytest.raises(ValueError, match="max_error"):
        cluster_for_compression(blocks, rank=6, max_error=1.5)
    with pytest.raises(ValueError, match="max_error"):
        cluster_for_compression(blocks, rank=6, max_error=0.0)
    with pytest.raises(ValueError, match="empty"):
        concat_error_bound([np.ones((20, 0))], 2)
    with pytest.raises(ValueError, match="equal heights"):
        concat_error_bound([np.ones((20, 3)), np.ones((19, 3))], 2)
    with pytest.raises(ValueError, match="at least one"):
        concat_error_bound([], 2)
    with pytest.raises(ValueError, match="non-finite"):
        concat_error_bound([np.full((4, 3), np.inf)], 2)


@pytest.mark.parametrize("sampling", ["leverage", "sensitivity"])
def test_cur_close_to_optimal(sampling):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((200, 10)) @ rng.standard_normal((10, 150))
    A += 0.05 * rng.standard_normal(A.shape)
    report = approximation_error(A, cur(A, 10, sampling=sampling, seed=0), 10)
    assert report["ratio_to_optimal"] < 2.0


def test_nystrom_on_kernel_matrix():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    K = np.exp(-((X[:, None, :] - X[None, :, :]) ** 2).sum(-1) / 8)
    factors = nystrom(K, 20, count=40, seed=0)
    report = approximation_error(K, factors, 20)
    assert report["ratio_to_optimal"] < 2.0 and report["relative_error"] < 0.05
    np.testing.assert_allclose(factors.R, factors.C.T)
    with pytest.raises(ValueError, match="symmetric"):
        nystrom(rng.standard_normal((10, 8)), 2)


def test_welore_rule():
    heavy = np.array([100.0, 30, 10, 3, 1, 0.5, 0.4, 0.3, 0.2, 0.1])
    flat = np.linspace(10, 5, 10)
    assert welore_rank(heavy, 0.05) == 3
    assert welore_rank(flat, 0.05) == 9
    assert select_rank(heavy, "welore", threshold=0.05) == 3
    with pytest.raises(ValueError, match="threshold"):
        select_rank(heavy, "welore", threshold=1.5)
