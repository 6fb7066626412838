"""Sub-gradient method on the ℓ1 loss, robust to gross outliers (paper 3)."""

from __future__ import annotations

import math

import numpy as np

from lrkit._backend import namespace, to_numpy
from lrkit.recover.factored import factor_gradients


def l1_loss(operator):
    """``h(r) = ||r||_1 / √(m · isotropy)``, scaled so that ``h ≈ √(2/π) ||F Gᵀ − M*||_F``
    for clean Gaussian measurements."""
    scale = 1.0 / math.sqrt(operator.m * operator.isotropy)

    def loss(residual):
        return scale * float(namespace(residual).sum(namespace(residual).abs(residual)))

    return loss


def robust_error_estimate(operator, residual) -> float:
    """``1.4826 · median|r_i| · √(m / isotropy)``: the current error ``||F Gᵀ − M*||_F`` read
    off the residuals, insensitive to a minority (< 50 %) of gross outliers."""
    median = float(np.median(np.abs(to_numpy(residual))))
    return 1.4826 * median * math.sqrt(operator.m / operator.isotropy)


def subgm_update(operator, step, symmetric, step_rule="adaptive", decay=0.995):
    """Sub-gradient method on the ℓ1 loss from small initialisation (Ma & Fattahi 2022, paper 3).

    ``D_t = A*(sign(A(F Gᵀ) − y)) / √(m · isotropy)`` is a sub-gradient of the ℓ1 loss at
    ``F Gᵀ``; then ``F ← F − η_t D_t G``, ``G ← G − η_t D_tᵀ F`` (symmetric:
    ``X ← X − η_t sym(D_t) X``). From a small random initialisation of scale α this recovers
    the truth despite a constant fraction of arbitrary outliers; over-parameterised, the
    final error is O(α) (the spurious directions stay at the initialisation scale).

    Step rules: ``"geometric"`` is the paper's ``η_t = η_0 q^t`` (``step`` = η_0, ``decay`` = q),
    which works but must be tuned (a factor 2 in η_0 separates high accuracy from divergence);
    ``"adaptive"`` (default) is a Polyak-type step ``η_t = step · ê_t`` proportional to the
    :func:`robust_error_estimate` ``ê_t`` of the current error, so the step shrinks exactly
    as fast as the error does and needs no schedule.
    """
    scale = 1.0 / math.sqrt(operator.m * operator.isotropy)

    def update(t, F, G, residual):
        if step_rule == "adaptive":
            eta = step * robust_error_estimate(operator, residual)
        else:
            eta = step * decay**t
        signs = scale * namespace(residual).sign(residual)
        grad_F, grad_G = factor_gradients(operator, signs, F, G, symmetric)
        if symmetric:
            X = F - eta * grad_F
            return X, X, eta
        return F - eta * grad_F, G - eta * grad_G, eta

    return update
