"""Measurement operators ``A: R^{n1×n2} → R^m`` and the memory guard."""

from __future__ import annotations

import os

from lrkit._backend import like, namespace
from lrkit._validation import check_int
from lrkit.exceptions import OperatorTooLargeError

_DEFAULT_BUDGET = int(float(os.environ.get("LRKIT_MEMORY_BUDGET", 2 * 1024**3)))
_budget = {"bytes": _DEFAULT_BUDGET}


def set_memory_budget(n_bytes: int) -> int:
    """Set the largest operator (in bytes) lrkit will build; returns the previous budget.

    The default is 2 GiB, or the ``LRKIT_MEMORY_BUDGET`` environment variable.
    """
    previous = _budget["bytes"]
    _budget["bytes"] = check_int("n_bytes", n_bytes, 1)
    return previous


def memory_budget() -> int:
    """The current operator memory budget in bytes."""
    return _budget["bytes"]


def check_fits(name: str, n_bytes: int, max_bytes: int | None, hint: str) -> None:
    """Raise :class:`OperatorTooLargeError` if ``n_bytes`` exceeds the budget."""
    budget = memory_budget() if max_bytes is None else max_bytes
    if n_bytes > budget:
        raise OperatorTooLargeError(
            f"{name} needs {n_bytes / 1024**3:.2f} GiB, above the memory budget of "
            f"{budget / 1024**3:.2f} GiB (max_bytes / lrkit.operators.set_memory_budget). {hint}"
        )


def check_dims(n1, n2, m):
    """Validate the sizes shared by every operator."""
    return check_int("n1", n1, 1), check_int("n2", n2, 1), check_int("m", m, 1)


class SensingOperator:
    """Base class of linear measurement operators ``y_i = <A_i, X>``, i = 1..m.

    Subclasses implement :meth:`forward` and :meth:`adjoint` and may override the
    factor-aware products, whose defaults go through the dense ``A*(y)``.

    Attributes
    ----------
    shape : tuple (n1, n2)
        Shape of the matrices measured.
    m : int
        Number of measurements.
    symmetric : bool
        True when every ``A_i`` is symmetric (so ``A*(y)`` is symmetric).
    isotropy : float
        The constant ``c`` with ``E[A*A] = c·I``: 1 for normalised Gaussian designs,
        the sampling rate ``m / (n1 n2)`` for entry sampling. Solvers use it to derive step sizes.
    capabilities : frozenset of str
        What the operator offers beyond the products every operator has; solvers declare
        what they need (``"entries"``: it observes entries, with ``rows`` and ``cols``).
    """

    shape: tuple
    m: int
    symmetric: bool = False
    isotropy: float = 1.0
    capabilities: frozenset = frozenset()

    def __init__(self):
        self._backend_cache = {}

    # -- to implement -------------------------------------------------------------------
    def forward(self, X):
        """``A(X)``: the m measurements of an n1×n2 matrix."""
        raise NotImplementedError

    def adjoint(self, y):
        """``A*(y) = Σ_i y_i A_i`` as a dense n1×n2 matrix."""
        raise NotImplementedError

    # -- factor-aware products (override where structure allows) --------------------------
    def forward_factored(self, F, G):
        """``A(F Gᵀ)`` for factors F (n1×k), G (n2×k)."""
        return self.forward(F @ G.T)

    def adjoint_apply(self, y, V):
        """``A*(y) @ V`` for V of shape (n2, k)."""
        return self.adjoint(y) @ V

    def adjoint_apply_t(self, y, U):
        """``A*(y)ᵀ @ U`` for U of shape (n1, k)."""
        return self.adjoint(y).T @ U

    def factor_gradients(self, y, F, G):
        """``(A*(y) G, A*(y)ᵀ F)``: both products a factored gradient needs, sharing work."""
        Z = self.adjoint(y)
        return Z @ G, Z.T @ F

    # -- helpers ---------------------------------------------------------------------------
    def _on_backend(self, key, values, reference):
        """``values`` (NumPy, owned by the operator) moved to ``reference``'s library, cached."""
        xp = namespace(reference)
        cache_key = (key, xp.__name__, str(getattr(reference, "device", "")), str(reference.dtype))
        if cache_key not in self._backend_cache:
            self._backend_cache[cache_key] = like(values, reference)
        return self._backend_cache[cache_key]

    def _check_matrix(self, X):
        if tuple(X.shape) != tuple(self.shape):
            raise ValueError(f"X must have shape {tuple(self.shape)}; got {tuple(X.shape)}")

    def _check_measurements(self, y):
        if len(y.shape) != 1 or y.shape[0] != self.m:
            raise ValueError(f"y must have shape ({self.m},); got {tuple(y.shape)}")

    def __repr__(self) -> str:
        n1, n2 = self.shape
        sym = ", symmetric" if self.symmetric else ""
        return f"{type(self).__name__}(n1={n1}, n2={n2}, m={self.m}{sym})"
