"""The run harness every iterative solver shares: clock, history, callback, status, result.

A solver creates a :class:`Run` when its public call starts (so ``wall_time`` covers
validation and initialisation too), iterates with :meth:`Run.iterations`, reports each
iterate with :meth:`Run.record`, says why it stops with :meth:`Run.stop`, and hands its
final factors to :meth:`Run.result`. The harness fills ``history`` with one schema
(:class:`~lrkit.RecoveryResult`), calls the callback with an
:class:`~lrkit.IterationInfo` (``StopIteration`` stops the run), and warns with a
:class:`~lrkit.ConvergenceWarning` when ``max_iter`` ran out.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from lrkit._backend import namespace
from lrkit.exceptions import ConvergenceWarning
from lrkit.result import IterationInfo, RecoveryResult, Status, relative_error

#: Statuses whose iterate is reported as ``converged=True``.
GOOD_STATUSES = (Status.CONVERGED, Status.STAGNATED)
#: Statuses that also warn (a ``ConvergenceWarning``).
WARNED_STATUSES = (Status.MAX_ITER, Status.OSCILLATING, Status.ILL_POSED, Status.STALLED,
                   Status.OUTLIERS)


class Run:
    """State of one solver run.

    Parameters
    ----------
    method : str
        The ``method=`` name, stored on the result and used in warnings.
    max_iter : int
        Bound of :meth:`iterations` (over the whole run, however many loops it has).
    truth : array, optional
        When given, every :meth:`record` adds ``rel_error``.
    callback : callable(IterationInfo), optional
    """

    def __init__(self, method, *, max_iter, truth=None, callback=None):
        self.start = time.perf_counter()
        self.method, self.max_iter, self.callback = method, max_iter, callback
        self.truth = truth
        self.t = 0
        self.status, self.message = None, None
        self.records = {"loss": [], "step_size": [], "change": [], "time": [], "rel_error": []}
        #: Set when the measurements see only the symmetric part of ``F Gᵀ`` (symmetric
        #: ``A_i`` with asymmetric factors): the estimate is then ``sym(F Gᵀ)``.
        self.symmetrize = False

    def reset(self):
        """Forget the iterations so far (a restart); the clock keeps running."""
        self.t = 0
        self.status, self.message = None, None
        self.records = {key: [] for key in self.records}

    def resume(self):
        """Carry on after a stop (same clock, count and history)."""
        self.status, self.message = None, None

    def iterations(self):
        """Yield iteration numbers ``t = self.t + 1, …, max_iter``; resumable across loops."""
        while self.t < self.max_iter and self.status is None:
            self.t += 1
            yield self.t

    def record(self, loss, factors, *, step_size=math.nan, change=math.nan, estimate=None,
               state=None, **path):
        """Append iteration ``self.t`` to the history and call the callback.

        ``estimate`` (default ``F @ G.T`` of ``factors``) is formed only when a truth is
        given. ``path`` holds method-specific numbers recorded in the history too (e.g.
        ``lam``); ``state`` method-specific arrays the callback sees but the history does
        not keep (e.g. ``sparse``). Returns True when the callback raised ``StopIteration``
        (status CALLBACK).
        """
        error = math.nan
        if self.truth is not None:
            if estimate is None:
                estimate = factors[0] @ factors[1].T
                if self.symmetrize:
                    estimate = 0.5 * (estimate + estimate.T)
            error = relative_error(estimate, self.truth)
        values = {"loss": loss, "step_size": step_size, "change": change,
                  "time": time.perf_counter() - self.start, "rel_error": error, **path}
        for key, value in values.items():
            self.records.setdefault(key, []).append(float(value))
        if self.callback is None:
            return False
        try:
            self.callback(IterationInfo(self.t, float(loss), float(step_size), error,
                                        tuple(factors), {**path, **(state or {})}))
        except StopIteration:
            self.stop(Status.CALLBACK, "stopped by callback")
            return True
        return False

    def stop(self, status, message):
        """Say why the run ends (the first call wins)."""
        if self.status is None:
            self.status, self.message = status, message

    def overrule(self, status, message):
        """Replace a good status after the fact (the data turned out not to determine the
        answer); the solver's own reason stays in the message."""
        if self.status in GOOD_STATUSES:
            self.status, self.message = status, f"{message} ({self.message})"

    def result(self, factors, *, cls=RecoveryResult, **fields):
        """The final :class:`~lrkit.RecoveryResult` (or subclass ``cls`` with ``fields``).

        A run that never called :meth:`stop` ran out of iterations: status MAX_ITER and a
        ``ConvergenceWarning`` (also given for OSCILLATING).
        """
        if self.status is None:
            self.stop(Status.MAX_ITER, f"reached max_iter={self.max_iter} before converging")
        if self.status in WARNED_STATUSES:
            warnings.warn(f"{self.method}: {self.message}", ConvergenceWarning, stacklevel=3)
        if self.symmetrize:  # sym(F Gᵀ) = [F, G] [G, F]ᵀ / 2, carried as factors of 2k columns
            F, G = factors
            xp = namespace(F)
            factors = (xp.concat([F, G], axis=1) / 2**0.5, xp.concat([G, F], axis=1) / 2**0.5)
            self.message += ("; symmetric A_i see only sym(F Gᵀ), so the estimate is that "
                             "part (factors of 2k columns); for the fast asymmetric rate of "
                             "paper 1 measure with asymmetric A_i")
        history = {key: np.asarray(values, dtype=float) for key, values in self.records.items()}
        if self.truth is None:
            del history["rel_error"]
        return cls(factors=tuple(factors), n_iter=len(history["loss"]),
                   converged=self.status in GOOD_STATUSES, message=self.message,
                   method=self.method, wall_time=time.perf_counter() - self.start,
                   history=history, status=self.status, **fields)


class ObjectiveRules:
    """Stopping rules on a decreasing objective (the factored-gradient family).

    In order: the objective is non-finite or grows ``DIVERGENCE_FACTOR``-fold (DIVERGED);
    it reaches machine precision relative to ``floor_reference`` (CONVERGED); its relative
    change stays below ``tol`` for ``PATIENCE`` iterations once it has left its starting
    plateau (CONVERGED); it has not reached a new best by a relative margin ``tol`` for
    ``STAGNATION_WINDOW`` iterations, a noise floor (STAGNATED).
    """

    #: A loss above this multiple of its starting value counts as divergence.
    DIVERGENCE_FACTOR = 1e4
    #: The tolerance test waits for this many consecutive small relative changes.
    PATIENCE = 5
    #: Stagnation: no new best objective for this many iterations.
    STAGNATION_WINDOW = 200
    #: A stagnated objective this many times above its best is oscillating, not converged.
    OSCILLATION_FACTOR = 2.0
    #: Stagnation counts as a noise floor only once the best objective is this fraction
    #: below the start, and while the steps are above this fraction of the first one times
    #: the objective's own decrease (steps that shrink with the objective, as Polyak-type
    #: steps do, have not vanished; a geometric schedule's can).
    PROGRESS, VANISHED_STEP = 1e-3, 1e-8

    def __init__(self, initial, floor_reference, tol):
        self.initial, self.tol = initial, tol
        self.floor = floor_reference * (100 * np.finfo(np.float64).eps) ** 2
        self.current = self.best = initial
        self.best_t, self.small_changes = 0, 0
        self.first_step = math.nan

    def diverged(self, t, new):
        """``(Status.DIVERGED, message)`` when ``new`` is non-finite or exploded, else None."""
        if math.isfinite(new) and new <= self.DIVERGENCE_FACTOR * self.initial:
            return None
        return Status.DIVERGED, (f"diverged at iteration {t}: objective {new:.3e} vs "
                                 f"{self.initial:.3e} at start")

    def change(self, new):
        """Relative change from the last accepted objective to ``new`` (and accept it)."""
        change = abs(self.current - new) / max(self.current, np.finfo(np.float64).tiny)
        self.current = new
        return change

    def check(self, t, new, change, step=math.nan):
        """``(status, message)`` when a stopping rule fires at iteration ``t``, else None."""
        if t == 1:
            self.first_step = step
        if new <= self.floor:
            return Status.CONVERGED, "objective reached machine precision"
        moving = change < self.tol and new < 0.9 * self.initial
        self.small_changes = self.small_changes + 1 if moving else 0
        if self.small_changes >= self.PATIENCE:
            return Status.CONVERGED, f"relative change of the objective below tol={self.tol:g}"
        if new < self.best * (1 - self.tol):
            self.best, self.best_t = new, t
        elif t - self.best_t >= self.STAGNATION_WINDOW:
            if new > self.OSCILLATION_FACTOR * self.best:
                return (Status.OSCILLATING,
                        f"objective oscillating: no decrease in {self.STAGNATION_WINDOW} "
                        f"iterations and now {new / self.best:.3g}x its best value; lower the "
                        "step size or the rank")
            if self.best > (1 - self.PROGRESS) * self.initial:
                return (Status.STALLED,
                        f"objective stalled at its starting value ({self.initial:.3g}) for "
                        f"{t} iterations: the steps are too small to move the iterate")
            if step < self.VANISHED_STEP * self.first_step * self.best / self.initial:
                return (Status.STALLED,
                        f"the steps vanished ({step:.2g}, from {self.first_step:.2g}) before "
                        "the objective converged: use a slower step decay")
            return (Status.STAGNATED,
                    f"objective stagnated: no decrease in {self.STAGNATION_WINDOW} iterations")
        return None
