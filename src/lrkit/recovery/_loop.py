"""The loop of the factored methods: update, measure the objective, stop, report."""

from __future__ import annotations

from lrkit.recovery.harness import ObjectiveRules


def iterate(run, problem, factors, update, loss, *, tol):
    """:func:`descend` then the run's result."""
    return run.result(descend(run, problem, factors, update, loss, tol=tol))


def descend(run, problem, factors, update, loss, *, tol):
    """Run ``update`` under ``run`` until a stopping rule fires; return the last factors.

    ``update(t, F, G, residual) -> (F, G, step_size)`` performs one iteration from the
    residual ``A(F Gᵀ) - y``; ``loss(residual) -> float`` is the objective. The stopping
    rules are :class:`~lrkit.recovery.harness.ObjectiveRules`; on divergence the last
    finite iterate is returned with ``converged=False``.
    """
    operator, y = problem
    F, G = factors
    symmetric = F is G
    residual = operator.forward_factored(F, G) - y
    rules = ObjectiveRules(loss(residual), loss(-y), tol)
    for t in run.iterations():
        F_new, G_new, step = update(t - 1, F, G, residual)
        new_residual = operator.forward_factored(F_new, G_new) - y
        new = loss(new_residual)
        stop = rules.diverged(t, new)
        if stop is not None:
            run.stop(*stop)
            break
        F, G, residual = F_new, (F_new if symmetric else G_new), new_residual
        change = rules.change(new)
        stop = rules.check(t, new, change, step)
        run.record(new, (F, G), step_size=step, change=change)
        if stop is not None:
            run.stop(*stop)
    return F, G
