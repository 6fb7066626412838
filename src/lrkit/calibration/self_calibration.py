"""Self-calibration by linear least squares and its spectral variant (Ling & Strohmer, paper 9).

With ``s = 1/d`` (entrywise; the gains must be non-zero), ``y_l = diag(d) A_l x_l`` becomes
the *linear* homogeneous system ``diag(y_l) s − A_l x_l = 0``. Stacked over snapshots it
reads ``A_w z = 0`` with ``z = (s, x)`` (one shared ``x``) or ``z = (s, x_1, …, x_p)`` (a
signal per snapshot, which covers blind deconvolution with diverse inputs in the Fourier
domain)::

    shared:   A_w = [diag(y_l)  −A_l]_l            per snapshot:  A_w = [diag(y_l)  −e_lᵀ ⊗ A_l]_l

- ``"least_squares"`` fixes the scale with one linear constraint ``⟨w, z⟩ = c`` appended as a
  row, ``w = (1_m, 0)`` (the inverse gains sum to ``m``), and solves
  ``min ||[A_w; wᵀ] z − (0, c)||₂`` in one dense least-squares solve.
- ``"spectral"`` takes ``z`` as the right singular vector of ``A_w`` with the smallest
  singular value.

Both are exact on noiseless data above the paper's sample complexity (``m p`` of order
``m + n`` up to log factors for a shared signal) and stable under noise. The gains are then
``d = 1/s``, rescaled to mean 1.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from lrkit.calibration.result import CalibrationResult, normalised
from lrkit.exceptions import ConvergenceWarning
from lrkit.operators.base import check_fits
from lrkit.result import Status, relative_error


def lifted_system(data):
    """The matrix ``A_w`` of the homogeneous system in ``z = (1/d, x)``."""
    A, y = data.sensing, data.y
    p, m, n = A.shape
    columns = m + (n if data.shared_signal else p * n)
    check_fits(f"the {p * m}x{columns} lifted system", 16 * p * m * columns, None,
               "Use fewer snapshots, or raise the budget if the memory is there.")
    system = np.zeros((p * m, columns), dtype=np.result_type(A, y))
    for snapshot in range(p):
        rows = slice(snapshot * m, (snapshot + 1) * m)
        system[rows, :m] = np.diag(y[snapshot])
        start = m if data.shared_signal else m + snapshot * n
        system[rows, start:start + n] = -A[snapshot]
    return system


def self_calibration(data, method, *, truth=None):
    """Solve the lifted linear system by least squares or by its smallest singular vector."""
    start = time.perf_counter()
    p, m, n = data.shape
    system = lifted_system(data)
    unknowns = system.shape[1] - 1  # the scale is free
    if method == "least_squares":
        constraint = np.zeros(system.shape[1], dtype=system.dtype)
        constraint[:m] = np.linalg.norm(system) / np.sqrt(system.shape[0] * m)
        rhs = np.zeros(system.shape[0] + 1, dtype=system.dtype)
        rhs[-1] = constraint[0] * m
        z = np.linalg.lstsq(np.vstack([system, constraint]), rhs, rcond=None)[0]
        singular = np.linalg.svd(system, compute_uv=False)
    else:
        _, singular, Vh = np.linalg.svd(system, full_matrices=False)
        z = Vh[-1].conj()
    inverse_gains, signal = z[:m], z[m:]
    status, message = _status(singular, inverse_gains, system.shape[0], unknowns)
    if status is not Status.CONVERGED:
        warnings.warn(f"{method}: {message}", ConvergenceWarning, stacklevel=3)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = 1.0 / inverse_gains
    if np.all(np.isfinite(gains)) and np.mean(gains) != 0:
        gains, signal = normalised(gains, signal)
    else:  # an infinite gain: nothing finite to report
        gains, signal = np.full(m, np.nan), np.full(signal.shape, np.nan)
    signal = signal if data.shared_signal else signal.reshape(p, n)
    gains_col, signal_col = gains[:, None], np.reshape(signal, (-1, 1))
    history = {"loss": np.array([float(singular[-1]) ** 2]), "step_size": np.array([np.nan]),
               "change": np.array([np.nan]), "time": np.array([time.perf_counter() - start])}
    if truth is not None:
        history["rel_error"] = np.array([relative_error(gains_col @ signal_col.T, truth)])
    return CalibrationResult(factors=(gains_col, signal_col), n_iter=1,
                             converged=status is Status.CONVERGED, message=message,
                             method=method, wall_time=time.perf_counter() - start,
                             history=history, status=status, gains=gains, signal=signal)


def _status(singular, inverse_gains, rows, unknowns):
    """CONVERGED when the system determines ``z`` up to scale and no gain is infinite."""
    if rows < unknowns:
        return Status.ILL_POSED, (f"under-determined: {rows} equations for {unknowns} "
                                  "unknowns (up to scale); add snapshots")
    if singular.size > 1 and singular[-2] <= 1e-10 * singular[0]:
        return Status.ILL_POSED, ("the lifted system has more than one null direction: the "
                                  "data do not determine the gains and the signal")
    if np.min(np.abs(inverse_gains)) <= 1e-12 * np.max(np.abs(inverse_gains)):
        return Status.ILL_POSED, ("an estimated inverse gain is zero (an infinite gain): "
                                  "the data do not determine the gains")
    return Status.CONVERGED, "solved the lifted linear system"
