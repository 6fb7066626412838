"""The one result protocol (in the spirit of SciPy's ``OptimizeResult``): every public solve
returns ``status``, ``converged``, ``message``, ``n_iter``, ``history`` and ``time``, plus
what its job adds. :class:`RecoveryResult` is the recovery solvers' result; the other jobs'
results derive from :class:`Outcome`. Also the per-iteration record a callback sees and the
error measure they report."""

from __future__ import annotations

import enum
import functools
import math
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from lrkit._backend import namespace


class Status(enum.Enum):
    """Why a solver stopped (``RecoveryResult.status``); ``message`` says it for people.

    ``STAGNATED``: the objective stopped decreasing at a plateau (a noise floor), a
    converged state. ``OSCILLATING``: it stopped decreasing well above the best value it
    had reached, which is not convergence. ``ILL_POSED``: the data do not determine the
    answer (too few measurements for the rank), whatever the solver did. ``STALLED``: the
    objective stopped decreasing without having left its start, or after the steps had
    vanished: the iterate stopped, not at an answer. ``OUTLIERS``: a least-squares method
    fitted data with gross outliers, so its fit is not the answer.
    """

    CONVERGED = "converged"
    STAGNATED = "stagnated"
    OSCILLATING = "oscillating"
    ILL_POSED = "ill_posed"
    STALLED = "stalled"
    OUTLIERS = "outliers"
    MAX_ITER = "max_iter"
    DIVERGED = "diverged"
    CALLBACK = "callback"

    def __str__(self) -> str:
        return self.value


def relative_error(estimate, truth) -> float:
    """``||estimate - truth||_F / ||truth||_F``, computed without overflow or underflow at
    extreme magnitudes; 0 when both are zero, inf for a zero truth and a non-zero estimate."""
    xp = namespace(estimate)
    scale = float(xp.max(xp.abs(truth))) if math.prod(truth.shape) else 0.0
    if scale == 0.0:
        return 0.0 if float(xp.max(xp.abs(estimate))) == 0.0 else math.inf
    difference = xp.linalg.vector_norm(estimate / scale - truth / scale)
    return float(difference / xp.linalg.vector_norm(truth / scale))


#: The fields every result carries (the contract battery checks them).
PROTOCOL = ("status", "converged", "message", "n_iter", "history", "time")


@dataclass(kw_only=True)
class Outcome:
    """The core of every result that is not a :class:`RecoveryResult`.

    Attributes
    ----------
    status : Status
        Why the computation stopped (``CONVERGED`` for a closed form).
    message : str
        The same for people.
    n_iter : int
        Iterations (1 for a closed form).
    history : dict
        Per-iteration records, where the method iterates.
    time : float
        Seconds the call took.
    converged : bool
        ``status is Status.CONVERGED``: the answer is the method's answer, not a stop short
        of it.
    """

    status: Status = Status.CONVERGED
    message: str = "closed form"
    n_iter: int = 1
    history: dict = field(default_factory=dict)
    time: float = 0.0

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED


def timed(solve):
    """Decorator: set ``time`` on the :class:`Outcome` that ``solve`` returns (the seconds
    the whole call took, validation included)."""

    @functools.wraps(solve)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = solve(*args, **kwargs)
        result.time = time.perf_counter() - start
        return result

    return wrapper


@dataclass
class IterationInfo:
    """What a callback sees after every iteration (raise ``StopIteration`` to stop).

    Attributes
    ----------
    iteration : int
    loss : float
        The objective the method minimises (see ``history`` in :class:`RecoveryResult`).
    step_size : float
        The step taken (NaN for methods without one).
    rel_error : float
        Relative error to the truth (NaN without one).
    factors : tuple
        ``(F, G)`` of the current estimate ``F Gᵀ``.
    extras : dict
        Method-specific state, e.g. ``{"sparse": S}`` for robust PCA, ``{"lam": λ}`` for
        Soft-Impute.
    """

    iteration: int
    loss: float
    step_size: float
    rel_error: float
    factors: tuple
    extras: dict = field(default_factory=dict)


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
    status : Status
        Why the solver stopped, as an enum (for code); ``message`` says it for people.
    message : str
        Why the solver stopped.
    method : str
        The ``method=`` name that produced this result.
    wall_time : float
        Seconds spent in the whole call: validation, initialisation and iterations.
    history : dict of str -> numpy.ndarray
        Per-iteration records, the same keys for every solver: ``loss`` (the objective the
        method minimises), ``step_size`` (NaN for methods without steps), ``change`` (the
        quantity the stopping rule compares with ``tol``), ``time`` (seconds since the call
        began) and, when the truth is given, ``rel_error`` = ||X_t - M*||_F / ||M*||_F.
        Some methods add their own parameter path (``lam`` for Soft-Impute, ``mu`` for PCP).
    """

    factors: tuple
    n_iter: int
    converged: bool
    message: str
    method: str
    wall_time: float
    history: dict = field(default_factory=dict)
    status: Status = Status.CONVERGED

    @cached_property
    def estimate(self):
        """``F @ G.T``, computed once on first access."""
        F, G = self.factors
        return F @ G.T

    @property
    def time(self) -> float:
        """Alias of ``wall_time`` (the protocol's name)."""
        return self.wall_time

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
            f"status={self.status.value!r}, n_iter={self.n_iter}{error}, "
            f"message={self.message!r})"
        )
