"""``lrkit recover``: generate a sensing or completion problem and solve it."""

from __future__ import annotations

import lrkit
from lrkit.cli.console import (
    add_seed,
    check_plot_path,
    console,
    results_table,
    run_with_progress,
    solver_progress,
)
from lrkit.recovery import get_solver, solver_names


def register(sub):
    parser = sub.add_parser("recover", help="recover a low-rank matrix from a generated problem")
    parser.add_argument("--problem", choices=["sensing", "completion"], default="sensing")
    parser.add_argument("--n1", type=int, default=40)
    parser.add_argument("--n2", type=int, default=30)
    parser.add_argument("--rank", type=int, default=2, help="rank of the truth")
    parser.add_argument("--fit-rank", type=int, default=None,
                        help="rank of the factors (default: --rank)")
    parser.add_argument("--m", type=int, default=900, help="number of measurements")
    parser.add_argument("--method", choices=list(solver_names()), default="gd")
    parser.add_argument("--symmetric", action="store_true",
                        help="PSD truth, X Xᵀ parameterisation")
    parser.add_argument("--design", choices=["gaussian", "rank_one"], default="gaussian")
    parser.add_argument("--cond", type=float, default=1.0)
    parser.add_argument("--noise-std", type=float, default=0.0)
    parser.add_argument("--outlier-frac", type=float, default=0.0)
    parser.add_argument("--init", choices=["small", "spectral"], default="small")
    parser.add_argument("--init-scale", type=float, default=None)
    parser.add_argument("--max-iter", type=int, default=3000)
    parser.add_argument("--tol", type=float, default=1e-10)
    add_seed(parser)
    parser.add_argument("--plot", metavar="OUT.png", help="save the error-vs-iteration curve")
    parser.set_defaults(func=run)


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
    fit_rank = args.fit_rank or args.rank
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
