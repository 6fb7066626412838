"""``lrkit calibrate``: generate a calibration problem (unknown sensor gains) and solve it."""

from __future__ import annotations

import warnings

import lrkit
from lrkit.calibration.api import CALIBRATION_METHODS
from lrkit.cli.console import (
    add_solver_limits,
    add_verb,
    check_plot_path,
    console,
    nonnegative_float_arg,
    positive_float_arg,
    positive_int_arg,
    results_table,
    share_arg,
    solver_progress,
)


def register(sub):
    parser = add_verb(sub, "calibrate",
                      "recover a signal and unknown sensor gains from a generated problem")
    parser.add_argument("--n", type=positive_int_arg, default=32, help="signal length")
    parser.add_argument("--m", type=positive_int_arg, default=64, help="number of sensors")
    parser.add_argument("--snapshots", type=positive_int_arg, default=6,
                        help="number of snapshots p (each with its own sensing matrix)")
    parser.add_argument("--method", choices=[*CALIBRATION_METHODS, "all"], default="all",
                        help="blind_gain (paper 5), least_squares or spectral (paper 9), or all")
    parser.add_argument("--per-snapshot-signals", action="store_true",
                        help="a different signal in every snapshot (least_squares/spectral)")
    parser.add_argument("--spread", type=share_arg, default=0.5,
                        help="gains are 1 + e with |e| <= spread (mean 1)")
    parser.add_argument("--noise-std", type=nonnegative_float_arg, default=0.0,
                        help="noise as a fraction of the RMS of the clean measurements")
    parser.add_argument("--step", type=positive_float_arg, default=None,
                        help="blind_gain step size (default: 1 / curvature along x)")
    add_solver_limits(parser, 5000, "blind_gain")
    parser.set_defaults(func=run)


def run(args):
    if args.plot:
        check_plot_path(args.plot)
    shared = not args.per_snapshot_signals
    methods = CALIBRATION_METHODS if args.method == "all" else (args.method,)
    if not shared:
        if args.method == "blind_gain":
            raise ValueError("--per-snapshot-signals needs --method least_squares or spectral")
        methods = tuple(m for m in methods if m != "blind_gain")
    problem = lrkit.problems.calibration(args.n, args.m, args.snapshots, spread=args.spread,
                                         shared_signal=shared, noise_std=args.noise_std,
                                         seed=args.seed)
    label = f"n={args.n}, m={args.m}, p={args.snapshots}"
    rows, results = [], {}
    for method in methods:
        options = ({"step": args.step, "max_iter": args.max_iter, "tol": args.tol}
                   if method == "blind_gain" else {})
        result = _solve(problem, method, shared, options)
        rows.append((label, method, 1, result))
        results[method] = result
    console.print(results_table(rows, "lrkit calibrate (errors modulo the gain-signal scale)"))
    for method, result in results.items():
        console.print(f"{method}: {result.message}")
    if args.plot:
        from lrkit.plotting import plot_convergence

        plot_convergence({label: results}, args.plot)
        console.print(f"convergence plot saved to {args.plot}")
    return 0


def _solve(problem, method, shared, options):
    """``lrkit.calibrate``; the iterative method shows a progress bar fed by its callback."""
    arguments = {"shared_signal": shared, "truth": problem.truth, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        if method != "blind_gain":
            return lrkit.calibrate(problem.sensing, problem.y, method, **arguments)
        with solver_progress() as progress:
            task = progress.add_task(method, total=options["max_iter"], error="-")

            def callback(info):
                if info.iteration % 25 == 0:
                    progress.update(task, completed=info.iteration,
                                    error=f"{info.rel_error:.1e}")

            result = lrkit.calibrate(problem.sensing, problem.y, method, callback=callback,
                                     **arguments)
            progress.remove_task(task)
    return result
