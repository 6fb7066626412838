"""``lrkit.recover``: one entry point, ``method=`` routed to the solvers."""

from __future__ import annotations

from lrkit._backend import namespace
from lrkit._random import as_generator
from lrkit._validation import (
    check_choice,
    check_finite_array,
    check_int,
    check_rank,
    check_real,
)
from lrkit.operators import EntrySampling, SensingOperator
from lrkit.recover._init import (
    robust_frobenius_estimate,
    small_init,
    spectral_init,
    top_singular_value,
)
from lrkit.recover._loop import iterate
from lrkit.recover.altmin import ALTMIN_SOLVERS, CG_STEPS, altmin_update
from lrkit.recover.factored import gd_onestep_update, gd_update, scaled_gd_update
from lrkit.recover.softimpute import softimpute
from lrkit.recover.subgradient import l1_loss, subgm_update

#: Methods for any operator.
SENSING_METHODS = ("gd", "gd_onestep", "scaled_gd", "subgm")
#: Methods that need entry sampling (matrix completion).
COMPLETION_METHODS = ("altmin", "softimpute")
METHODS = SENSING_METHODS + COMPLETION_METHODS
#: Default step of GD as a fraction of 1 / σ_1(M*) (σ_1 estimated from A*(y)).
GD_STEP = 0.5
#: Default step of the preconditioned method (dimensionless).
SCALED_GD_STEP = 0.5
#: Default steps of the sub-gradient method as fractions of 1 / ||M*||_F (estimated):
#: the adaptive rule's gain and the geometric rule's η_0.
SUBGM_STEP = {"adaptive": 0.3, "geometric": 1.0}
SUBGM_DECAY = 0.995
#: Default init_scale: the ℓ1 method's final error over-parameterised is O(init_scale).
INIT_SCALE = {"subgm": 1e-6}
#: How many times a diverging default step is halved before giving up.
MAX_BACKOFFS = 6


def least_squares_loss(residual) -> float:
    """``½ ||r||²``."""
    xp = namespace(residual)
    return 0.5 * float(xp.sum(residual * residual))


def recover(
    operator,
    y,
    rank,
    method="gd",
    *,
    parameterization="asymmetric",
    init="small",
    init_scale=None,
    step_size=None,
    max_iter=3000,
    tol=1e-10,
    truth=None,
    seed=None,
    callback=None,
    step_rule="adaptive",
    decay=SUBGM_DECAY,
    onestep_threshold=1e-2,
    onestep_iter=None,
    ridge=0.0,
    solver="exact",
    cg_steps=CG_STEPS,
    lam=None,
):
    """Recover a low-rank matrix from linear measurements ``y ≈ A(M*)``.

    Parameters
    ----------
    operator : SensingOperator
        The measurement operator ``A`` (see :mod:`lrkit.operators`).
    y : array, shape (m,)
        Measurements (NumPy array or any array-API array, e.g. a PyTorch tensor; the
        result comes back in the same library).
    rank : int
        Number of columns ``k`` of the factors; any ``k >= rank(M*)`` is allowed
        (over-parameterisation).
    method : {"gd", "gd_onestep", "scaled_gd", "subgm", "altmin", "softimpute"}
        ``"gd"``: factored gradient descent (paper 1). ``"gd_onestep"``: GD with one
        product-preserving rebalancing step, rate independent of ``init_scale`` (paper 1,
        asymmetric only). ``"scaled_gd"``: preconditioned GD (ScaledGD / PrecGD) for
        ill-conditioned or over-parameterised problems. ``"subgm"``: sub-gradient method on
        the ℓ1 loss with geometrically decaying steps, robust to outliers (paper 3).
        Completion only (an :class:`~lrkit.operators.EntrySampling` operator): ``"altmin"``,
        alternating least squares from a spectral init (paper 6; see
        :func:`~lrkit.recover.altmin.altmin_update`), and ``"softimpute"``, the convex
        nuclear-norm path (see :func:`~lrkit.recover.softimpute.softimpute`).
    parameterization : {"asymmetric", "symmetric"}
        ``F Gᵀ`` or ``X Xᵀ`` (PSD truth; needs a symmetric operator).
    init : {"small", "spectral"}
        Small random factors of scale ``init_scale`` relative to ``√σ_1(M*)``, or the top-``k``
        factors of ``A*(y)``.
    init_scale : float > 0, optional
        Default 1e-3, and 1e-6 for ``"subgm"`` (whose over-parameterised error is O(init_scale)).
    step_size : float, optional
        Override of the data-derived default step (for ``"subgm"`` the initial step η_0).
        A diverging *default* step is halved and the run restarted; a user step is not.
    max_iter : int
    tol : float
        Stop when the relative change of the objective stays below ``tol``.
    truth : array, shape (n1, n2), optional
        Ground truth: ``history["rel_error"]`` is recorded when given.
    seed : int or numpy.random.Generator, optional
    callback : callable, optional
        Called with an :class:`~lrkit.recover.IterationInfo` after each iteration; raising
        ``StopIteration`` stops the run.
    step_rule : {"adaptive", "geometric"}
        Step of ``"subgm"``: proportional to a median-based estimate of the current error
        (default), or the paper's ``η_0 q^t``.
    decay : float in (0, 1]
        Geometric step decay ``q`` of ``"subgm"`` with ``step_rule="geometric"``.
    onestep_threshold, onestep_iter
        When ``"gd_onestep"`` rebalances: once ``||A(F Gᵀ) − y|| < threshold · ||y||``, or at
        iteration ``onestep_iter`` if given.
    ridge : float >= 0
        ``"altmin"``: ridge penalty ``λ||F||² + λ||G||²`` of the row solves.
    solver : {"exact", "approx"}
        ``"altmin"``: exact k×k solves, or ``cg_steps`` warm-started preconditioned CG steps.
    cg_steps : int
    lam : float >= 0, optional
        ``"softimpute"``: the nuclear-norm weight λ; by default the path stops where the
        solution's rank reaches ``rank``.

    Returns
    -------
    RecoveryResult

    Examples
    --------
    >>> import lrkit
    >>> prob = lrkit.problems.sensing(n1=20, n2=15, rank=2, m=400, seed=0)
    >>> res = lrkit.recover(prob.operator, prob.y, rank=2, truth=prob.truth, seed=0)
    >>> res.converged, res.rel_error < 1e-8
    (True, True)
    """
    symmetric = _check_problem(operator, y, rank, method, parameterization, truth)
    check_choice("init", init, ("small", "spectral"))
    if init_scale is None:
        init_scale = INIT_SCALE.get(method, 1e-3)
    init_scale = check_real("init_scale", init_scale, low=0.0, low_open=True)
    check_choice("step_rule", step_rule, ("adaptive", "geometric"))
    if step_size is not None:
        step_size = check_real("step_size", step_size, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_real("tol", tol, low=0.0)
    decay = check_real("decay", decay, low=0.0, high=1.0, low_open=True)
    onestep_threshold = check_real("onestep_threshold", onestep_threshold, low=0.0, low_open=True)
    if onestep_iter is not None:
        onestep_iter = check_int("onestep_iter", onestep_iter, 0)

    rng = as_generator(seed)
    if method == "softimpute":
        if lam is not None:
            lam = check_real("lam", lam, low=0.0)
        return softimpute(operator, y, rank, lam=lam, max_iter=max_iter, tol=tol, truth=truth,
                          callback=callback, seed=rng)
    if method == "altmin":
        check_choice("solver", solver, ALTMIN_SOLVERS)
        ridge = check_real("ridge", ridge, low=0.0)
        cg_steps = check_int("cg_steps", cg_steps, 1)
        factors = spectral_init(operator, y, rank, False, seed=rng)
        update = altmin_update(operator, y, ridge, solver, cg_steps)
        return iterate((operator, y), factors, update, least_squares_loss, method=method,
                       max_iter=max_iter, tol=tol, truth=truth, callback=callback)
    if method == "subgm":
        scale = robust_frobenius_estimate(operator, y)
        loss = l1_loss(operator)
        default_step = SUBGM_STEP[step_rule] / scale
    else:
        scale = top_singular_value(operator, y, seed=rng)
        loss = least_squares_loss
        default_step = (
            SCALED_GD_STEP / operator.isotropy
            if method == "scaled_gd"
            else GD_STEP / (scale * operator.isotropy)
        )
    if init == "small":
        factors = small_init(
            operator.shape, rank, init_scale * scale**0.5, symmetric, y, seed=rng
        )
    else:
        factors = spectral_init(operator, y, rank, symmetric, seed=rng)

    def run(step):
        if method == "gd":
            update = gd_update(operator, step, symmetric)
        elif method == "gd_onestep":
            update = gd_onestep_update(operator, y, step, onestep_threshold, onestep_iter)
        elif method == "scaled_gd":
            update = scaled_gd_update(operator, step, symmetric)
        else:
            update = subgm_update(operator, step, symmetric, step_rule, decay)
        return iterate((operator, y), factors, update, loss, method=method, max_iter=max_iter,
                       tol=tol, truth=truth, callback=callback)

    if step_size is not None:
        return run(step_size)
    return _run_with_backoff(run, default_step)


def _check_problem(operator, y, rank, method, parameterization, truth):
    """Validate the problem-level arguments of :func:`recover`; return ``symmetric``."""
    check_choice("method", method, METHODS)
    if not isinstance(operator, SensingOperator):
        raise ValueError(f"operator must be a lrkit SensingOperator; got {type(operator).__name__}")
    if not hasattr(y, "dtype") or "float" not in str(y.dtype):
        raise ValueError(f"y must be a floating-point array; got dtype {getattr(y, 'dtype', None)}")
    check_finite_array("y", y, ndim=1)
    if y.shape[0] != operator.m:
        raise ValueError(f"len(y)={y.shape[0]} does not match operator.m={operator.m}")
    check_rank(rank, operator.shape)
    if method in COMPLETION_METHODS and not isinstance(operator, EntrySampling):
        raise ValueError(
            f"method={method!r} is for matrix completion and needs an EntrySampling operator; "
            f"got {type(operator).__name__}. Use 'gd', 'scaled_gd' or 'subgm'."
        )
    check_choice("parameterization", parameterization, ("asymmetric", "symmetric"))
    symmetric = parameterization == "symmetric"
    if symmetric and (operator.shape[0] != operator.shape[1] or not operator.symmetric):
        raise ValueError(
            "parameterization='symmetric' needs a square operator with symmetric A_i; "
            f"got {operator!r}. Use parameterization='asymmetric'."
        )
    if method == "gd_onestep" and symmetric:
        raise ValueError("method='gd_onestep' needs parameterization='asymmetric'")
    if truth is not None:
        check_finite_array("truth", truth, ndim=2)
        if tuple(truth.shape) != tuple(operator.shape):
            raise ValueError(f"truth must have shape {operator.shape}; got {tuple(truth.shape)}")
    return symmetric


def _run_with_backoff(run, step):
    """``run(step)``, halving a diverging default step up to ``MAX_BACKOFFS`` times."""
    result, halvings = run(step), 0
    while result.message.startswith("diverged") and halvings < MAX_BACKOFFS:
        halvings += 1
        result = run(step / 2**halvings)
    if halvings:
        result.message += f" (default step halved {halvings}x after divergence)"
    return result


__all__ = ["COMPLETION_METHODS", "METHODS", "SENSING_METHODS", "recover"]
