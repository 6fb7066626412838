"""Sub-gradient method on the ℓ1 loss, robust to gross outliers (paper 3)."""

from __future__ import annotations

import math

from lrkit._backend import namespace
from lrkit.recovery._factored_run import factored_options, run_factored
from lrkit.recovery._init import robust_frobenius_estimate
from lrkit.recovery.factored import gradient_step
from lrkit.recovery.registry import Option, Solver, choice, real, register

#: Default steps as fractions of 1 / ||M*||_F (estimated): the adaptive rule's gain and
#: the geometric rule's η_0.
SUBGM_STEP = {"adaptive": 0.3, "geometric": 1.0}
SUBGM_DECAY = 0.995


def l1_loss(operator):
    """``h(r) = ||r||_1 / √(m · isotropy)``, scaled so that ``h ≈ √(2/π) ||F Gᵀ − M*||_F``
    for clean Gaussian measurements."""
    scale = 1.0 / math.sqrt(operator.m * operator.isotropy)

    def loss(residual):
        return scale * float(namespace(residual).sum(namespace(residual).abs(residual)))

    return loss


def subgm_update(operator, step, symmetric, step_rule="adaptive", decay=SUBGM_DECAY):
    """Sub-gradient method on the ℓ1 loss from small initialisation (Ma & Fattahi 2022, paper 3).

    ``D_t = A*(sign(A(F Gᵀ) − y)) / √(m · isotropy)`` is a sub-gradient of the ℓ1 loss at
    ``F Gᵀ``; then ``F ← F − η_t D_t G``, ``G ← G − η_t D_tᵀ F`` (symmetric:
    ``X ← X − η_t sym(D_t) X``). From a small random initialisation of scale α this recovers
    the truth despite a constant fraction of arbitrary outliers; over-parameterised, the
    final error is O(α) (the spurious directions stay at the initialisation scale).

    Step rules: ``"geometric"`` is the paper's ``η_t = η_0 q^t`` (``step`` = η_0, ``decay`` = q),
    which works but must be tuned (a factor 2 in η_0 separates high accuracy from divergence);
    ``"adaptive"`` (default) is a Polyak-type step ``η_t = step · ê_t`` proportional to the
    :func:`~lrkit.recovery._init.robust_frobenius_estimate` ``ê_t`` of the current
    error (read off the residuals), so the step shrinks exactly
    as fast as the error does and needs no schedule.
    """
    scale = 1.0 / math.sqrt(operator.m * operator.isotropy)

    def update(t, F, G, residual):
        if step_rule == "adaptive":
            eta = step * robust_frobenius_estimate(operator, residual)
        else:
            eta = step * decay**t
        signs = scale * namespace(residual).sign(residual)
        return gradient_step(operator, signs, F, G, eta, symmetric)

    return update


def _solve(run, operator, y, rank, options, rng):
    symmetric = options["parameterization"] == "symmetric"
    rule = options["step_rule"]
    scale = robust_frobenius_estimate(operator, y)
    return run_factored(
        run, operator, y, rank, options, rng,
        make_update=lambda step: subgm_update(operator, step, symmetric, rule,
                                              options["decay"]),
        loss=l1_loss(operator), scale=scale, default_step=SUBGM_STEP[rule] / scale)


register(Solver(
    "subgm", _solve,
    factored_options(
        # The ℓ1 method's over-parameterised error is O(init_scale): a smaller default.
        init_scale=Option(1e-6, real(0.0, low_open=True),
                          "scale of the small init; the final error is O(init_scale)"),
        step_rule=Option("adaptive", choice("adaptive", "geometric"),
                         "median-based Polyak-type steps, or the paper's η_0 q^t"),
        decay=Option(SUBGM_DECAY, real(0.0, 1.0, low_open=True),
                     "geometric decay q of step_rule='geometric'")),
    symmetric=True, loss="l1",
    summary="sub-gradient method on the ℓ1 loss: robust to outliers (paper 3)"))
