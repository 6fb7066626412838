"""Seeded calibration problems: a signal seen through sensors with unknown gains.

Every snapshot ``l`` measures ``y_l = diag(d) A_l x_l (+ noise)``: ``m`` sensors with
unknown gains ``d``, known sensing matrices ``A_l`` (``m × n``), and either one signal
``x`` for all snapshots (``shared_signal=True``, the model of blind gain calibration) or
one signal per snapshot. Gains are normalised to mean 1 (the signal carries the scale), the
convention under which :func:`lrkit.calibrate` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real
from lrkit.operators.base import check_fits


@dataclass
class CalibrationProblem:
    """Sensing matrices, measurements and the true gains and signal.

    Attributes
    ----------
    sensing : numpy.ndarray, shape (p, m, n)
        ``A_l`` for each of the ``p`` snapshots.
    y : numpy.ndarray, shape (p, m)
        ``y_l = diag(d) A_l x_l + noise``.
    gains : numpy.ndarray, shape (m,)
        The true gains ``d`` (mean 1).
    signal : numpy.ndarray, shape (n,) or (p, n)
        The true signal ``x`` (shared) or signals ``x_l`` (one per snapshot).
    signal_basis, gain_basis : numpy.ndarray or None
        The subspaces the truth was drawn from (``x = Z z``, ``d = 1 + B b``), when asked for.
    """

    sensing: np.ndarray
    y: np.ndarray
    gains: np.ndarray
    signal: np.ndarray
    signal_basis: np.ndarray = None
    gain_basis: np.ndarray = None

    @property
    def truth(self):
        """``(gains, signal)``, the form :func:`lrkit.calibrate` takes as ``truth=``."""
        return self.gains, self.signal


def calibration(n, m, p, *, spread=0.5, shared_signal=True, shared_sensing=False,
                noise_std=0.0, signal_dim=None, gain_dim=None, seed=None):
    """Generate a seeded calibration problem ``y_l = diag(d) A_l x_l + noise``.

    Parameters
    ----------
    n : int
        Signal length.
    m : int
        Number of sensors (gains).
    p : int
        Number of snapshots.
    spread : float in [0, 1), default 0.5
        Gains are ``1 + e`` with ``e`` uniform, of zero mean and ``||e||_∞ <= spread``
        (the set of Cambareri & Jacques, paper 5): all gains positive.
    shared_signal : bool, default True
        One signal for all snapshots (blind calibration) or one per snapshot.
    shared_sensing : bool, default False
        One sensing matrix for all snapshots (Ling & Strohmer's model with ``y_l = D A x_l``;
        needs ``shared_signal=False`` to be informative).
    noise_std : float, default 0
        Gaussian noise as a fraction of the RMS of the clean measurements.
    signal_dim, gain_dim : int, optional
        Draw ``x`` from a random ``signal_dim``-dimensional subspace and ``e`` from a random
        ``gain_dim``-dimensional subspace orthogonal to the all-ones vector (the subspace
        priors of paper 5); the bases are returned.
    seed : int or numpy.random.Generator, optional
    """
    n, m, p = check_int("n", n, 1), check_int("m", m, 1), check_int("p", p, 1)
    spread = check_real("spread", spread, low=0.0, high=1.0, high_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    if shared_signal and shared_sensing and p > 1:
        raise ValueError("shared_signal=True with shared_sensing=True repeats one snapshot "
                         "p times; share at most one of them")
    check_fits(f"the {p}x{m}x{n} sensing matrices", 8 * p * m * n, None,
               "Generate a smaller problem, or raise the budget if the memory is there.")
    rng = as_generator(seed)
    gain_basis = signal_basis = None
    if gain_dim is None:
        e = rng.uniform(-1.0, 1.0, m)
    else:
        gain_dim = check_int("gain_dim", gain_dim, 1, m - 1, high_label="m - 1")
        gain_basis = _basis_orthogonal_to_ones(m, gain_dim, rng)
        e = gain_basis @ rng.standard_normal(gain_dim)
    e -= e.mean()
    scale = np.max(np.abs(e))
    gains = 1.0 + (spread * e / scale if scale > 0 else e)
    if signal_dim is None:
        signal = rng.standard_normal(n if shared_signal else (p, n))
    else:
        signal_dim = check_int("signal_dim", signal_dim, 1, n, high_label="n")
        signal_basis = np.linalg.qr(rng.standard_normal((n, signal_dim)))[0]
        coefficients = rng.standard_normal(signal_dim if shared_signal else (p, signal_dim))
        signal = coefficients @ signal_basis.T
    sensing = rng.standard_normal((1 if shared_sensing else p, m, n))
    sensing = np.broadcast_to(sensing, (p, m, n)).copy()
    x = np.broadcast_to(signal, (p, n))
    clean = gains * np.einsum("lmn,ln->lm", sensing, x)
    rms = float(np.sqrt(np.mean(clean**2)))
    y = clean + noise_std * rms * rng.standard_normal(clean.shape)
    return CalibrationProblem(sensing, y, gains, signal, signal_basis, gain_basis)


def _basis_orthogonal_to_ones(m, k, rng):
    """An orthonormal ``m × k`` basis of a random subspace of ``1_m^⊥``."""
    draw = rng.standard_normal((m, k))
    draw -= draw.mean(axis=0)
    return np.linalg.qr(draw)[0]


def blind_deconvolution(length, n, p, *, taps=None, noise_std=0.0, seed=None):
    """Blind deconvolution with diverse inputs, in the Fourier domain (paper 9's third model).

    An unknown filter ``f`` (``length`` samples, leading tap 1, ``taps`` non-zero taps;
    default all) is circularly convolved with ``p`` unknown inputs ``x_l = C z_l`` from a
    known ``n``-dimensional subspace ``C`` (``length × n``): ``y_l = f ⊛ x_l``. The DFT turns
    this into ``ŷ_l = diag(F f) (F C) z_l``, a calibration problem with complex gains
    ``F f`` (mean 1: the mean of ``F f`` is the leading tap), shared sensing ``F C`` and one
    signal ``z_l`` per snapshot.

    Returns
    -------
    CalibrationProblem
        With complex ``sensing`` (``p × length × n``), ``y`` and ``gains``; the filter is
        ``numpy.fft.ifft(gains).real``.
    """
    length, n, p = check_int("length", length, 2), check_int("n", n, 1), check_int("p", p, 1)
    taps = length if taps is None else check_int("taps", taps, 1, length, high_label="length")
    noise_std = check_real("noise_std", noise_std, low=0.0)
    rng = as_generator(seed)
    taps_at = np.concatenate([[0], 1 + rng.choice(length - 1, taps - 1, replace=False)])
    filter_ = np.zeros(length)
    filter_[taps_at] = np.concatenate([[1.0], rng.standard_normal(taps - 1) / np.sqrt(taps)])
    subspace = rng.standard_normal((length, n))
    coefficients = rng.standard_normal((p, n))
    sensing = np.broadcast_to(np.fft.fft(subspace, axis=0), (p, length, n)).copy()
    gains = np.fft.fft(filter_)
    clean = gains * np.einsum("lmn,ln->lm", sensing, coefficients)
    rms = float(np.sqrt(np.mean(np.abs(clean) ** 2)))
    noise = rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)
    y = clean + noise_std * rms * noise / np.sqrt(2)
    return CalibrationProblem(sensing, y, gains, coefficients)
