"""Conjugate gradients on many small weighted least-squares systems at once, compiled.

Row ``u`` of ``X`` solves

    (S + Σ_{j ∈ Ω_u} w_j y_j y_jᵀ) x_u = Σ_{j ∈ Ω_u} t_j y_j,

where ``S`` (``k × k``, symmetric positive definite) is shared by every row, ``Ω_u`` is row
``u``'s slice ``indptr[u]:indptr[u+1]`` of the pairs, ``y_j = Y[indices[j]]`` the partner's
factor row and ``w_j``, ``t_j`` the pair's weight and target. Implicit-feedback ALS (Hu,
Koren & Volinsky 2008) is this system with ``S = YᵀY + λI``, ``w = c − 1``, ``t = c``;
each conjugate-gradient step costs ``O(|Ω_u| k + k²)`` and never forms the ``k × k``
matrix (Takács, Pilászy & Tikk 2011). Rows are independent: the kernel deals them to
Numba's threads (one caller at a time: Dask tasks calling it queue on a lock).
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

#: Numba's default thread pool must not be entered by two Python threads at once.
_LOCK = threading.Lock()


def _cg_rows(indptr, indices, weights, targets, Y, shared, X, steps):
    n, k = X.shape
    for u in prange(n):
        zero = shared[0, 0] - shared[0, 0]
        x = X[u].copy()
        r = np.empty(k, X.dtype)
        product = np.empty(k, X.dtype)
        for a in range(k):  # r = b − A x
            total = zero
            for b in range(k):
                total += shared[a, b] * x[b]
            r[a] = -total
        for j in range(indptr[u], indptr[u + 1]):
            y = Y[indices[j]]
            along = zero
            for a in range(k):
                along += y[a] * x[a]
            scale = targets[j] - weights[j] * along
            for a in range(k):
                r[a] += scale * y[a]
        p = r.copy()
        size = zero
        for a in range(k):
            size += r[a] * r[a]
        for _ in range(steps):
            if not size > 0:
                break
            for a in range(k):  # product = A p
                total = zero
                for b in range(k):
                    total += shared[a, b] * p[b]
                product[a] = total
            for j in range(indptr[u], indptr[u + 1]):
                y = Y[indices[j]]
                along = zero
                for a in range(k):
                    along += y[a] * p[a]
                scale = weights[j] * along
                for a in range(k):
                    product[a] += scale * y[a]
            curvature = zero
            for a in range(k):
                curvature += p[a] * product[a]
            if not curvature > 0:
                break
            step = size / curvature
            new_size = zero
            for a in range(k):
                x[a] += step * p[a]
                r[a] -= step * product[a]
                new_size += r[a] * r[a]
            ratio = new_size / size
            for a in range(k):
                p[a] = r[a] + ratio * p[a]
            size = new_size
        X[u] = x


def _observed_loss(indptr, indices, confidence, X, Y):
    total = 0.0
    for u in prange(X.shape[0]):
        x = X[u]
        for j in range(indptr[u], indptr[u + 1]):
            y = Y[indices[j]]
            score = 0.0
            for a in range(x.size):
                score += x[a] * y[a]
            total += confidence[j] * (1.0 - score) ** 2 - score * score
    return total


_compiled_cg = njit(parallel=True, fastmath=True, cache=True)(_cg_rows)
_compiled_loss = njit(parallel=True, fastmath=True, cache=True)(_observed_loss)


def cg_rows(indptr, indices, weights, targets, Y, shared, X, steps):
    """``steps`` conjugate-gradient steps on every row's system (module docstring), from
    and into ``X`` (updated in place; every array of one float dtype, C-contiguous)."""
    with _LOCK:
        _compiled_cg(indptr, indices, weights, targets, Y, shared, X, steps)


def observed_loss(indptr, indices, confidence, X, Y):
    """``Σ_u Σ_{j ∈ Ω_u} c_j (1 − s_j)² − s_j²`` with ``s_j = x_uᵀ y_j``: the observed pairs'
    share of the implicit-feedback objective (the rest is ``tr(XᵀX YᵀY)``), in float64."""
    with _LOCK:
        return float(_compiled_loss(indptr, indices, confidence, X, Y))
