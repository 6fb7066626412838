"""``lrkit.recover``: one entry point; ``method=`` is looked up in the solver registry."""

from __future__ import annotations

import numpy as np

from lrkit._backend import foreign_array, is_numpy_array, like, namespace, to_float, to_numpy
from lrkit._random import as_generator
from lrkit._stats import data_scale_exponent
from lrkit._validation import check_finite_array, check_int, check_rank, check_real
from lrkit.operators import SensingOperator
from lrkit.recovery.audit import audit
from lrkit.recovery.harness import Run
from lrkit.recovery.registry import get_solver, solver_names
from lrkit.result import Status


def recover(operator, y, rank, method="gd", *, max_iter=3000, tol=1e-10, truth=None,
            seed=None, callback=None, **options):
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
    method : str
        A registered solver (:func:`lrkit.recovery.solver_names`):

        - ``"gd"``: factored gradient descent (paper 1);
        - ``"gd_onestep"``: GD with one product-preserving rebalancing step, rate
          independent of ``init_scale`` (paper 1, asymmetric only);
        - ``"scaled_gd"``: preconditioned GD (ScaledGD / PrecGD) for ill-conditioned or
          over-parameterised problems;
        - ``"subgm"``: sub-gradient method on the ℓ1 loss, robust to outliers (paper 3);
        - ``"altmin"`` (completion): alternating least squares from a spectral init
          (paper 6);
        - ``"softimpute"`` (completion): the convex nuclear-norm path.
    max_iter : int
        Bound on the iterations.
    tol : float
        Stopping tolerance of the method's convergence measure (``history["change"]``).
    truth : array, shape (n1, n2), optional
        Ground truth: ``history["rel_error"]`` is recorded when given.
    seed : int or numpy.random.Generator, optional
    callback : callable, optional
        Called with an :class:`~lrkit.IterationInfo` after each iteration; raising
        ``StopIteration`` stops the run.
    **options
        The method's own options, each checked against its declaration
        (``lrkit.recovery.get_solver(method).options``). Factored methods:
        ``parameterization`` (``"asymmetric"`` ``F Gᵀ`` or ``"symmetric"`` ``X Xᵀ``),
        ``init`` (``"small"`` or ``"spectral"``), ``init_scale`` (default 1e-3; 1e-6 for
        ``"subgm"``), ``step_size`` (a diverging *default* step is halved and the run
        restarted; a user step is not). ``"gd_onestep"``: ``onestep_threshold``,
        ``onestep_iter``. ``"subgm"``: ``step_rule`` (``"adaptive"`` or ``"geometric"``),
        ``decay``. ``"altmin"``: ``ridge``, ``solver`` (``"exact"`` or ``"approx"``),
        ``cg_steps``. ``"softimpute"``: ``lam``.

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
    run = Run(method, max_iter=check_int("max_iter", max_iter, 1), truth=None,
              callback=callback)
    solver = get_solver(method)
    y = _as_array(y)
    truth = None if truth is None else _as_array(truth)
    _check_problem(operator, y, rank, truth)
    _check_capabilities(solver, operator)
    values = solver.validate(options)
    values["tol"] = check_real("tol", tol, low=0.0)
    if values.get("parameterization") == "symmetric":
        _check_symmetric(solver, operator)
    rng = as_generator(seed)
    reference = y
    if not (solver.array_api or is_numpy_array(y)):
        # A NumPy-only solver: convert once here, and the factors back at the end.
        y, truth = to_numpy(y), None if truth is None else to_numpy(truth)
    peak = to_float(namespace(y).max(namespace(y).abs(y)))
    if peak == 0.0:
        return _zero_result(run, operator, rank, y, truth, reference)
    half = data_scale_exponent(peak)
    if half:  # extreme magnitudes: solve exactly rescaled by 4**-half (see data_scale_exponent)
        y, truth = y / 4.0**half, None if truth is None else truth / 4.0**half
        values = solver.rescale_options(values, 4.0**half)
    run.truth = None if truth is None else like(truth, y)
    result = audit(solver.solve(run, operator, y, rank, values, rng), solver, operator, y,
                   rank, values)
    F, G = result.factors
    F_back = like(F * 2.0**half if half else F, reference)
    G_back = F_back if G is F else like(G * 2.0**half if half else G, reference)
    result.factors = (F_back, G_back)  # F is G stays true for X Xᵀ
    if half:
        result.message += f" (solved rescaled by 4**{-half}; history['loss'] is of that problem)"
    return result


def _as_array(values):
    """Lists and pandas objects as NumPy arrays; arrays of any array-API library as they are."""
    if foreign_array(values) is not None or isinstance(values, np.ndarray):
        return values
    return np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)


def _zero_result(run, operator, rank, y, truth, reference):
    """All-zero measurements: the zero matrix fits them exactly, for every method."""
    run.truth = None if truth is None else like(truth, y)
    n1, n2 = operator.shape
    zeros = like(np.zeros((n1, rank)), reference), like(np.zeros((n2, rank)), reference)
    run.record(0.0, zeros, change=0.0)
    run.stop(Status.CONVERGED, "the measurements are all zero: the estimate is the zero matrix")
    return run.result(zeros)


def _check_problem(operator, y, rank, truth):
    """Validate the problem-level arguments of :func:`recover`."""
    if not isinstance(operator, SensingOperator):
        raise ValueError(f"operator must be a lrkit SensingOperator; got {type(operator).__name__}")
    if not hasattr(y, "dtype") or "float" not in str(y.dtype):
        raise ValueError(f"y must be a floating-point array; got dtype {getattr(y, 'dtype', None)}")
    check_finite_array("y", y, ndim=1)
    if y.shape[0] != operator.m:
        raise ValueError(f"len(y)={y.shape[0]} does not match operator.m={operator.m}")
    check_rank(rank, operator.shape)
    if truth is not None:
        check_finite_array("truth", truth, ndim=2)
        if tuple(truth.shape) != tuple(operator.shape):
            raise ValueError(f"truth must have shape {operator.shape}; got {tuple(truth.shape)}")


def _check_capabilities(solver, operator):
    missing = solver.needs - operator.capabilities
    if missing:
        suited = ", ".join(repr(n) for n in solver_names(operator.capabilities))
        raise ValueError(
            f"method={solver.name!r} needs an operator with {', '.join(sorted(missing))} "
            f"(an EntrySampling operator, for matrix completion); got "
            f"{type(operator).__name__}. Use one of {suited}."
        )


def _check_symmetric(solver, operator):
    if not solver.symmetric:
        raise ValueError(f"method={solver.name!r} needs parameterization='asymmetric'")
    if operator.shape[0] != operator.shape[1] or not operator.symmetric:
        raise ValueError(
            "parameterization='symmetric' needs a square operator with symmetric A_i; "
            f"got {operator!r}. Use parameterization='asymmetric'."
        )


__all__ = ["recover"]
