"""lrkit.svd on Dask arrays: the block Krylov engine on chunked products (issue 17)."""

import numpy as np
import pytest

import lrkit

da = pytest.importorskip("dask.array")


def _slow_spectrum(n1=3000, n2=400, length=200, seed=0):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n1, length)))[0]
    V = np.linalg.qr(rng.standard_normal((n2, length)))[0]
    s = np.arange(1, length + 1) ** -0.5  # the hard case for sketching
    return (U * s) @ V.T, s


def _excess(A, U, s, Vt, optimal):
    return np.linalg.norm(A - (np.asarray(U) * s) @ Vt) / optimal


def test_dask_equals_the_in_memory_engine_and_is_near_optimal():
    A, s_true = _slow_spectrum()
    D = da.from_array(A, chunks=(500, 400))
    U, s, Vt = lrkit.svd(D, 20, seed=0)
    assert isinstance(U, da.Array) and isinstance(s, np.ndarray) and U.shape == (3000, 20)
    reference = lrkit.svd(A, 20, method="krylov", seed=0)
    np.testing.assert_allclose(s, reference[1], rtol=1e-10)
    np.testing.assert_allclose(s, s_true[:20], rtol=1e-8)  # the accuracy target, met
    optimal = np.sqrt(np.sum(s_true[20:] ** 2))
    assert _excess(A, U.compute(), s, Vt, optimal) < 1 + 1e-10  # at Eckart–Young
    np.testing.assert_allclose(U.compute().T @ U.compute(), np.eye(20), atol=1e-10)


def test_wide_dask_arrays_and_chunking_do_not_matter():
    A, _ = _slow_spectrum(seed=1)
    tall = lrkit.svd(da.from_array(A, chunks=(300, 400)), 10, seed=0)
    wide = lrkit.svd(da.from_array(A.T, chunks=(400, 1000)), 10, seed=0)
    np.testing.assert_allclose(wide[1], tall[1], rtol=1e-10)
    assert isinstance(wide[0], da.Array) and wide[0].shape == (400, 10)
    np.testing.assert_allclose(np.abs(wide[2]), np.abs(tall[0].compute().T), atol=1e-8)


def test_dask_input_is_validated():
    A = np.ones((50, 20))
    A[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        lrkit.svd(da.from_array(A, chunks=(10, 20)), 2)
    with pytest.raises(ValueError, match="needs the matrix in memory"):
        lrkit.svd(da.ones((50, 20), chunks=(10, 20)), 2, method="randomized")
    with pytest.raises(ValueError, match="rank"):
        lrkit.svd(da.ones((50, 20), chunks=(10, 20)), 30)
