"""Rank-one sensing: ``A_i = a_i b_iᵀ``, stored as its vectors."""

from __future__ import annotations

import math

import numpy as np

from lrkit._backend import namespace
from lrkit._random import as_generator
from lrkit.operators.base import SensingOperator, check_dims, check_fits


class RankOneSensing(SensingOperator):
    """``y_i = a_iᵀ X b_i / √m`` with i.i.d. standard Gaussian ``a_i ∈ R^{n1}``, ``b_i ∈ R^{n2}``.

    ``E[A*A] = I`` as for :class:`GaussianSensing`, but memory is O(m (n1 + n2)) instead of
    O(m n1 n2), and every product with factors avoids the n1×n2 matrix:
    ``A(F Gᵀ)_i = <Fᵀa_i, Gᵀb_i>/√m`` and ``A*(y) V = Σ_i y_i a_i (b_iᵀ V)/√m``, each
    O(m (n1 + n2) k).

    Parameters
    ----------
    n1, n2, m : int
        Matrix shape and number of measurements.
    seed : int or numpy.random.Generator, optional
    max_bytes : int, optional
        Memory budget for the stored vectors.
    """

    def __init__(self, n1, n2, m, seed=None, max_bytes=None, dtype=np.float64):
        super().__init__()
        n1, n2, m = check_dims(n1, n2, m)
        n_bytes = m * (n1 + n2) * np.dtype(dtype).itemsize
        check_fits(f"RankOneSensing(n1={n1}, n2={n2}, m={m})", n_bytes, max_bytes, "Reduce m.")
        rng = as_generator(seed)
        self.shape = (n1, n2)
        self.m = m
        self.left = rng.standard_normal((m, n1)).astype(dtype, copy=False)
        self.right = rng.standard_normal((m, n2)).astype(dtype, copy=False)
        self._scale = 1.0 / math.sqrt(m)

    @property
    def nbytes(self) -> int:
        return self.left.nbytes + self.right.nbytes

    def _vectors(self, reference):
        return (
            self._on_backend("left", self.left, reference),
            self._on_backend("right", self.right, reference),
        )

    def forward(self, X):
        self._check_matrix(X)
        a, b = self._vectors(X)
        return self._scale * namespace(X).sum((a @ X) * b, axis=1)

    def forward_factored(self, F, G):
        a, b = self._vectors(F)
        return self._scale * namespace(F).sum((a @ F) * (b @ G), axis=1)

    def adjoint(self, y):
        self._check_measurements(y)
        a, b = self._vectors(y)
        return self._scale * (a.T @ (y[:, None] * b))

    def adjoint_apply(self, y, V):
        a, b = self._vectors(V)
        return self._scale * (a.T @ (y[:, None] * (b @ V)))

    def adjoint_apply_t(self, y, U):
        a, b = self._vectors(U)
        return self._scale * (b.T @ (y[:, None] * (a @ U)))

    def factor_gradients(self, y, F, G):
        return self.adjoint_apply(y, G), self.adjoint_apply_t(y, F)
