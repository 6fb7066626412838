"""What the factored methods (gd, gd_onestep, scaled_gd, subgm) share: their options, the
initialisation, and the back-off of a diverging default step."""

from __future__ import annotations

from lrkit._backend import namespace
from lrkit.recovery._init import small_init, spectral_init
from lrkit.recovery._loop import iterate
from lrkit.recovery.registry import Option, choice, real
from lrkit.result import Status

#: How many times a diverging default step is halved before giving up.
MAX_BACKOFFS = 6

FACTORED_OPTIONS = {
    "parameterization": Option("asymmetric", choice("asymmetric", "symmetric"),
                               "F Gᵀ, or X Xᵀ for a PSD truth (needs a symmetric operator)"),
    "init": Option("small", choice("small", "spectral"),
                   "small random factors, or the top-k factors of A*(y)"),
    "init_scale": Option(1e-3, real(0.0, low_open=True),
                         "scale of the small init relative to √σ_1(M*)"),
    "step_size": Option(None, real(0.0, low_open=True),
                        "override of the data-derived default step", unit=-1),
}


def least_squares_loss(residual) -> float:
    """``½ ||r||²``."""
    xp = namespace(residual)
    return 0.5 * float(xp.sum(residual * residual))


def run_factored(run, operator, y, rank, options, rng, *, make_update, loss, scale,
                 default_step):
    """Initialise the factors, then iterate ``make_update(step)`` from ``default_step``.

    ``scale`` sets the small initialisation (``init_scale · √scale``). A diverging
    *default* step is halved (and the run restarted from the same initial factors) up to
    ``MAX_BACKOFFS`` times; a step the user set is never changed.
    """
    symmetric = options["parameterization"] == "symmetric"
    run.symmetrize = operator.symmetric and not symmetric
    if options["init"] == "small":
        factors = small_init(operator.shape, rank, options["init_scale"] * scale**0.5,
                             symmetric, y, seed=rng)
    else:
        factors = spectral_init(operator, y, rank, symmetric, seed=rng)

    def attempt(step):
        return iterate(run, (operator, y), factors, make_update(step), loss,
                       tol=options["tol"])

    if options["step_size"] is not None:
        return attempt(options["step_size"])
    result, halvings = attempt(default_step), 0
    while result.status is Status.DIVERGED and halvings < MAX_BACKOFFS:
        halvings += 1
        run.reset()
        result = attempt(default_step / 2**halvings)
    if halvings:
        result.message += f" (default step halved {halvings}x after divergence)"
    return result


def factored_options(**overrides):
    """:data:`FACTORED_OPTIONS` with some defaults or options replaced or added."""
    return {**FACTORED_OPTIONS, **overrides}


__all__ = ["FACTORED_OPTIONS", "factored_options", "least_squares_loss", "run_factored"]
