"""The primal–dual hybrid gradient method with adaptive steps, for objectives

    min_x  g(x) + Σ_i f_i(K_i x)

with ``g`` and every ``f_i`` convex and prox-friendly and ``K_i`` linear (Chambolle &
Pock 2011, Alg. 1 with θ = 1; steps balanced as in Goldstein, Li, Yuan, Esser & Baraniuk,
"Adaptive primal-dual splitting methods", 2015):

    p_i⁺ = prox_{σ f_i*}(p_i + σ K_i x̄),   x⁺ = prox_{τ g}(x − τ Σ_i K_iᵀ p_i⁺),
    x̄⁺ = 2 x⁺ − x.

The residuals of the optimality conditions ``0 ∈ ∂g(x) + Σ K_iᵀ p_i`` and
``K_i x ∈ ∂f_i*(p_i)`` are, at the new point,

    P = (x − x⁺) / τ,   D_i = (p_i − p_i⁺) / σ + K_i (x̄ − x⁺),

each measured relative to the size of the terms that must cancel (the largest
``||K_iᵀ p_i⁺||`` and the largest ``||K_i x⁺||``). When one relative residual exceeds the
other by more than ``Δ = 1.5``, ``τ`` and ``σ`` trade by the factor ``1 − α`` (``τσ`` kept
below ``1 / Σ ||K_i||²``) and ``α`` decays by ``η = 0.95``, so the steps settle and the
method keeps Chambolle–Pock's convergence. ``K_i x`` is formed once per iteration and
reused for ``K_i x̄`` by linearity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Term:
    """One ``f(K x)`` of the objective.

    Attributes
    ----------
    forward, adjoint : callable
        ``K`` and ``Kᵀ``.
    prox_conjugate : callable(q, sigma)
        ``prox_{σ f*}(q)``.
    value : callable(Kx) -> float
        ``f`` at ``K x`` (for the objective).
    norm_squared : float
        An upper bound on ``||K||²``.
    """

    forward: Callable
    adjoint: Callable
    prox_conjugate: Callable
    value: Callable
    norm_squared: float


def squared_loss(y, forward, adjoint, norm_squared=1.0):
    """``½ ||K x − y||²``; ``prox_{σf*}(q) = (q − σ y) / (1 + σ)``."""
    return Term(forward, adjoint, lambda q, sigma: (q - sigma * y) / (1.0 + sigma),
                lambda kx: 0.5 * float(np.sum((kx - y) ** 2)), norm_squared)


def l1_norm(weight, forward, adjoint, norm_squared):
    """``λ ||K x||₁``; the conjugate's prox clips to ``[−λ, λ]``."""
    return Term(forward, adjoint, lambda q, sigma: np.clip(q, -weight, weight),
                lambda kx: weight * float(np.abs(kx).sum()), norm_squared)


def nuclear_norm(weight, forward, adjoint, norm_squared=1.0):
    """``λ ||K x||_*`` (``K x`` a matrix); the conjugate's prox projects onto the spectral
    ball of radius ``λ`` (singular values clipped to ``λ``)."""
    def project(q, sigma):
        U, s, Vt = np.linalg.svd(q, full_matrices=False)
        return (U * np.minimum(s, weight)) @ Vt

    return Term(forward, adjoint, project,
                lambda kx: weight * float(np.linalg.svd(kx, compute_uv=False).sum()),
                norm_squared)


@dataclass
class Iterate:
    """One iteration's point, objective and relative residuals."""

    x: np.ndarray
    objective: float
    primal_residual: float
    dual_residual: float

    @property
    def residual(self):
        return max(self.primal_residual, self.dual_residual)


def iterate(x, terms, prox_primal, *, adaptive=True):
    """Yield an :class:`Iterate` per iteration of the adaptive primal–dual method.

    Parameters
    ----------
    x : ndarray
        Starting point.
    terms : list of Term
    prox_primal : callable(v, tau) -> (x, g(x))
        ``prox_{τ g}(v)`` and ``g`` at the result.
    adaptive : bool
        Balance the steps by the residuals (else fixed ``τ = σ``).
    """
    norm_squared = sum(term.norm_squared for term in terms)
    tau = sigma = 0.99 / np.sqrt(norm_squared)
    alpha, decay, band = 0.5, 0.95, 1.5
    kx = [term.forward(x) for term in terms]
    kx_bar = [v.copy() for v in kx]
    duals = [np.zeros_like(v) for v in kx]
    while True:
        new_duals = [term.prox_conjugate(p + sigma * v, sigma)
                     for term, p, v in zip(terms, duals, kx_bar, strict=True)]
        pulls = [term.adjoint(p) for term, p in zip(terms, new_duals, strict=True)]
        new_x, g_value = prox_primal(x - tau * sum(pulls), tau)
        new_kx = [term.forward(new_x) for term in terms]
        primal = float(np.linalg.norm(x - new_x)) / tau
        dual = float(np.sqrt(sum(np.sum(((p - q) / sigma + v - w) ** 2) for p, q, v, w
                                 in zip(duals, new_duals, kx_bar, new_kx, strict=True))))
        primal /= max(max(float(np.linalg.norm(u)) for u in pulls), 1e-300)
        dual /= max(max(float(np.linalg.norm(w)) for w in new_kx), 1e-300)
        kx_bar = [2.0 * w - v for w, v in zip(new_kx, kx, strict=True)]
        x, kx, duals = new_x, new_kx, new_duals
        objective = g_value + sum(term.value(v) for term, v in zip(terms, kx, strict=True))
        yield Iterate(x, objective, primal, dual)
        if adaptive and primal > band * dual:
            tau, sigma, alpha = tau / (1.0 - alpha), sigma * (1.0 - alpha), alpha * decay
        elif adaptive and dual > band * primal:
            tau, sigma, alpha = tau * (1.0 - alpha), sigma / (1.0 - alpha), alpha * decay
