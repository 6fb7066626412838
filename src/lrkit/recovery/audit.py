"""Checks after every solve that keep ``converged=True`` honest, whatever the solver.

A solver decides when its own iteration has converged; whether the iterate is the answer
is a property of the problem, checked here once for every method of :func:`lrkit.recover`:

- **under-determined**: fewer measurements than the rank's degrees of freedom
  (``r(n1 + n2 − r)``, or ``n r − r(r − 1)/2`` for ``X Xᵀ``): no method can single out the
  truth, so the status is ``ILL_POSED`` (a ridge > 0 asks for the regularised answer
  instead and is left alone);
- **gross outliers** (plain least-squares fits only, ``Solver.loss == "l2"``): the
  residuals of the fit have a heavy tail, more than ``OUTLIER_SHARE`` of them beyond
  ``OUTLIER_SCALES`` robust scales (``1.4826 · median |r|``, the MAD of Gaussian noise),
  which Gaussian or Student-t(3) noise essentially never gives; the least-squares fit is
  then not the answer (status ``OUTLIERS``, a warning naming ``method="subgm"``, the ℓ1
  method of paper 3);
- **stopped short** (status ``STAGNATED``, which claims a noise floor): at a noise floor
  the back-projected residual ``A*(y − A(X))`` is noise, whose top singular value sits at
  the bulk edge ``||R||_F (√n1 + √n2) / √(n1 n2)``; one more than ``SIGNAL_LEFT`` times
  that edge is signal the iterate has not fitted (an ill-conditioned direction the steps
  have not reached), so the status is ``STALLED``.
"""

from __future__ import annotations

import warnings

import numpy as np

from lrkit._backend import to_numpy
from lrkit.exceptions import ConvergenceWarning
from lrkit.result import Status

#: A residual beyond this many robust scales is a gross outlier.
OUTLIER_SCALES = 5.0
#: The fit is flagged when more than this share of the residuals are gross outliers.
OUTLIER_SHARE = 0.015
#: Residuals below this fraction of the data's norm are a close fit: outliers that large
#: would have left more (and a regularised method's bias, e.g. Soft-Impute's shrinkage, has
#: a heavy-tailed residual of its own that is not an outlier).
CLOSE_FIT = 1e-2
#: A back-projected residual whose top singular value exceeds its noise edge this many times
#: holds signal (noise: 0.9–1.1; a solver stuck on an ill-conditioned direction: 1.8–2.1).
SIGNAL_LEFT = 1.4
#: A residual below this fraction of the data is rounding, not a floor to test.
ROUNDING = 1e-10


def degrees_of_freedom(shape, rank, symmetric=False):
    """Parameters of a rank-``rank`` matrix of ``shape`` (``X Xᵀ``: a symmetric one)."""
    n1, n2 = shape
    return n1 * rank - rank * (rank - 1) // 2 if symmetric else rank * (n1 + n2 - rank)


def gross_outlier_share(residual, y):
    """Share of ``residual`` beyond :data:`OUTLIER_SCALES` robust scales (0 for a close fit)."""
    r, y = np.abs(np.asarray(to_numpy(residual), dtype=float)), np.asarray(to_numpy(y))
    if np.linalg.norm(r) <= CLOSE_FIT * np.linalg.norm(y):
        return 0.0
    scale = max(1.4826 * float(np.median(r)), np.finfo(float).tiny)
    return float(np.mean(r > OUTLIER_SCALES * scale))


def audit(result, solver, operator, y, rank, options):
    """Overrule ``result``'s good status where the problem says the iterate is not the
    answer (see the module); warns with a :class:`~lrkit.ConvergenceWarning` when it does."""
    if not result.converged:
        return result
    symmetric = options.get("parameterization") == "symmetric"
    needed = degrees_of_freedom(operator.shape, rank, symmetric)
    if operator.m < needed and not options.get("ridge"):
        return _overrule(result, Status.ILL_POSED, (
            f"under-determined: rank {rank} has {needed} degrees of freedom and only "
            f"{operator.m} measurements; lower the rank or measure more"))
    if solver.loss == "l2":
        F, G = result.factors
        share = gross_outlier_share(operator.forward_factored(F, G) - y, y)
        if share > OUTLIER_SHARE:
            return _overrule(result, Status.OUTLIERS, (
                f"{share:.0%} of the measurements are gross outliers of the fit (residuals "
                f"over {OUTLIER_SCALES:g} robust scales): the least-squares fit is not the "
                "answer; use method='subgm' (ℓ1 loss, robust to outliers)"))
    if result.status is Status.STAGNATED:
        spike = residual_spike(operator, y, result.factors)
        if spike > SIGNAL_LEFT:
            return _overrule(result, Status.STALLED, (
                f"the objective stagnated with signal left in the residual (the top singular "
                f"value of A*(y − A(X)) is {spike:.2g} times its noise edge): the iterate "
                "stopped short of the answer; for an ill-conditioned matrix use "
                "method='scaled_gd', or raise max_iter"))
    return result


def residual_spike(operator, y, factors):
    """``σ₁(R) / edge``: the top singular value of the back-projected residual
    ``R = A*(y − A(F Gᵀ))`` over the noise edge ``||R||_F (√n1 + √n2) / √(n1 n2)`` (about 1
    when the residual is noise; 0 for a residual at rounding level, whose structure is the
    arithmetic's, not the signal's)."""
    import scipy.sparse as sp

    from lrkit.approx.truncated_svd import spectral_norm

    F, G = (np.asarray(to_numpy(f), dtype=float) for f in factors)
    y = np.asarray(to_numpy(y), dtype=float)
    residual = y - np.asarray(to_numpy(operator.forward_factored(F, G)), dtype=float)
    if np.linalg.norm(residual) <= ROUNDING * np.linalg.norm(y):
        return 0.0
    R = operator.adjoint(residual)
    R = R if sp.issparse(R) else np.asarray(to_numpy(R), dtype=float)
    frobenius = float(sp.linalg.norm(R)) if sp.issparse(R) else float(np.linalg.norm(R))
    if frobenius == 0.0 or not np.isfinite(frobenius):
        return 0.0
    n1, n2 = R.shape
    edge = frobenius * (np.sqrt(n1) + np.sqrt(n2)) / np.sqrt(n1 * n2)
    return spectral_norm(R, seed=0) / edge


def _overrule(result, status, message):
    result.status, result.converged = status, False
    result.message = f"{message} ({result.message})"
    warnings.warn(f"{result.method}: {message}", ConvergenceWarning, stacklevel=3)
    return result
