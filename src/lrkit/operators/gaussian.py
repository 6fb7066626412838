"""Dense Gaussian sensing, the near-isotropic design of the matrix-sensing literature."""

from __future__ import annotations

import numpy as np

from lrkit._backend import namespace
from lrkit._random import as_generator
from lrkit.operators.base import SensingOperator, check_dims, check_fits


class GaussianSensing(SensingOperator):
    """``y_i = <A_i, X>`` with i.i.d. Gaussian ``A_i`` scaled so that ``E[A*A] = I``.

    Asymmetric: entries of ``A_i`` are N(0, 1/m). Symmetric (``symmetric=True``, square
    only): ``A_i = (B_i + B_iᵀ)/2`` with ``B_i`` as above, so ``E[A*A] X = X`` for every
    symmetric X (the setting of paper 1, Xiong, Ding & Du 2023).

    The m sensing matrices are stored as one dense m × (n1 n2) array; building one larger
    than the memory budget raises :class:`~lrkit.operators.OperatorTooLargeError`.

    Parameters
    ----------
    n1, n2 : int
        Shape of the matrices measured.
    m : int
        Number of measurements.
    symmetric : bool, default False
        Symmetric sensing matrices (requires ``n1 == n2``).
    seed : int or numpy.random.Generator, optional
        Randomness of the design.
    max_bytes : int, optional
        Memory budget for this operator (default: :func:`lrkit.operators.memory_budget`).
    dtype : numpy dtype, default float64
    """

    def __init__(self, n1, n2, m, symmetric=False, seed=None, max_bytes=None, dtype=np.float64):
        super().__init__()
        n1, n2, m = check_dims(n1, n2, m)
        if symmetric and n1 != n2:
            raise ValueError(f"symmetric=True needs a square shape; got n1={n1}, n2={n2}")
        if np.dtype(dtype).kind != "f":
            raise ValueError(f"dtype must be a floating type (float32 or float64); got "
                             f"{np.dtype(dtype)}: an integer design would be all zeros")
        n_bytes = m * n1 * n2 * np.dtype(dtype).itemsize
        check_fits(
            f"GaussianSensing(n1={n1}, n2={n2}, m={m})",
            n_bytes,
            max_bytes,
            "Use RankOneSensing (memory O(m (n1 + n2))) for large problems.",
        )
        rng = as_generator(seed)
        design = rng.standard_normal((m, n1, n2)) / np.sqrt(m)
        if symmetric:
            design = 0.5 * (design + design.transpose(0, 2, 1))
        self.shape = (n1, n2)
        self.m = m
        self.symmetric = bool(symmetric)
        self.matrix = design.reshape(m, n1 * n2).astype(dtype, copy=False)

    @property
    def nbytes(self) -> int:
        return self.matrix.nbytes

    def forward(self, X):
        self._check_matrix(X)
        A = self._on_backend("matrix", self.matrix, X)
        return A @ namespace(X).reshape(X, (self.shape[0] * self.shape[1],))

    def adjoint(self, y):
        self._check_measurements(y)
        A = self._on_backend("matrix", self.matrix, y)
        return namespace(y).reshape(A.T @ y, self.shape)
