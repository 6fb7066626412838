"""Learning a wide quadratic network from quadratically many samples: GAMP-RIE (paper 19).

Maillard, Troiani, Martin, Krzakala & Zdeborová (2024) learn
``f*(x) = (1/√m) Σ_k ((w_k·x)²/d − 1)`` from ``n = α d²`` samples when the width ``m = κd``
grows with ``d``. The labels are linear in the matrix ``S = WᵀW/√(dm)``:

    y_μ = ⟨Z_μ, S⟩ + b + noise,   Z_μ = (x_μ x_μᵀ − I)/√d,

so learning the network is estimating an extensive-rank matrix from rank-one sensing
matrices. GAMP-RIE is approximate message passing on this linear model whose denoiser is the
rotation-invariant estimator (RIE) of an extensive-rank matrix in Gaussian noise. With ``V``
the estimate's error in label units and ``q_μ = ||Z_μ||²/(d + 1)`` each sample's leverage,
one iteration is

    ω_μ = ⟨Z_μ, Ŝ⟩ − V q_μ g_μ,           g_μ = (y_μ − b̂ − ω_μ) / (Δ + V_res q_μ),
    P = Σ_μ q_μ / (Δ + V_res q_μ),         Σ = d² / (4P),
    R = Ŝ + (d / 2P) Σ_μ g_μ Z_μ  = Q diag(λ) Qᵀ,
    Ŝ ← Q diag(ξ(λ)) Qᵀ,                   ξ(λ) = λ − 2Σ Re g_Σ(λ),
    V ← (4Σ/d²) [Σ_a ξ'(λ_a) + Σ_{a<b} (ξ(λ_a) − ξ(λ_b))/(λ_a − λ_b)],

where ``R`` is ``S`` plus GOE noise of variance ``Σ`` (the decoupling that AMP's Onsager
term ``V q_μ g_μ`` buys), ``g_Σ`` the Stieltjes transform of the prior spectrum (√κ times
Marchenko–Pastur of ratio 1/κ) free-convolved with the semicircle of variance ``Σ`` (so
``ξ`` is the Bayes-optimal RIE), the bracket the divergence of the spectral denoiser,
``V_res = mean((y − b̂ − ω)²) − Δ`` the error the residuals show, and
``b̂ = mean(y − ⟨Z_μ, Ŝ⟩)`` refitted at every step.
Two changes to the textbook iteration make it settle at the sizes one can run (d ≈ 100):
the Onsager term and the weights use each sample's leverage ``q_μ`` (rank-one ``Z_μ`` do
not have equal norms, unlike the Gaussian matrices of the theory), and ``Ŝ`` and ``V``
are damped. (The RIE estimated from ``R``'s own spectrum with a Cauchy kernel,
:func:`lrkit.denoise`'s, needs no prior but made the iteration oscillate below the
recovery threshold at d = 100, so the prior's spectrum is used.)

:func:`gamp_rie_error` evaluates the state evolution of the iteration,
``mse ← mmse(Σ = (Δ + 2 mse)/(4α))`` with the extensive-rank denoising error
``mmse(Σ) = Σ − (4π²/3) Σ² ∫ ρ_Σ³`` (``ρ_Σ``: the spectrum of ``S`` free-convolved with a
semicircle of variance ``Σ``); the test error is ``2 mse``. The paper states that the
fixed point is the Bayes-optimal error. The normalisation here is my own derivation (only
the paper's abstract was at hand); the tests check the ``mmse`` formula against a
Monte-Carlo denoising run and the exact-recovery threshold ``α = κ − κ²/2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrkit._validation import check_int, check_real
from lrkit.result import Outcome, Status, timed

#: Weight of the previous iterate in the damped update of ``Ŝ`` and ``V``.
DAMPING = 0.5
#: Iterations over which the error estimate must have settled to stop.
PATIENCE = 10


@dataclass
class QuadraticNetworkFit(Outcome):
    """Result of :func:`gamp_rie`.

    Attributes
    ----------
    matrix : numpy.ndarray, (d, d)
        ``Ŝ``, the estimate of ``S``.
    offset : float
        ``b̂``.
    converged : bool
        Whether the steps fell below ``tol`` (see :func:`gamp_rie`); ``status`` and
        ``message`` say it, ``n_iter`` and ``time`` as in :class:`~lrkit.result.Outcome`.
    history : dict
        ``"error"``: GAMP's own estimate of ``(1/d)||Ŝ − S||²`` per iteration;
        ``"change"``: ``(1/d)||Ŝ_t − Ŝ_{t−1}||²``.
    """

    matrix: np.ndarray
    offset: float

    def predict(self, inputs):
        """``f̂(x) = (xᵀ Ŝ x − tr Ŝ)/√d + b̂`` at ``inputs`` (n, d)."""
        inputs = np.asarray(inputs, dtype=float)
        d = self.matrix.shape[0]
        if inputs.ndim != 2 or inputs.shape[1] != d:
            raise ValueError(f"inputs must have shape (n, {d}); got {inputs.shape}")
        return _sensed(inputs, self.matrix) + self.offset


@timed
def gamp_rie(inputs, labels, width_ratio, *, noise=0.0, max_iter=500,
             tol=1e-3) -> QuadraticNetworkFit:
    """Learn a wide quadratic network ``y = (xᵀ S x − tr S)/√d + b + noise`` by GAMP-RIE.

    Parameters
    ----------
    inputs : array_like, (n, d)
        Standard Gaussian inputs (the model the algorithm is derived for); ``n`` of the
        order of ``d²``.
    labels : array_like, (n,)
    width_ratio : float
        κ = m/d of the network (the prior: ``S`` is √κ times a Marchenko–Pastur matrix of
        ratio 1/κ); the RIE is computed from it.
    noise : float
        Label-noise variance ``Δ`` (0 for noiseless labels).
    max_iter : int
    tol : float
        Stop when GAMP's estimate of its error, ``mse_t``, has moved by at most
        ``tol · mse_t`` over the last ``PATIENCE`` iterations (its fixed point; at finite
        ``d`` the iterate keeps fluctuating around it by about ``1e-3`` of ``mse``), or when
        a step moves ``Ŝ`` by less than ``1e-6`` of its norm (exact recovery).

    Returns
    -------
    QuadraticNetworkFit

    Examples
    --------
    >>> import numpy as np, lrkit
    >>> prob = lrkit.problems.quadratic_network(dim=40, width_ratio=0.5, alpha=0.8, seed=0)
    >>> fit = lrkit.gamp_rie(prob.inputs, prob.labels, width_ratio=0.5)
    >>> test = np.random.default_rng(1).standard_normal((500, 40))
    >>> bool(np.mean((fit.predict(test) - prob.target(test)) ** 2) < 0.05)
    True
    """
    X = np.asarray(inputs, dtype=float)
    y = np.asarray(labels, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"inputs must be (n, d) with n, d >= 2; got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"labels must have shape ({X.shape[0]},) like inputs' rows; got "
                         f"{y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("inputs and labels must be finite (no NaN or inf)")
    prior = _FreeConvolution(check_real("width_ratio", width_ratio, 0.0, low_open=True))
    noise = check_real("noise", noise, 0.0)
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_real("tol", tol, 0.0)
    n, d = X.shape
    offset = float(y.mean())
    centred = y - offset
    squared_norms = np.einsum("ij,ij->i", X, X)
    leverage = (squared_norms**2 - 2 * squared_norms + d) / d / (d + 1)
    S_hat = np.zeros((d, d))
    variance = float(np.mean(centred**2)) - noise
    history = {"error": [], "change": []}
    if variance <= 1e-12 * max(float(np.mean(centred**2)), 1e-300):
        return QuadraticNetworkFit(S_hat, offset, n_iter=0, history=history,
                                   message="nothing left to learn")  # nothing left to learn
    g = np.zeros(n)
    converged = False
    for _ in range(max_iter):
        sensed = _sensed(X, S_hat)
        offset = float(np.mean(y - sensed))  # b̂ refitted to the current Ŝ
        residual = y - offset - sensed + variance * leverage * g
        shown = max(float(np.mean(residual**2)) - noise, 1e-15)
        weights = noise + shown * leverage
        g = residual / weights
        precision = float(np.sum(leverage / weights))
        sigma = d * d / (4.0 * precision)
        R = S_hat + (d / 2.0) * _back_projection(X, g) / precision
        lam, Q = np.linalg.eigh(0.5 * (R + R.T))
        xi, slopes = prior.rie(lam, sigma)
        step = (1 - DAMPING) * ((Q * xi) @ Q.T - S_hat)
        S_hat += step
        divergence = _divergence(lam, xi, slopes)
        variance = DAMPING * variance + (1 - DAMPING) * 4 * sigma * divergence / d**2
        moved = float(np.sum(step**2)) / d
        history["error"].append(variance / 2)
        history["change"].append(moved)
        errors = history["error"]
        settled = (len(errors) > PATIENCE
                   and abs(errors[-1] - errors[-1 - PATIENCE]) <= tol * errors[-1])
        if settled or moved <= 1e-12 * float(np.sum(S_hat**2)) / d:
            converged = True
            break
    offset = float(np.mean(y - _sensed(X, S_hat)))
    n_iter = len(history["change"])
    return QuadraticNetworkFit(
        S_hat, offset, n_iter=n_iter, history=history,
        status=Status.CONVERGED if converged else Status.MAX_ITER,
        message=f"steps below tol after {n_iter} iterations" if converged
        else f"max_iter={n_iter} reached before the steps fell below tol")


def _sensed(X, S):
    """``⟨Z_μ, S⟩ = (x_μᵀ S x_μ − tr S)/√d`` for every row."""
    return (np.einsum("ij,ij->i", X @ S, X) - np.trace(S)) / math.sqrt(X.shape[1])


def _back_projection(X, r):
    """``Σ_μ r_μ Z_μ``."""
    return ((X.T * r) @ X - r.sum() * np.eye(X.shape[1])) / math.sqrt(X.shape[1])


def _divergence(lam, xi, slopes):
    """Divergence of the spectral map ``R ↦ Q diag(ξ(λ)) Qᵀ`` over symmetric matrices:
    ``Σ_a ξ'(λ_a) + Σ_{a<b} (ξ_a − ξ_b)/(λ_a − λ_b)``."""
    gaps = lam[:, None] - lam[None, :]
    close = np.abs(gaps) <= 1e-12 * max(1.0, float(np.abs(lam).max()))
    quotients = np.where(close, 0.0, (xi[:, None] - xi[None, :]) / np.where(close, 1.0, gaps))
    return float(np.sum(np.triu(quotients, 1)) + np.sum(slopes))


def gamp_rie_error(alpha, width_ratio, noise=0.0, *, max_iter=500, tol=1e-6):
    """Predicted error of GAMP-RIE (the Bayes-optimal error of paper 19) as ``d → ∞``.

    Iterates the state evolution ``mse ← mmse(κ, (Δ + 2 mse)/(4α))`` from ``mse = 1 + κ``
    (the estimate 0) to its fixed point.

    Parameters
    ----------
    alpha : float
        ``n / d²``.
    width_ratio : float
        κ = m / d.
    noise : float
        Label-noise variance Δ.

    Returns
    -------
    dict
        ``"mse"``: ``(1/d)||Ŝ − S||²``; ``"test_error"``: ``E(f̂(x) − f*(x))² = 2 mse``.
    """
    alpha = check_real("alpha", alpha, 0.0, low_open=True)
    kappa = check_real("width_ratio", width_ratio, 0.0, low_open=True)
    noise = check_real("noise", noise, 0.0)
    mse = 1.0 + kappa
    spectrum = _FreeConvolution(kappa)
    for _ in range(check_int("max_iter", max_iter, 1)):
        new = spectrum.mmse((noise + 2 * mse) / (4 * alpha))
        done = abs(new - mse) <= tol * mse or new < 1e-12
        mse = new
        if done:
            break
    return {"mse": mse, "test_error": 2 * mse}


class _FreeConvolution:
    """Spectrum of ``S + √Σ ξ`` (``S = √κ`` times a Marchenko–Pastur matrix of ratio 1/κ,
    ``ξ`` GOE) by subordination, ``g(z) = g_S(ω)``, ``ω = z − Σ g_S(ω)``, on a grid; the
    subordination points are kept between calls (warm start)."""

    POINTS = 1500
    IMAGINARY = 1e-7

    def __init__(self, kappa):
        self.kappa = kappa
        self.previous = None

    def _g_signal(self, z, derivative=False):
        """Stieltjes transform of ``S``: root of ``c w g² − (w − 1 + c) g + 1 = 0`` in
        ``w = z/√κ``, ``c = 1/κ``, that maps the upper half plane to the lower one (and its
        derivative in ``z``)."""
        scale, c = math.sqrt(self.kappa), 1.0 / self.kappa
        w = z / scale
        b = w - 1 + c
        root = np.sqrt(b * b - 4 * c * w + 0j)
        first, second = (b + root) / (2 * c * w), (b - root) / (2 * c * w)
        both = (first.imag <= 0) & (second.imag <= 0)
        nearer = np.where(np.abs(first - 1 / w) < np.abs(second - 1 / w), first, second)
        g = np.where(both, nearer, np.where(first.imag <= 0, first, second))
        if not derivative:
            return g / scale
        slope = (g - c * g * g) / (2 * c * w * g - b)
        return g / scale, slope / scale**2

    def stieltjes(self, sigma):
        """Grid ``x`` and ``g(x + i0)`` of the spectrum of ``S + √Σ ξ``."""
        top = math.sqrt(self.kappa) * (1 + math.sqrt(1 / self.kappa)) ** 2
        spread = 3 * math.sqrt(sigma) + 0.5
        x = np.linspace(-spread, top + spread, self.POINTS)
        z = x + 1j * self.IMAGINARY
        if self.previous is None:
            omega = z + 1j
        else:  # warm start: the last shift ω − z = −Σ g(z), rescaled to the new Σ
            grid, shift, previous_sigma = self.previous
            shift = (np.interp(x, grid, shift.real) + 1j * np.interp(x, grid, shift.imag))
            omega = z + shift * (sigma / previous_sigma)
        for _ in range(200):  # Newton on ω − z + Σ g_S(ω) = 0, kept in the upper half plane
            g, slope = self._g_signal(omega, derivative=True)
            step = (omega - z + sigma * g) / (1 + sigma * slope)
            trial = omega - step
            low = trial.imag <= 0
            trial[low] = omega[low] - 0.5 * step[low].real + 0.5j * omega[low].imag
            omega = trial
            if np.max(np.abs(step)) < 1e-13:
                break
        self.previous = (x, omega - z, sigma)
        return x, self._g_signal(omega)

    def mmse(self, sigma):
        x, g = self.stieltjes(sigma)
        density = -g.imag / math.pi
        return sigma - (4 * math.pi**2 / 3) * sigma**2 * float(np.trapezoid(density**3, x))

    def rie(self, lam, sigma):
        """Population RIE ``ξ(λ) = λ − 2Σ Re g(λ)`` and ``ξ'(λ)`` at the eigenvalues."""
        x, g = self.stieltjes(sigma)
        real = g.real
        slope = np.gradient(real, x)
        return lam - 2 * sigma * np.interp(lam, x, real), 1 - 2 * sigma * np.interp(lam, x, slope)
