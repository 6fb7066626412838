import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.operators import (
    AdjointTestError,
    EntrySampling,
    GaussianSensing,
    OperatorTooLargeError,
    RankOneSensing,
    dottest,
    set_memory_budget,
)

sizes = st.integers(1, 9)


@settings(max_examples=25, deadline=None)
@given(n1=sizes, n2=sizes, m=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_gaussian_dottest(n1, n2, m, seed):
    assert dottest(GaussianSensing(n1, n2, m, seed=seed), seed=seed)


@settings(max_examples=25, deadline=None)
@given(n=sizes, m=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_symmetric_gaussian_dottest(n, m, seed):
    op = GaussianSensing(n, n, m, symmetric=True, seed=seed)
    assert dottest(op, seed=seed)
    A = op.matrix.reshape(m, n, n)
    np.testing.assert_allclose(A, A.transpose(0, 2, 1))


@settings(max_examples=25, deadline=None)
@given(n1=sizes, n2=sizes, m=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_rank_one_dottest(n1, n2, m, seed):
    assert dottest(RankOneSensing(n1, n2, m, seed=seed), seed=seed)


@settings(max_examples=25, deadline=None)
@given(n1=sizes, n2=sizes, frac=st.floats(0.05, 1.0), seed=st.integers(0, 2**31))
def test_entry_sampling_dottest(n1, n2, frac, seed):
    m = max(1, int(frac * n1 * n2))
    assert dottest(EntrySampling.random(n1, n2, m, seed=seed), seed=seed)


def test_dottest_catches_a_wrong_adjoint():
    class Broken(GaussianSensing):
        def adjoint(self, y):
            return 2 * super().adjoint(y)

    op = Broken(4, 3, 10, seed=0)
    assert dottest(op, seed=0, raise_error=False) is False
    with pytest.raises(AdjointTestError, match="fails"):
        dottest(op, seed=0)


@pytest.mark.parametrize("symmetric", [False, True])
def test_gaussian_is_isotropic_in_expectation(symmetric):
    n, m = 6, 20000
    op = GaussianSensing(n, n, m, symmetric=symmetric, seed=1)
    X = np.random.default_rng(0).standard_normal((n, n))
    X = X + X.T
    back = op.adjoint(op.forward(X))
    assert np.linalg.norm(back - X) / np.linalg.norm(X) < 0.1


def test_rank_one_is_isotropic_in_expectation():
    op = RankOneSensing(5, 4, 40000, seed=0)
    X = np.random.default_rng(0).standard_normal((5, 4))
    assert np.linalg.norm(op.adjoint(op.forward(X)) - X) / np.linalg.norm(X) < 0.1


def test_entry_sampling_adjoint_is_the_projection():
    mask = np.random.default_rng(0).random((7, 5)) < 0.4
    op = EntrySampling.from_mask(mask)
    X = np.arange(35.0).reshape(7, 5)
    np.testing.assert_array_equal(op.adjoint(op.forward(X)), np.where(mask, X, 0))
    np.testing.assert_array_equal(op.mask(), mask)
    assert op.isotropy == pytest.approx(mask.sum() / 35)


def test_memory_guard_names_size_and_alternative():
    with pytest.raises(OperatorTooLargeError, match=r"GiB.*RankOneSensing"):
        GaussianSensing(1000, 1000, 10000, seed=0)
    with pytest.raises(OperatorTooLargeError):
        GaussianSensing(10, 10, 100, max_bytes=1000)
    previous = set_memory_budget(10**6)
    try:
        with pytest.raises(OperatorTooLargeError):
            GaussianSensing(30, 30, 200)
    finally:
        set_memory_budget(previous)
    # Rank-one sensing stores only its vectors: 10^4 measurements of a 10^3 x 10^3 matrix
    # fit where a dense Gaussian design of the same size (80 GB) is refused.
    with pytest.raises(OperatorTooLargeError):
        GaussianSensing(1000, 1000, 10000)
    op = RankOneSensing(1000, 1000, 10000, seed=0)
    X = np.zeros((1000, 1000))
    X[3, 7] = 1.0
    assert op.forward(X).shape == (10000,) and np.count_nonzero(op.forward(X)) > 0


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GaussianSensing(0, 3, 5), "n1"),
        (lambda: GaussianSensing(3, 3, -1), "m"),
        (lambda: GaussianSensing(3, 4, 5, symmetric=True), "square"),
        (lambda: EntrySampling((3, 3), [0, 5], [0, 1]), "out of range"),
        (lambda: EntrySampling((3, 3), [0, 0], [1, 1]), "more than once"),
        (lambda: EntrySampling((3, 3), [], []), "empty"),
        (lambda: EntrySampling.random(3, 3, 10), "m must be"),
    ],
)
def test_operator_bad_input(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_shape_checks():
    op = GaussianSensing(4, 3, 10, seed=0)
    with pytest.raises(ValueError, match="shape"):
        op.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        op.adjoint(np.zeros(9))
