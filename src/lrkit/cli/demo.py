"""``lrkit demo``: every sensing method on four built-in problems, one table and one plot."""

from __future__ import annotations

import lrkit
from lrkit.cli.console import (
    add_seed,
    add_verb,
    check_plot_path,
    console,
    positive_int_arg,
    results_table,
    run_with_progress,
    solver_progress,
)
from lrkit.recovery import solver_names


def register(sub):
    parser = add_verb(sub, "demo", "all recovery methods on the built-in problems")
    parser.add_argument("--max-iter", type=positive_int_arg, default=3000,
                        help="bound on each run's iterations")
    add_seed(parser)
    parser.add_argument("--plot", metavar="OUT.png", default=None,
                        help="save the error-vs-iteration curves (needs lrkit[plot])")
    parser.set_defaults(func=run)


def demo_problems(seed):
    """The demo's four built-in problems: (name, problem, fitted rank)."""
    sensing = lrkit.problems.sensing
    return [
        ("exact rank, 40x30 r=2", sensing(40, 30, 2, 900, seed=seed), 2),
        ("over-parameterised k=4, r=2", sensing(40, 30, 2, 900, seed=seed), 4),
        ("ill-conditioned cond=100, r=3", sensing(40, 30, 3, 1500, cond=100.0, seed=seed), 3),
        ("20% outliers, r=2, k=4", sensing(40, 30, 2, 1500, outlier_frac=0.2, seed=seed), 4),
    ]


def run(args):
    if args.plot:
        check_plot_path(args.plot)
    rows, panels = [], {}
    methods = solver_names(needs=frozenset())  # those that work with any operator
    with solver_progress() as progress:
        for name, prob, rank in demo_problems(args.seed):
            panels[name] = {}
            for method in methods:
                res = run_with_progress(progress, f"{name}: {method}", prob, rank,
                                        method=method, max_iter=args.max_iter, seed=args.seed)
                rows.append((name, method, rank, res))
                panels[name][method] = res
    console.print(results_table(rows, "lrkit demo: matrix sensing, four methods"))
    if args.plot:
        from lrkit.plotting import plot_convergence

        plot_convergence(panels, args.plot, title="lrkit demo: relative error per iteration")
        console.print(f"convergence plot saved to {args.plot}")
    return 0
