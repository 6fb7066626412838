"""Initialisations and data-derived scales shared by the factored methods."""

from __future__ import annotations

import math

from lrkit._backend import like, namespace
from lrkit._linalg import implicit_top_svd
from lrkit._random import as_generator
from lrkit._stats import robust_scale


def adjoint_svd(operator, y, k, seed=None):
    """Top-``k`` SVD of ``A*(y) / isotropy`` (an unbiased estimate of the truth), matrix-free."""
    scale = 1.0 / operator.isotropy
    return implicit_top_svd(
        lambda V: scale * operator.adjoint_apply(y, V),
        lambda U: scale * operator.adjoint_apply_t(y, U),
        operator.shape,
        k,
        reference=y,
        seed=seed,
    )


def top_singular_value(operator, y, seed=None) -> float:
    """Estimate of ``σ_1(M*)`` from ``σ_1(A*(y)) / isotropy``: fixes default step sizes."""
    _, s, _ = adjoint_svd(operator, y, 1, seed=seed)
    return float(s[0])


def robust_frobenius_estimate(operator, y) -> float:
    """Outlier-resistant ``||M*||_F`` estimate: ``1.4826 · median|y_i| · sqrt(m / isotropy)``.

    Under a Gaussian design ``<A_i, M*> ~ N(0, isotropy ||M*||_F² / m)``, whose median
    absolute value is ``0.6745`` standard deviations; a minority of gross outliers barely
    moves the median.
    """
    return robust_scale(y) * math.sqrt(operator.m / operator.isotropy)


def small_init(shape, k, scale, symmetric, reference, seed=None):
    """Random factors with i.i.d. ``N(0, scale² / n)`` entries (paper 1's ``α``-scaled init)."""
    rng = as_generator(seed)
    n1, n2 = shape
    F = like(scale * rng.standard_normal((n1, k)) / math.sqrt(n1), reference)
    if symmetric:
        return F, F
    G = like(scale * rng.standard_normal((n2, k)) / math.sqrt(n2), reference)
    return F, G


def spectral_init(operator, y, k, symmetric, seed=None):
    """Factors of the best rank-``k`` approximation of ``A*(y)/isotropy``.

    Asymmetric: ``F = U √S``, ``G = V √S``. Symmetric: ``X = U √max(λ, 0)`` from the top
    eigenpairs of the symmetrised matrix (negative eigenvalues cannot be matched by XXᵀ).
    """
    U, s, Vt = adjoint_svd(operator, y, k, seed=seed)
    xp = namespace(y)
    if not symmetric:
        root = xp.sqrt(s)
        return U * root, Vt.T * root
    # For symmetric A*(y), left and right singular vectors agree up to the eigenvalue's sign.
    signs = xp.sum(U * Vt.T, axis=0)
    eig = xp.where(signs > 0, s, xp.zeros_like(s))
    X = U * xp.sqrt(eig)
    return X, X
