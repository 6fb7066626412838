"""Blind gain calibration by projected gradient descent (Cambareri & Jacques, paper 5).

Snapshots ``y_l = diag(d) A_l x`` (``l = 1..p``) with unknown positive gains ``d`` of mean 1
and an unknown signal ``x``. The objective is

    f(x, d) = (1 / 2mp) Σ_l ||diag(d) A_l x − y_l||²,

started at ``x_0 = (1/mp) Σ_l A_lᵀ y_l`` (unbiased for ``x`` since the gains have mean 1)
and ``d_0 = 1``, and descended by

    x ← x − μ_x ∇_x f,        d ← P_G(d − μ_d P_{1⊥} ∇_d f),

with ``μ_d = μ_x m / ||x_0||²``; ``P_{1⊥}`` keeps the mean gain at 1 and ``P_G`` projects on
``||d − 1||_∞ <= ρ`` (``spread``) when asked. Subspace priors ``x = Z z`` and
``d = 1 + B b`` restrict both gradients to their subspaces.
"""

from __future__ import annotations

import numpy as np

from lrkit._validation import check_real
from lrkit.calibration.result import CalibrationResult, normalised
from lrkit.recovery.harness import ObjectiveRules, Run
from lrkit.result import Status

#: Halve the step at most this many times in one iteration when the objective rises (a
#: safeguard beyond the paper, whose fixed step is proved for large enough ``m p``).
MAX_HALVINGS = 30


def blind_gain(data, *, signal_basis, gain_basis, step, spread, tol, max_iter, truth,
               callback):
    """Projected gradient descent on ``f(x, d)``; see the module docstring."""
    run = Run("blind_gain", max_iter=max_iter, truth=truth, callback=callback)
    if not data.shared_signal:
        raise ValueError("method='blind_gain' calibrates one signal seen in every snapshot; "
                         "pass shared_signal=True, or use method='least_squares'")
    A, y = data.sensing, data.y
    p, m, n = A.shape
    if p > 1 and A.strides[0] == 0:
        raise ValueError("blind_gain needs a different sensing matrix in every snapshot; "
                         "pass sensing of shape (p, m, n)")
    project_x, dim_x = _subspace("signal_basis", signal_basis, n)
    project_d, dim_d = _gain_subspace(gain_basis, m)
    if spread is not None:
        spread = check_real("spread", spread, low=0.0, high=1.0, low_open=True, high_open=True)
    if step is None:
        step = 1.0 / _top_eigenvalue(A)
    else:
        step = check_real("step", step, low=0.0, low_open=True)

    x = project_x(np.einsum("lmn,lm->n", A, y) / (m * p))
    d = np.ones(m)
    scale = float(x @ x)
    if scale == 0.0:
        raise ValueError("the initial signal x_0 = Σ A_lᵀ y_l / (mp) is zero: the "
                         "measurements carry no component along the sensing vectors")
    step_d = step * m / scale

    def objective(x, d):
        residual = d * np.einsum("lmn,n->lm", A, x) - y
        return 0.5 * float(np.sum(residual**2)) / (m * p), residual

    loss, residual = objective(x, d)
    rules = ObjectiveRules(loss, 0.5 * float(np.sum(y**2)) / (m * p), tol)
    for t in run.iterations():
        Ax = np.einsum("lmn,n->lm", A, x)
        grad_x = project_x(np.einsum("lmn,lm->n", A, d * residual) / (m * p))
        grad_d = project_d(np.sum(Ax * residual, axis=0) / (m * p))
        for _ in range(MAX_HALVINGS):
            x_new = x - step * grad_x
            d_new = d - step_d * grad_d
            if spread is not None:
                d_new = _project_box_mean_one(d_new, spread)
            new, new_residual = objective(x_new, d_new)
            if new <= loss or not np.isfinite(new):
                break
            step, step_d = step / 2, step_d / 2
        stop = rules.diverged(t, new)
        if stop is not None:
            run.stop(*stop)
            break
        x, d, loss, residual = x_new, d_new, new, new_residual
        change = rules.change(new)
        stop = rules.check(t, new, change)
        run.record(new, (d[:, None], x[:, None]), step_size=step, change=change)
        if stop is not None:
            run.stop(*stop)
    if m * p < dim_x + dim_d:
        run.overrule(Status.ILL_POSED, f"under-determined: {m * p} measurements for "
                     f"{dim_x + dim_d} unknowns (signal {dim_x} + gains {dim_d}); add snapshots "
                     "or subspace priors")
    gains, signal = normalised(d, x)
    return run.result((gains[:, None], signal[:, None]), cls=CalibrationResult, gains=gains,
                      signal=signal)


def _top_eigenvalue(A):
    """``λ_max(Σ_l A_lᵀ A_l / (m p))``: the curvature of ``f`` along ``x`` at ``d = 1``."""
    p, m, n = A.shape
    stacked = A.reshape(p * m, n)
    return float(np.linalg.norm(stacked, 2) ** 2) / (m * p)


def _subspace(name, basis, n):
    """The orthogonal projector on ``span(basis)`` (identity when None), as a function, and
    the dimension of the span."""
    if basis is None:
        return (lambda v: v), n
    Q = _orthonormal(name, basis, n)
    return (lambda v: Q @ (Q.T @ v)), Q.shape[1]


def _gain_subspace(basis, m):
    """Projector on the part of ``span(B)`` orthogonal to the all-ones vector (on ``1⊥``
    when ``B`` is None), and its dimension."""
    if basis is None:
        return (lambda v: v - v.mean()), m - 1
    B = np.asarray(basis, dtype=float)
    B = _orthonormal("gain_basis", B - B.mean(axis=0), m)
    return (lambda v: B @ (B.T @ v)), B.shape[1]


def _orthonormal(name, basis, rows):
    basis = np.asarray(basis, dtype=float)
    if basis.ndim != 2 or basis.shape[0] != rows:
        raise ValueError(f"{name} must have shape ({rows}, k); got {basis.shape}")
    if not np.all(np.isfinite(basis)):
        raise ValueError(f"{name} contains NaN or inf")
    U, s, _ = np.linalg.svd(basis, full_matrices=False)
    keep = s > s[0] * 1e-10 if s.size and s[0] > 0 else np.zeros(0, bool)
    if not keep.any():
        raise ValueError(f"{name} spans nothing (after removing the all-ones direction)")
    return U[:, keep]


def _project_box_mean_one(d, spread):
    """Euclidean projection on ``{mean(d) = 1, |d_i − 1| <= ρ}``: ``clip(d − τ)`` with the
    shift ``τ`` found by bisection (the mean of the clipped vector decreases in ``τ``)."""
    low, high = 1.0 - spread, 1.0 + spread
    lo, hi = float(np.min(d) - high), float(np.max(d) - low)
    for _ in range(100):
        tau = 0.5 * (lo + hi)
        if np.mean(np.clip(d - tau, low, high)) > 1.0:
            lo = tau
        else:
            hi = tau
    return np.clip(d - 0.5 * (lo + hi), low, high)
