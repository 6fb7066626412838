"""Shared dense linear algebra, written once against the array API."""

from __future__ import annotations

from lrkit._backend import like, namespace
from lrkit._random import as_generator


def orthonormalize(Y):
    """Orthonormal basis of the columns of ``Y`` (thin QR)."""
    Q, _ = namespace(Y).linalg.qr(Y)
    return Q


def implicit_top_svd(apply, apply_t, shape, k, reference, power_iters=4, oversample=10, seed=None,
                     start=None):
    """Top-``k`` SVD of a matrix Z known only through ``apply(V) = Z V`` and
    ``apply_t(U) = Zᴴ U`` (the conjugate transpose; ``Zᵀ`` for real Z).

    Randomized range finder with power iterations and re-orthonormalisation between every
    product (Halko, Martinsson & Tropp 2011, Alg. 4.4), then an exact SVD of the small
    projected matrix ``Qᵀ Z``. ``reference`` fixes the array library, device and dtype.
    ``start`` (n2 × c, optional) supplies the first columns of the test block, e.g. the
    right singular vectors of a nearby matrix (a warm start); the rest are Gaussian.

    Returns
    -------
    U : (n1, k), s : (k,), Vt : (k, n2)
    """
    n1, n2 = shape
    width = min(k + oversample, n1, n2)
    xp = namespace(reference)
    warm = 0 if start is None else min(start.shape[1], width)
    omega = like(as_generator(seed).standard_normal((n2, width - warm)), reference)
    if warm:
        omega = xp.concat([start[:, :warm], omega], axis=1)
    Q = orthonormalize(apply(omega))
    for _ in range(power_iters):
        Q = orthonormalize(apply(orthonormalize(apply_t(Q))))
    B = apply_t(Q)  # Zᴴ Q, then B = Qᴴ Z, (width, n2)
    B = (xp.conj(B) if xp.isdtype(B.dtype, "complex floating") else B).T
    Ub, s, Vt = xp.linalg.svd(B, full_matrices=False)
    return (Q @ Ub)[:, :k], s[:k], Vt[:k, :]
