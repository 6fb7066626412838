"""Column/row sampling approximations: Nyström and CUR with leverage or ℓp-sensitivity scores."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_choice, check_finite_array, check_int, check_real

SAMPLINGS = ("leverage", "sensitivity", "uniform")
#: Fixed-point iterations for ℓp Lewis weights.
LEWIS_ITERATIONS = 30


class NystromFactors(NamedTuple):
    """``A ≈ C pinv(W) R``: ``C = A[:, S]``, ``W = A[S, S]``, ``R = A[S, :]``."""

    C: np.ndarray
    W: np.ndarray
    R: np.ndarray


class CURFactors(NamedTuple):
    """``A ≈ C U R``: ``C = A[:, J]``, ``R = A[I, :]``, ``U = pinv(C) A pinv(R)``."""

    C: np.ndarray
    U: np.ndarray
    R: np.ndarray


#: The 0.1 names of the factor types (one letter's case from the functions ``nystrom`` and
#: ``cur``); kept importable, not listed.
Nystrom, CUR = NystromFactors, CURFactors


def leverage_scores(basis) -> np.ndarray:
    """Squared row norms of an orthonormal ``basis`` (n × k); they sum to k."""
    return np.sum(basis**2, axis=1)


def lewis_weights(basis, p=1.0) -> np.ndarray:
    """ℓp Lewis weights of the rows of ``basis`` by the fixed point
    ``w_i = (a_iᵀ (Aᵀ W^{1−2/p} A)^{-1} a_i)^{p/2}`` (Cohen & Peng 2015; converges for p < 4).

    They bound the ℓp sensitivities ``sup_x |a_iᵀ x|^p / ||A x||_p^p`` up to a factor
    ``k^{max(0, p/2 − 1)}`` and sum to k, which is what sensitivity sampling for ℓp subspace
    embeddings draws from (Woodruff & Yasuda et al., "Sharper bounds for ℓp sensitivity
    sampling", 2023). ``p = 2`` gives the leverage scores.
    """
    p = check_real("p", p, 0.0, 4.0, low_open=True, high_open=True)
    k = basis.shape[1]
    w = np.full(basis.shape[0], k / basis.shape[0])
    for _ in range(LEWIS_ITERATIONS):
        scaled = basis * (w ** (0.5 - 1.0 / p))[:, None]
        gram_inv = np.linalg.pinv(scaled.T @ scaled, hermitian=True)
        w = np.maximum(np.einsum("ij,jk,ik->i", basis, gram_inv, basis), 0.0) ** (p / 2)
    return w


def sample_indices(scores, count, seed=None) -> np.ndarray:
    """``count`` distinct indices drawn without replacement with probability ∝ ``scores``."""
    probabilities = np.asarray(scores, dtype=float) + 1e-15
    probabilities /= probabilities.sum()
    chosen = as_generator(seed).choice(len(probabilities), size=count, replace=False,
                                       p=probabilities)
    return np.sort(chosen)


def _scores(basis, sampling, p):
    if sampling == "leverage":
        return leverage_scores(basis)
    if sampling == "sensitivity":
        return lewis_weights(basis, p)
    return np.ones(basis.shape[0])


def _top_subspaces(A, k):
    """``(U_k, V_k)``: the top-``k`` singular subspaces, from a truncated SVD (the leverage
    scores need no more; a full SVD took longer than the whole CUR should)."""
    from lrkit.approx.truncated_svd import svd

    U, _, Vt = svd(A, k, seed=0)
    return U, Vt.T


def _check_matrix(A, k, count):
    A = np.asarray(A, dtype=np.float64)
    check_finite_array("A", A, ndim=2)
    k = check_int("k", k, 1, min(A.shape), high_label="min(n1, n2)")
    count = k if count is None else check_int("count", count, k, min(A.shape),
                                              high_label="min(n1, n2)")
    return A, k, count


def nystrom(A, k, *, count=None, sampling="leverage", p=1.0, seed=None) -> NystromFactors:
    """Nyström approximation of a symmetric positive semi-definite matrix from ``count``
    sampled columns (default ``k``), ``A ≈ C W⁺ Cᵀ`` (Williams & Seeger 2001; the Nyström
    step of MoDeGPT, Lin et al. 2025).

    Columns are drawn with probability ∝ the rank-``k`` leverage scores of A (Gittens &
    Mahoney 2016), ℓp Lewis weights (``"sensitivity"``) or uniformly.
    """
    check_choice("sampling", sampling, SAMPLINGS)
    A, k, count = _check_matrix(A, k, count)
    if A.shape[0] != A.shape[1] or not np.allclose(A, A.T, atol=1e-10 * np.abs(A).max()):
        raise ValueError(f"nystrom needs a symmetric PSD matrix; got shape {A.shape}"
                         f"{'' if A.shape[0] != A.shape[1] else ' (not symmetric)'}; "
                         "use cur() for general matrices")
    vectors = _top_subspaces(A, k)[0]  # PSD: the top eigenvectors are the singular vectors
    scores = _scores(vectors, sampling, check_real("p", p, low=1.0))
    index = sample_indices(scores, count, seed)
    return NystromFactors(A[:, index], A[np.ix_(index, index)], A[index, :])


def cur(A, k, *, count=None, sampling="leverage", p=1.0, seed=None) -> CURFactors:
    """CUR decomposition ``A ≈ C U R`` from ``count`` sampled columns and rows (default
    ``4k``), ``U = C⁺ A R⁺`` (the best middle factor for the chosen C and R).

    ``sampling="leverage"``: columns ∝ the rank-``k`` leverage scores ``||V_k[j]||²`` and rows
    ∝ ``||U_k[i]||²``, which gives relative-error CUR with O(k log k / ε²) samples (Drineas,
    Mahoney & Muthukrishnan 2008). ``"sensitivity"``: ∝ ℓp Lewis weights of the same bases
    (see :func:`lewis_weights`). ``"uniform"``: for comparison.
    """
    check_choice("sampling", sampling, SAMPLINGS)
    A, k, _ = _check_matrix(A, k, None)
    count = min(4 * k, min(A.shape)) if count is None else count
    A, k, count = _check_matrix(A, k, count)
    rng = as_generator(seed)
    U, V = _top_subspaces(A, k)
    p = check_real("p", p, low=1.0)
    cols = sample_indices(_scores(V, sampling, p), count, rng)
    rows = sample_indices(_scores(U, sampling, p), count, rng)
    C, R = A[:, cols], A[rows, :]
    middle = np.linalg.pinv(C) @ A @ np.linalg.pinv(R)
    return CURFactors(C, middle, R)


def approximation_error(A, factors, k) -> dict:
    """Frobenius error of a :class:`NystromFactors` or :class:`CURFactors` approximation,
    and its ratio to the optimal rank-``k`` error ``(Σ_{i>k} σ_i²)^{1/2}`` (Eckart–Young)."""
    A = np.asarray(A, dtype=np.float64)
    if isinstance(factors, NystromFactors):
        approx = factors.C @ np.linalg.pinv(factors.W, hermitian=True) @ factors.R
    else:
        approx = factors.C @ factors.U @ factors.R
    error = float(np.linalg.norm(A - approx))
    s = np.linalg.svd(A, compute_uv=False)
    optimal = float(np.sqrt(np.sum(s[k:] ** 2)))
    norm = float(np.linalg.norm(A))
    return {"error": error, "relative_error": error / norm if norm else 0.0,
            "optimal": optimal, "ratio_to_optimal": error / optimal if optimal > 0 else np.inf}
