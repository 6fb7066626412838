"""One result type for every recovery solver (in the spirit of SciPy's ``OptimizeResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass
class RecoveryResult:
    """Outcome of a recovery solver.

    Attributes
    ----------
    factors : tuple of arrays
        ``(F, G)`` with ``estimate = F @ G.T``; for a symmetric parameterisation ``F is G``.
    estimate : array, shape (n1, n2)
        The recovered matrix (same array library as the measurements), formed from the
        factors on first access only: a large completion problem never builds it unless asked.
    n_iter : int
        Iterations performed.
    converged : bool
        True when a stopping tolerance was met (not when ``max_iter`` ran out, not on divergence).
    message : str
        Why the solver stopped.
    method : str
        The ``method=`` name that produced this result.
    wall_time : float
        Seconds spent in the solver.
    history : dict of str -> numpy.ndarray
        Per-iteration records: ``loss``, ``step_size`` (solvers with steps), ``time``
        (seconds since the start) and, when the truth is given,
        ``rel_error`` = ||X_t - M*||_F / ||M*||_F.
    """

    factors: tuple
    n_iter: int
    converged: bool
    message: str
    method: str
    wall_time: float
    history: dict = field(default_factory=dict)

    @cached_property
    def estimate(self):
        """``F @ G.T``, computed once on first access."""
        F, G = self.factors
        return F @ G.T

    @property
    def success(self) -> bool:
        """Alias of ``converged`` (SciPy's name)."""
        return self.converged

    @property
    def rel_error(self) -> float:
        """Last recorded relative error to the truth, or NaN when no truth was given."""
        errors = self.history.get("rel_error")
        return float(errors[-1]) if errors is not None and len(errors) else float("nan")

    def __repr__(self) -> str:
        error = "" if np.isnan(self.rel_error) else f", rel_error={self.rel_error:.3e}"
        return (
            f"{type(self).__name__}(method={self.method!r}, converged={self.converged}, "
            f"n_iter={self.n_iter}{error}, message={self.message!r})"
        )
