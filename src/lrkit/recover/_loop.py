"""The loop every iterative recovery method shares: iterate, record, stop, report."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from lrkit._backend import like, namespace
from lrkit._validation import ConvergenceWarning
from lrkit.result import RecoveryResult

#: A loss above this multiple of its starting value counts as divergence.
DIVERGENCE_FACTOR = 1e4
#: The tolerance test waits for this many consecutive small relative changes.
PATIENCE = 5
#: Stagnation: no new best objective (by a relative margin ``tol``) for this many iterations.
STAGNATION_WINDOW = 200


@dataclass
class IterationInfo:
    """What a callback sees after every iteration (raise ``StopIteration`` to stop)."""

    iteration: int
    loss: float
    step_size: float
    rel_error: float
    factors: tuple


def relative_error(estimate, truth) -> float:
    """``||estimate - truth||_F / ||truth||_F``."""
    xp = namespace(estimate)
    return float(xp.linalg.vector_norm(estimate - truth) / xp.linalg.vector_norm(truth))


def iterate(problem, factors, update, loss, *, method, max_iter, tol, truth=None, callback=None):
    """Run ``update`` until a stopping rule fires and package a :class:`RecoveryResult`.

    ``update(t, F, G, residual) -> (F, G, step_size)`` performs one iteration from the
    residual ``A(F Gᵀ) - y``; ``loss(residual) -> float`` is the objective.

    Stopping rules, in order: the objective is non-finite or grows ``DIVERGENCE_FACTOR``-fold
    (divergence: the last finite iterate is returned with ``converged=False``); it reaches
    machine precision relative to ``loss(-y)``; its relative change stays below ``tol`` for
    ``PATIENCE`` iterations once it has left its starting plateau, or it has not reached a
    new best for ``STAGNATION_WINDOW`` iterations (a noise floor); the callback raises
    ``StopIteration``; ``max_iter`` is reached (``ConvergenceWarning``).
    """
    operator, y = problem
    F, G = factors
    symmetric = F is G
    truth = None if truth is None else like(truth, y)
    start = time.perf_counter()
    residual = operator.forward_factored(F, G) - y
    current = loss(residual)
    initial = current
    floor = loss(-y) * (100 * np.finfo(np.float64).eps) ** 2
    records = {"loss": [], "step_size": [], "rel_error": [], "time": []}
    converged, message, small_changes, t = False, None, 0, 0
    best, best_t = current, 0
    for t in range(1, max_iter + 1):
        F_new, G_new, step = update(t - 1, F, G, residual)
        new_residual = operator.forward_factored(F_new, G_new) - y
        new = loss(new_residual)
        if not math.isfinite(new) or new > DIVERGENCE_FACTOR * initial:
            message = (
                f"diverged at iteration {t}: objective {new:.3e} vs {initial:.3e} at start; "
                "reduce step_size"
            )
            t -= 1
            break
        F, G, residual = F_new, (F_new if symmetric else G_new), new_residual
        change = abs(current - new) / max(current, np.finfo(np.float64).tiny)
        current = new
        error = relative_error(F @ G.T, truth) if truth is not None else math.nan
        records["loss"].append(new)
        records["step_size"].append(step)
        records["rel_error"].append(error)
        records["time"].append(time.perf_counter() - start)
        if new <= floor:
            converged, message = True, "objective reached machine precision"
            break
        small_changes = small_changes + 1 if (change < tol and new < 0.9 * initial) else 0
        if small_changes >= PATIENCE:
            converged, message = True, f"relative change of the objective below tol={tol:g}"
            break
        if new < best * (1 - tol):
            best, best_t = new, t
        elif t - best_t >= STAGNATION_WINDOW:
            converged = True
            message = f"objective stagnated: no decrease in {STAGNATION_WINDOW} iterations"
            break
        if callback is not None:
            try:
                callback(IterationInfo(t, new, step, error, (F, G)))
            except StopIteration:
                message = "stopped by callback"
                break
    if message is None:
        message = f"reached max_iter={max_iter} before tol={tol:g}"
        warnings.warn(f"{method}: {message}", ConvergenceWarning, stacklevel=3)
    history = {key: np.asarray(values, dtype=float) for key, values in records.items()}
    if truth is None:
        del history["rel_error"]
    return RecoveryResult(
        factors=(F, G),
        n_iter=t,
        converged=converged,
        message=message,
        method=method,
        wall_time=time.perf_counter() - start,
        history=history,
    )
