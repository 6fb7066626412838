"""``lrkit recover``: generate a sensing or completion problem and solve it."""

from __future__ import annotations

import lrkit
from lrkit.cli.console import (
    add_solver_limits,
    add_verb,
    check_plot_path,
    console,
    nonnegative_float_arg,
    number_arg,
    positive_float_arg,
    positive_int_arg,
    results_table,
    run_with_progress,
    share_arg,
    solver_progress,
)
from lrkit.recovery import get_solver, solver_names


def register(sub):
    parser = add_verb(sub, "recover", "recover a low-rank matrix from a generated problem")
    parser.add_argument("--problem", choices=["sensing", "completion"], default="sensing",
                        help="Gaussian (or rank-one) sensing, or entry sampling")
    parser.add_argument("--n1", type=positive_int_arg, default=40, help="rows of the truth")
    parser.add_argument("--n2", type=positive_int_arg, default=30, help="columns of the truth")
    parser.add_argument("--rank", type=positive_int_arg, default=2, help="rank of the truth")
    parser.add_argument("--fit-rank", type=positive_int_arg, default=None,
                        help="rank of the factors (default: --rank)")
    parser.add_argument("--m", type=positive_int_arg, default=900,
                        help="number of measurements")
    parser.add_argument("--method", choices=list(solver_names()), default="gd",
                        help="the solver (lrkit.recovery.solver_names())")
    parser.add_argument("--symmetric", action="store_true",
                        help="PSD truth, X Xᵀ parameterisation")
    parser.add_argument("--design", choices=["gaussian", "rank_one"], default="gaussian",
                        help="sensing matrices: dense Gaussian or rank-one a bᵀ")
    parser.add_argument("--cond", type=_cond_arg, default=1.0,
                        help="condition number of the truth")
    parser.add_argument("--noise-std", type=nonnegative_float_arg, default=0.0,
                        help="standard deviation of Gaussian noise on the measurements")
    parser.add_argument("--outlier-frac", type=share_arg, default=0.0,
                        help="fraction of measurements replaced by gross outliers")
    parser.add_argument("--init", choices=["small", "spectral"], default="small",
                        help="initialisation of the factored methods")
    parser.add_argument("--init-scale", type=positive_float_arg, default=None,
                        help="scale of the small initialisation (default: the method's)")
    add_solver_limits(parser, 3000)
    parser.set_defaults(func=run)


_cond_arg = number_arg(float, 1.0)


def solver_options(method, args):
    """The method options the flags set, restricted to those the solver declares."""
    given = {"parameterization": "symmetric" if args.symmetric else "asymmetric",
             "init": args.init, "init_scale": args.init_scale}
    declared = get_solver(method).options
    return {name: value for name, value in given.items()
            if name in declared and value is not None}


def run(args):
    if args.plot:
        check_plot_path(args.plot)
    if args.problem == "completion":
        prob = lrkit.problems.completion(args.n1, args.n2, args.rank, m=args.m, cond=args.cond,
                                         noise_std=args.noise_std, seed=args.seed)
    else:
        prob = lrkit.problems.sensing(
            n1=args.n1, n2=args.n2, rank=args.rank, m=args.m, symmetric=args.symmetric,
            cond=args.cond, noise_std=args.noise_std, outlier_frac=args.outlier_frac,
            design=args.design, seed=args.seed,
        )
    fit_rank = args.rank if args.fit_rank is None else args.fit_rank
    if fit_rank > min(args.n1, args.n2):
        raise ValueError(f"--fit-rank {fit_rank} exceeds min(--n1, --n2)={min(args.n1, args.n2)}")
    with solver_progress() as progress:
        res = run_with_progress(progress, args.method, prob, fit_rank, method=args.method,
                                max_iter=args.max_iter, tol=args.tol, seed=args.seed,
                                **solver_options(args.method, args))
    console.print(results_table([(repr(prob.operator), args.method, fit_rank, res)],
                                "lrkit recover"))
    console.print(res.message)
    if args.plot:
        from lrkit.plotting import plot_convergence

        plot_convergence({repr(prob.operator): {args.method: res}}, args.plot)
        console.print(f"convergence plot saved to {args.plot}")
    return 0
