"""Rank-selection rules for a spectrum of singular values."""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import check_choice, check_finite_array, check_real, check_shape

RANK_RULES = ("energy", "gavish_donoho", "marchenko_pastur", "welore")
#: WeLore's global threshold τ on min-max normalised singular values for a 50 % rank
#: reduction of LLaMA-2-7B (Jaiswal et al. 2024, reference values 0.0225 … 0.21 for 10–70 %).
WELORE_THRESHOLD = 0.135


def marchenko_pastur_density(x, beta):
    """The Marchenko–Pastur density at ``x`` (array-like) of the eigenvalues of ``WᵀW / n``
    for an ``n × βn`` matrix ``W`` of variance-1 entries (``0 < β ≤ 1``):
    ``√((λ₊ − x)(x − λ₋)) / (2π β x)`` on ``[λ₋, λ₊] = [(1 − √β)², (1 + √β)²]``, zero
    outside."""
    x = np.asarray(x, dtype=np.float64)
    lower, upper = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2
    inside = np.clip((upper - x) * (x - lower), 0.0, None)
    return np.sqrt(inside) / (2 * math.pi * beta * np.maximum(x, 1e-300))


def marchenko_pastur_median(beta: float) -> float:
    """Median of the Marchenko–Pastur law with aspect ratio ``beta`` (variance 1 entries)."""
    return marchenko_pastur_quantile(beta, 0.5)


def marchenko_pastur_quantile(beta: float, q: float) -> float:
    """The ``q``-quantile of the Marchenko–Pastur law with aspect ratio ``beta``."""
    from scipy import integrate, optimize  # loaded on first use: a light ``import lrkit``

    beta = check_real("beta", beta, 0.0, 1.0, low_open=True)
    q = check_real("q", q, 0.0, 1.0, low_open=True, high_open=True)
    lower, upper = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2

    def mass_below(x):
        return integrate.quad(lambda t: float(marchenko_pastur_density(t, beta)), lower,
                              x)[0] - q

    return optimize.brentq(mass_below, lower, upper)


def noise_from_quantile(s, shape, q) -> float:
    """Noise level σ from the ``q``-quantile of all ``min(shape)`` singular values of an
    n1×n2 matrix, ``σ̂ = s_(q) / √(max(n1, n2) x_q)`` with ``x_q`` the Marchenko–Pastur
    quantile. A low quantile reads noise under a signal of rank up to ``(1 − q) min(shape)``
    (:func:`noise_from_median` is ``q = 0.5``)."""
    small, large = sorted(check_shape(shape))
    if np.size(s) < small:
        raise ValueError(
            f"the noise level is estimated from a quantile of all min(shape) = {small} "
            f"singular values; got {np.size(s)}: pass the whole spectrum (e.g. "
            "np.linalg.svd(A, compute_uv=False)) or give noise=")
    return float(np.quantile(s, q)) / math.sqrt(large * marchenko_pastur_quantile(small / large,
                                                                                  q))


def noise_from_median(s, shape) -> float:
    """Noise level σ estimated from the median singular value of an n1×n2 matrix:
    ``σ̂ = median(s) / √(max(n1, n2) μ_β)``, μ_β the Marchenko–Pastur median (Gavish & Donoho).
    The median is that of the whole spectrum: ``s`` must hold all ``min(n1, n2)`` values
    (the median of a top few would read signal as noise)."""
    return noise_from_quantile(s, shape, 0.5)


def gavish_donoho_threshold(shape, noise=None, s=None) -> float:
    """Optimal hard threshold for singular values (Gavish & Donoho, IEEE TIT 2014).

    For ``Y = X + σ Z`` (n1×n2, i.i.d. unit-variance noise), with ``β = min/max`` aspect ratio:
    known σ: ``τ = λ*(β) √max(n1, n2) σ`` with
    ``λ*(β) = √(2(β+1) + 8β / ((β+1) + √(β² + 14β + 1)))``; unknown σ:
    ``τ = λ*(β) / √μ_β · median(s)`` with μ_β the Marchenko–Pastur median, i.e. the
    known-σ rule with σ from :func:`noise_from_median`.
    """
    small, large = sorted(check_shape(shape))
    beta = small / large
    lam = math.sqrt(2 * (beta + 1) + 8 * beta / ((beta + 1) + math.sqrt(beta**2 + 14 * beta + 1)))
    if noise is None:
        if s is None:
            raise ValueError("gavish_donoho_threshold needs noise= or the singular values s=")
        noise = noise_from_median(s, shape)
    noise = check_real("noise", noise, low=0.0)
    return lam * math.sqrt(large) * noise


def welore_rank(s, threshold=WELORE_THRESHOLD) -> int:
    """WeLore's rank (Jaiswal et al. 2024, "From GaLore to WeLore"): normalise
    ``s̃_i = (s_i − s_min) / (s_max − s_min)`` and drop the ``p = #{i : s̃_i < τ}`` values
    below the global threshold ``τ``; the rank kept is ``len(s) − p`` (at least 1).

    Heavy-tailed spectra have most ``s̃_i`` near 0 and lose much rank; flat spectra lose
    little, which is the non-uniform allocation the paper argues for.
    """
    s = np.asarray(s, dtype=float)
    check_finite_array("s", s, ndim=1)
    if s.size == 0:
        raise ValueError("s is empty: pass the singular values")
    spread = s.max() - s.min()
    if spread == 0:
        return int(s.size)
    dropped = int(np.count_nonzero((s - s.min()) / spread < threshold))
    return max(1, int(s.size) - dropped)


def select_rank(s, rule="energy", *, threshold=None, shape=None, noise=None) -> int:
    """Choose a rank from singular values ``s`` (any order).

    Parameters
    ----------
    s : array of singular values (the full spectrum for the noise-based rules)
    rule : {"energy", "gavish_donoho", "marchenko_pastur", "welore"}
        ``"energy"``: smallest r with ``Σ_{i<=r} s_i² >= threshold · Σ s_i²``.
        ``"welore"``: :func:`welore_rank` with ``τ = threshold``.
        ``"gavish_donoho"``: count of ``s_i`` above :func:`gavish_donoho_threshold` (known
        ``noise`` σ, or estimated from the median singular value).
        ``"marchenko_pastur"``: count above the noise bulk edge ``σ (√n1 + √n2)``, σ given or
        estimated as ``median(s) / √(max(n1, n2) μ_β)``.
    threshold : float in (0, 1]
        Energy fraction for ``"energy"`` (default 0.99); τ for ``"welore"`` (default
        ``WELORE_THRESHOLD``).
    shape : tuple (n1, n2)
        Matrix shape, needed by the noise-based rules.
    noise : float, optional
        Noise standard deviation per entry, if known.
    """
    check_choice("rule", rule, RANK_RULES)
    s = np.sort(np.abs(np.asarray(s, dtype=float)))[::-1]
    check_finite_array("s", s, ndim=1)
    if s.size == 0:
        raise ValueError("s is empty")
    if rule in ("energy", "welore"):
        default = 0.99 if rule == "energy" else WELORE_THRESHOLD
        threshold = check_real("threshold", default if threshold is None else threshold,
                               0.0, 1.0, low_open=True)
        if rule == "welore":
            return welore_rank(s, threshold)
        energy = np.cumsum(s**2) / np.sum(s**2)
        return int(min(np.searchsorted(energy, threshold * (1 - 1e-12)) + 1, s.size))
    if shape is None or len(shape) != 2:
        raise ValueError(f"rule={rule!r} needs shape=(n1, n2) of the matrix; got {shape!r}")
    if noise is not None:
        noise = check_real("noise", noise, low=0.0, low_open=True)
    if rule == "gavish_donoho":
        return int(np.sum(s > gavish_donoho_threshold(shape, noise, s)))
    if noise is None:
        noise = noise_from_median(s, shape)
    return int(np.sum(s > noise * (math.sqrt(shape[0]) + math.sqrt(shape[1]))))
