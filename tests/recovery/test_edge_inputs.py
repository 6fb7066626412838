"""Valid edge inputs get right answers: all-zero data and extreme magnitudes (audit D5)."""

import numpy as np
import pytest

import lrkit
from lrkit.recovery import get_solver, solver_names

SCALES = [1e-300, 1e-150, 1e150, 1e300]


def _problem(method):
    if "lines" in get_solver(method).needs:
        return lrkit.problems.cross_completion(50, 40, 2, seed=0)
    if get_solver(method).needs:
        return lrkit.problems.completion(50, 40, 2, p_obs=0.5, seed=0)
    return lrkit.problems.sensing(30, 20, 2, 900, seed=0)


@pytest.mark.parametrize("method", solver_names())
def test_all_zero_measurements_give_the_zero_matrix(method):
    prob = _problem(method)
    res = lrkit.recover(prob.operator, np.zeros(prob.operator.m), 2, method=method, seed=0)
    assert res.converged and not np.any(res.estimate) and "all zero" in res.message


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("method", solver_names())
def test_extreme_magnitudes_recover_as_well_as_unit_ones(method, scale):
    prob = _problem(method)
    unit = lrkit.recover(prob.operator, prob.y, 2, method=method, truth=prob.truth, seed=0)
    res = lrkit.recover(prob.operator, prob.y * scale, 2, method=method,
                        truth=prob.truth * scale, seed=0)
    assert res.converged and np.all(np.isfinite(res.factors[0]))
    assert res.rel_error == pytest.approx(unit.rel_error, rel=1e-6, abs=1e-12)


def test_dimensional_options_follow_the_rescaling():
    prob = lrkit.problems.completion(50, 40, 2, p_obs=0.5, noise_std=0.1, seed=0)
    for method, option in (("altmin", "ridge"), ("softimpute", "lam")):
        unit = lrkit.recover(prob.operator, prob.y, 2, method=method, seed=0, **{option: 1.0})
        huge = lrkit.recover(prob.operator, prob.y * 1e200, 2, method=method, seed=0,
                             **{option: 1e200})
        assert lrkit.relative_error(huge.estimate / 1e200, unit.estimate) < 1e-8


@pytest.mark.parametrize("scale", [0.0, *SCALES])
@pytest.mark.parametrize("method", ["pcp", "altproj"])
def test_rpca_zero_and_extreme_magnitudes(method, scale):
    rp = lrkit.problems.robust_pca(60, 50, 3, corruption=0.05, seed=0)
    dec = lrkit.rpca(rp.matrix * scale, method, rank=3)
    assert dec.converged
    if scale == 0.0:
        assert not dec.low_rank.any() and not dec.sparse.any()
    else:
        assert lrkit.relative_error(dec.low_rank, rp.low_rank * scale) < 1e-5


def test_relative_error_at_extreme_magnitudes():
    truth = np.full((3, 3), 1e300)
    assert lrkit.relative_error(truth * 1.5, truth) == pytest.approx(0.5)
    assert lrkit.relative_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert lrkit.relative_error(np.ones((2, 2)), np.zeros((2, 2))) == np.inf


def _low_rank_with_gaps(seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((40, 2)) @ rng.standard_normal((2, 12))
    return M, np.where(rng.random(M.shape) < 0.6, M, np.nan)


def test_array_likes_are_accepted_the_same_way_everywhere():
    """Audit D9: lists, pandas (nullable dtypes too) and tensors with requires_grad."""
    pd = pytest.importorskip("pandas")
    torch = pytest.importorskip("torch")
    M, X = _low_rank_with_gaps()
    reference = lrkit.MatrixCompletion(rank=2, seed=0).fit_transform(X)
    nullable = pd.DataFrame(X).astype("Float64")  # missing = pd.NA
    assert nullable.isna().to_numpy().sum() == np.isnan(X).sum()
    for variant in (X.tolist(), pd.DataFrame(X), nullable,
                    torch.tensor(X, requires_grad=True)):
        filled = lrkit.MatrixCompletion(rank=2, seed=0).fit_transform(variant)
        np.testing.assert_allclose(filled, reference, atol=1e-10)
    W = torch.tensor(M, requires_grad=True)
    assert lrkit.spectral.analyze(W).shape == (40, 12)
    dec = lrkit.rpca(W)
    assert isinstance(dec.low_rank, torch.Tensor) and isinstance(dec.factors[0], torch.Tensor)


@pytest.mark.parametrize("entry", ["matrix_completion", "rpca", "analyze", "incremental"])
def test_complex_and_sparse_input_are_refused_by_name(entry):
    import scipy.sparse as sp

    call = {"matrix_completion": lambda X: lrkit.MatrixCompletion(rank=1).fit(X),
            "rpca": lrkit.rpca, "analyze": lrkit.spectral.analyze,
            "incremental": lambda X: lrkit.approx.IncrementalSVD(rank=1).update(X)}[entry]
    A = np.random.default_rng(0).standard_normal((20, 15))
    with pytest.raises(ValueError, match="is complex"):
        call(A + 1j * A)
    if entry not in ("incremental", "matrix_completion"):  # MatrixCompletion reads sparse
        with pytest.raises(ValueError, match="scipy.sparse"):
            call(sp.csr_matrix(A))


@pytest.mark.parametrize("method", ["exact", "randomized", "lanczos"])
def test_svd_edge_inputs(method):
    """Audit D7, D9, D11: complex, zero, extreme, list and tensor inputs to every engine."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((60, 3)) + 1j * rng.standard_normal((60, 3))
    A = Z @ (rng.standard_normal((3, 40)) + 1j * rng.standard_normal((3, 40)))
    A += 1e-3 * (rng.standard_normal((60, 40)) + 1j * rng.standard_normal((60, 40)))
    true = np.linalg.svd(A, compute_uv=False)[:3]  # before: randomized was a third too small
    np.testing.assert_allclose(lrkit.svd(A, 3, method=method, seed=0)[1], true, rtol=1e-6)
    for zero in (np.zeros((30, 20)), __import__("scipy.sparse").sparse.csr_matrix((30, 20))):
        if method == "exact" and not isinstance(zero, np.ndarray):
            continue
        U, s, Vt = lrkit.svd(zero, 3, method=method)
        assert not s.any() and np.allclose(U.T @ U, np.eye(3)) and np.allclose(Vt @ Vt.T,
                                                                                np.eye(3))
    B = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 30))
    for scale in (1e-300, 1e160, 1e300):
        s = lrkit.svd(B * scale, 3, method=method, seed=0)[1]
        np.testing.assert_allclose(s / scale, np.linalg.svd(B, compute_uv=False)[:3], rtol=1e-8)
    np.testing.assert_allclose(lrkit.svd(B.tolist(), 3, method=method, seed=0)[1],
                               np.linalg.svd(B, compute_uv=False)[:3], rtol=1e-8)
    torch = pytest.importorskip("torch")
    U, s, Vt = lrkit.svd(torch.tensor(B, requires_grad=True), 3, method=method, seed=0)
    assert isinstance(U, torch.Tensor) and isinstance(s, torch.Tensor)


def test_memory_guard_covers_problem_generators():
    """Audit D10: a 10^5 x 10^5 truth is an OperatorTooLargeError, not a MemoryError."""
    for make in (lambda: lrkit.problems.completion(100_000, 100_000, 2, m=10**6),
                 lambda: lrkit.problems.sensing(100_000, 100_000, 2, 100, design="rank_one"),
                 lambda: lrkit.problems.robust_pca(100_000, 100_000, 2)):
        with pytest.raises(lrkit.OperatorTooLargeError, match="GiB, above the memory budget"):
            make()
    with pytest.raises(ValueError, match="n1 == n2"):
        lrkit.problems.low_rank_matrix(5, 4, 2, symmetric=True)
    with pytest.raises(ValueError, match="rank must be"):
        lrkit.problems.low_rank_matrix(5, 4, 0)


def test_helpers_refuse_what_they_would_get_silently_wrong():
    """Audit D13: small helpers that returned wrong values or raw numeric errors."""
    from lrkit.approx import (
        concat_error,
        gavish_donoho_threshold,
        lewis_weights,
        marchenko_pastur_median,
        select_rank,
        welore_rank,
    )
    from lrkit.spectral import marchenko_pastur_edge

    cases = [
        (lambda: lrkit.operators.GaussianSensing(5, 4, 20, dtype=int), "floating type"),
        (lambda: gavish_donoho_threshold((10, 20), noise=-1), "noise must be"),
        (lambda: marchenko_pastur_median(0), "beta must be"),
        (lambda: marchenko_pastur_median(1.5), "beta must be"),
        (lambda: select_rank(np.ones(5), rule="gavish_donoho", shape=(0, 10)), r"shape\[0\]"),
        (lambda: marchenko_pastur_edge((-1, 5)), r"shape\[0\]"),
        (lambda: lewis_weights(np.eye(4, 2), p=0), "p must be"),
        (lambda: welore_rank([1.0, np.nan, 0.5]), "non-finite"),
        (lambda: concat_error([np.eye(4), np.eye(4)], rank=0), "rank must be"),
        (lambda: lrkit.operators.EntrySampling.from_mask(np.array([[1.0, np.nan]])), "NaN"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    assert lrkit.operators.EntrySampling.from_mask(np.array([[1, 0], [0, 1]])).m == 2


def test_recover_takes_lists_and_pandas_series():
    pd = pytest.importorskip("pandas")
    prob = lrkit.problems.sensing(20, 15, 2, 400, seed=0)
    reference = lrkit.recover(prob.operator, prob.y, 2, seed=0)
    for y in (prob.y.tolist(), pd.Series(prob.y)):
        res = lrkit.recover(prob.operator, y, 2, seed=0)
        np.testing.assert_allclose(res.estimate, reference.estimate)
