"""Recover a signal seen through sensors with unknown gains: ``y_l = diag(d) A_l x_l + ε``.

:func:`calibrate` validates the data once and routes ``method=`` to the solver: projected
gradient descent for blind gain calibration (:mod:`lrkit.calibration.blind_gain`, paper 5) or
the linear least-squares / spectral methods of self-calibration
(:mod:`lrkit.calibration.self_calibration`, paper 9).

The scale ambiguity ``(d, x) ~ (c d, x / c)`` is resolved by reporting gains of mean 1 (the
signal carries the scale). Errors are measured on the lifted rank-one matrix ``d xᵀ`` (one
row ``d_i x_lᵀ`` per sensor and snapshot), which the ambiguity leaves unchanged: the
result's ``factors`` are ``(d, x)`` as columns and its ``estimate`` is ``d xᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._backend import foreign_array, like, to_numpy
from lrkit._validation import check_choice, check_finite_array, is_pandas, pandas_to_numpy
from lrkit.calibration.blind_gain import blind_gain
from lrkit.calibration.result import CalibrationResult  # noqa: F401 (public name)
from lrkit.calibration.self_calibration import self_calibration
from lrkit.registry import Method, Registry

CALIBRATION_METHODS = Registry("calibrate", "unknown sensor gains and signal from "
                               "y_l = diag(d) A_l x_l + noise")
CALIBRATION_METHODS.register(Method(
    "blind_gain", inputs=frozenset({"torch"}),
    summary="projected gradient descent on (d, x), real positive gains (paper 5)"))
for _name, _how in (("least_squares", "linear least squares"), ("spectral", "the spectral method")):
    CALIBRATION_METHODS.register(Method(
        _name, inputs=frozenset({"torch", "complex"}),
        summary=f"{_how} on the lifted system in (1/d, x) (paper 9)"))


@dataclass
class CalibrationData:
    """Validated inputs: sensing ``(p, m, n)``, measurements ``(p, m)``, flags."""

    sensing: np.ndarray
    y: np.ndarray
    shared_signal: bool

    @property
    def shape(self):
        return self.sensing.shape

    def lifted(self, gains, signal):
        """The rank-one matrix ``d xᵀ`` (``m × n``), or ``[d x_1ᵀ, …, d x_pᵀ]`` stacked
        side by side (``m × pn``) for per-snapshot signals."""
        return np.outer(gains, np.reshape(signal, -1))


def calibrate(sensing, y, method="blind_gain", *, shared_signal=True, signal_basis=None,
              gain_basis=None, step=None, spread=None, tol=1e-10, max_iter=5000, truth=None,
              callback=None):
    """Estimate unknown sensor gains and the signal from ``y_l = diag(d) A_l x_l + ε``.

    Parameters
    ----------
    sensing : array_like, shape (p, m, n) or (m, n)
        The known sensing matrices ``A_l`` of ``p`` snapshots (one matrix: the same for all).
    y : array_like, shape (p, m) or (m,)
        Measurements of ``m`` sensors in each snapshot.
    method : {"blind_gain", "least_squares", "spectral"}
        ``"blind_gain"``: projected gradient descent of Cambareri & Jacques (paper 5), real
        data, one shared signal, positive gains. ``"least_squares"`` / ``"spectral"``: the
        linear methods of Ling & Strohmer (paper 9) on the lifted system in
        ``(1/d, x)``; real or complex data (blind deconvolution in the Fourier domain), shared
        or per-snapshot signals; gains must be non-zero.
    shared_signal : bool, default True
        One signal ``x`` in every snapshot, or one signal per snapshot (least squares and
        spectral only).
    signal_basis : array_like, shape (n, h), optional
        Subspace prior ``x = Z z`` (blind_gain).
    gain_basis : array_like, shape (m, k), optional
        Subspace prior ``d = 1 + B b`` (blind_gain; the part of ``B`` along the all-ones
        vector is removed).
    step : float, optional
        Step ``μ`` of blind_gain (``μ_x = μ``, ``μ_d = μ m / ||x_0||²``); default
        ``1 / λ_max(Σ_l A_lᵀ A_l / (m p))``.
    spread : float in (0, 1), optional
        blind_gain: also project the gains on ``||d − 1||_∞ <= spread`` (the set ``G_ρ`` of
        paper 5), keeping them positive.
    tol, max_iter : float, int
        Stopping rules of blind_gain (see :class:`~lrkit.recovery.harness.ObjectiveRules`).
    truth : tuple (gains, signal), optional
        Records ``history["rel_error"]`` of the lifted ``d xᵀ`` (free of the scale
        ambiguity).
    callback : callable(IterationInfo), optional

    Returns
    -------
    CalibrationResult
        ``gains`` (mean 1), ``signal``, ``factors = (d, x)`` as columns, ``n_iter``,
        ``converged``, ``message`` and ``history``.

    Examples
    --------
    >>> import lrkit
    >>> problem = lrkit.problems.calibration(n=16, m=32, p=8, seed=0)
    >>> result = lrkit.calibrate(problem.sensing, problem.y, truth=problem.truth)
    >>> bool(result.converged and result.rel_error < 1e-6)
    True
    """
    check_choice("method", method, CALIBRATION_METHODS)
    data = calibration_data(sensing, y, shared_signal, real=(method == "blind_gain"))
    truth = None if truth is None else check_truth(truth, data)
    if method == "blind_gain":
        result = blind_gain(data, signal_basis=signal_basis, gain_basis=gain_basis,
                            step=step, spread=spread, tol=tol, max_iter=max_iter,
                            truth=truth, callback=callback)
    else:
        if signal_basis is not None or gain_basis is not None or spread is not None:
            raise ValueError(f"signal_basis, gain_basis and spread apply to "
                             f"method='blind_gain' only; drop them for method={method!r}")
        result = self_calibration(data, method, truth=truth)
    reference = foreign_array(sensing)
    if reference is not None:  # a torch tensor in, tensors out
        result.gains, result.signal = like(result.gains, reference), like(result.signal,
                                                                            reference)
    return result


def calibration_data(sensing, y, shared_signal, *, real):
    """Check and reshape ``sensing`` and ``y`` into :class:`CalibrationData`."""
    sensing, y = _numeric("sensing", sensing, real), _numeric("y", y, real)
    if sensing.ndim == 2:
        sensing = sensing[None]
    if sensing.ndim != 3:
        raise ValueError(f"sensing must have shape (p, m, n) or (m, n); got {sensing.shape}")
    if y.ndim == 1:
        y = y[None]
    if y.ndim != 2:
        raise ValueError(f"y must have shape (p, m) or (m,); got {y.shape}")
    if 0 in sensing.shape or 0 in y.shape:
        raise ValueError(f"sensing and y must not be empty; got shapes {sensing.shape} "
                         f"and {y.shape}")
    p, m = y.shape
    if sensing.shape[0] == 1 and p > 1:
        sensing = np.broadcast_to(sensing, (p, *sensing.shape[1:]))
    if sensing.shape[:2] != (p, m):
        raise ValueError(f"sensing has shape {sensing.shape} but y has shape {y.shape}: "
                         "sensing must be (p, m, n) for y of shape (p, m)")
    check_finite_array("sensing", sensing)
    check_finite_array("y", y)
    if not np.any(y):
        raise ValueError("y is all zeros: the gains and the signal are not identifiable "
                         "(every d with x = 0 fits)")
    return CalibrationData(sensing, y, bool(shared_signal))


def check_truth(truth, data):
    """``(gains, signal)`` as arrays of the right shapes, as the lifted truth."""
    try:
        gains, signal = truth
    except (TypeError, ValueError):
        raise ValueError("truth must be a pair (gains, signal)") from None
    gains, signal = np.asarray(to_numpy(gains)), np.asarray(to_numpy(signal))
    p, m, n = data.shape
    expected = (n,) if data.shared_signal else (p, n)
    if gains.shape != (m,) or signal.shape != expected:
        raise ValueError(f"truth must be (gains of shape ({m},), signal of shape "
                         f"{expected}); got {gains.shape} and {signal.shape}")
    return data.lifted(gains, signal)


def _numeric(name, value, real):
    if is_pandas(value):
        value = pandas_to_numpy(name, value)
    array = np.asarray(to_numpy(value) if foreign_array(value) is not None else value)
    if array.dtype.kind == "c" and real:
        raise ValueError(f"{name} is complex; method='blind_gain' is for real data (use "
                         "method='least_squares' or 'spectral' for complex data)")
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{name} must hold numbers; got dtype {array.dtype}")
    return array.astype(np.complex128 if array.dtype.kind == "c" else np.float64)
