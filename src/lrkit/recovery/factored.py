"""Factored gradient methods on the least-squares loss ``f(F, G) = ½ ||A(F Gᵀ) − y||²``.

Each ``*_update`` builds the per-iteration map used by :func:`lrkit.recovery._loop.iterate`.
With ``Z = A*(A(F Gᵀ) − y)`` the gradients are ``∇_F f = Z G`` and ``∇_G f = Zᵀ F``; for the
symmetric parameterisation ``X Xᵀ`` the update uses ``sym(Z) X``, the gradient of
``¼ ||A(X Xᵀ) − y||²`` when the ``A_i`` are symmetric.
"""

from __future__ import annotations

from lrkit._backend import namespace
from lrkit.recovery._factored_run import factored_options, least_squares_loss, run_factored
from lrkit.recovery._init import top_singular_value
from lrkit.recovery.registry import Option, Solver, integer, real, register

#: Default step of GD as a fraction of 1 / σ_1(M*) (σ_1 estimated from A*(y)).
GD_STEP = 0.5
#: Default step of the preconditioned method (dimensionless).
SCALED_GD_STEP = 0.5


def factor_gradients(operator, residual, F, G, symmetric):
    """``(Z G, Zᵀ F)`` with ``Z = A*(residual)``; symmetric: both equal ``sym(Z) X``."""
    ZG, ZtF = operator.factor_gradients(residual, F, G)
    if symmetric:
        grad = 0.5 * (ZG + ZtF)
        return grad, grad
    return ZG, ZtF


def gd_update(operator, step, symmetric):
    """Plain factored gradient descent, ``F ← F − η Z G``, ``G ← G − η Zᵀ F``.

    The algorithm analysed by Xiong, Ding & Du (ICLR 2024, paper 1): linear convergence
    when ``k = r``; ``Ω(1/T²)`` for the over-parameterised symmetric ``X Xᵀ``; rate
    ``exp(−Ω(α² T))`` for the over-parameterised asymmetric ``F Gᵀ`` from scale-``α`` init.
    """

    def update(t, F, G, residual):
        return gradient_step(operator, residual, F, G, step, symmetric)

    return update


def gradient_step(operator, residual, F, G, eta, symmetric):
    """``F ← F − η Z G``, ``G ← G − η Zᵀ F`` (``X ← X − η sym(Z) X``) with
    ``Z = A*(residual)``; returns ``(F, G, η)``, G being F when symmetric."""
    grad_F, grad_G = factor_gradients(operator, residual, F, G, symmetric)
    if symmetric:
        X = F - eta * grad_F
        return X, X, eta
    return F - eta * grad_F, G - eta * grad_G, eta


def rebalance(F, G):
    """Product-preserving rebalancing ``F ← c U``, ``G ← G W S / c`` (so ``F Gᵀ`` is unchanged).

    With ``F = U S Wᵀ`` and ``c = √σ_1(F Gᵀ)``, F becomes perfectly conditioned, which
    removes the ``α²`` factor from the asymmetric over-parameterised rate (the one-step
    modification of Xiong, Ding & Du 2024, Sec. 5).
    """
    xp = namespace(F)
    U, S, Wt = xp.linalg.svd(F, full_matrices=False)
    _, R_f = xp.linalg.qr(F)
    _, R_g = xp.linalg.qr(G)
    c = float(xp.linalg.svdvals(R_f @ R_g.T)[0]) ** 0.5
    return c * U, (G @ Wt.T) * (S / c)


def gd_onestep_update(operator, y, step, threshold, at_iteration=None):
    """Asymmetric GD with one rebalancing step (Xiong, Ding & Du 2024, Sec. 5).

    Plain GD runs until the relative residual ``||A(F Gᵀ) − y|| / ||y||`` first drops below
    ``threshold`` (the end of the initial alignment phase; or at iteration ``at_iteration``
    when given); then one :func:`rebalance` step replaces the factors, and plain GD goes on
    at a rate independent of the initialisation scale.

    Limitation: on ill-conditioned truths the residual can pass ``threshold`` before the
    smallest singular directions are learned; rebalancing then fixes F's span too early and
    the run is slower than plain GD (demo: cond = 100). Use ``"scaled_gd"`` there.
    """
    xp = namespace(y)
    y_norm = float(xp.linalg.vector_norm(y))
    plain = gd_update(operator, step, symmetric=False)
    state = {"done": False}

    def update(t, F, G, residual):
        if not state["done"]:
            due = (
                t == at_iteration
                if at_iteration is not None
                else float(xp.linalg.vector_norm(residual)) < threshold * y_norm
            )
            if due:
                F, G = rebalance(F, G)
                residual = operator.forward_factored(F, G) - y
                state["done"] = True
        return plain(t, F, G, residual)

    return update


def _right_solve(X, gram, damping):
    """``X (gram + damping I)⁻¹`` for a small symmetric positive (semi)definite ``gram``."""
    xp = namespace(X)
    k = gram.shape[0]
    eye = xp.eye(k, dtype=gram.dtype, device=getattr(gram, "device", None))
    return xp.linalg.solve(gram + damping * eye, X.T).T


def scaled_gd_update(operator, step, symmetric):
    """Preconditioned factored GD (ScaledGD / PrecGD).

    ``F ← F − η Z G (GᵀG + λ_t I)⁻¹``, ``G ← G − η Zᵀ F (FᵀF + λ_t I)⁻¹``, with the damping
    ``λ_t = ||A(F Gᵀ) − y|| / √isotropy ≈ ||F Gᵀ − M*||_F`` of PrecGD (Zhang, Fattahi & Zhang
    2021), which keeps the preconditioner invertible under over-parameterisation and lets the
    rate become independent of the condition number (ScaledGD, Tong, Ma & Chi 2021).
    """

    def update(t, F, G, residual):
        xp = namespace(F)
        damping = float(xp.linalg.vector_norm(residual)) / operator.isotropy**0.5
        grad_F, grad_G = factor_gradients(operator, residual, F, G, symmetric)
        if symmetric:
            X = F - step * _right_solve(grad_F, F.T @ F, damping)
            return X, X, step
        new_F = F - step * _right_solve(grad_F, G.T @ G, damping)
        new_G = G - step * _right_solve(grad_G, F.T @ F, damping)
        return new_F, new_G, step

    return update


def _solve_least_squares(make_update, default_step):
    """A ``Solver.solve`` for a least-squares factored method: σ_1(M*) is estimated from
    ``A*(y)`` to scale the init, and ``default_step(σ_1, operator)`` gives the step."""

    def solve(run, operator, y, rank, options, rng):
        scale = top_singular_value(operator, y, seed=rng)
        symmetric = options["parameterization"] == "symmetric"
        return run_factored(run, operator, y, rank, options, rng,
                            make_update=lambda step: make_update(operator, y, step, symmetric,
                                                                 options),
                            loss=least_squares_loss, scale=scale,
                            default_step=default_step(scale, operator))

    return solve


register(Solver(
    "gd",
    _solve_least_squares(lambda op, y, step, sym, o: gd_update(op, step, sym),
                         lambda scale, op: GD_STEP / (scale * op.isotropy)),
    factored_options(), symmetric=True,
    summary="factored gradient descent, F Gᵀ or X Xᵀ (paper 1)"))

register(Solver(
    "gd_onestep",
    _solve_least_squares(
        lambda op, y, step, sym, o: gd_onestep_update(op, y, step, o["onestep_threshold"],
                                                      o["onestep_iter"]),
        lambda scale, op: GD_STEP / (scale * op.isotropy)),
    factored_options(
        onestep_threshold=Option(1e-2, real(0.0, low_open=True),
                                 "rebalance once ||A(F Gᵀ) − y|| < threshold · ||y||"),
        onestep_iter=Option(None, integer(0), "or at this iteration")),
    summary="GD plus one rebalancing step: rate independent of init_scale (paper 1, Sec. 5)"))

register(Solver(
    "scaled_gd",
    _solve_least_squares(lambda op, y, step, sym, o: scaled_gd_update(op, step, sym),
                         lambda scale, op: SCALED_GD_STEP / op.isotropy),
    factored_options(step_size=Option(None, real(0.0, low_open=True),
                                      "override of the default (dimensionless) step")),
    symmetric=True,
    summary="preconditioned GD (ScaledGD / PrecGD): rate independent of the condition number"))
