"""``lrkit complete``: fill the missing entries of a matrix file."""

from __future__ import annotations

import time

import numpy as np

import lrkit
from lrkit.cli.console import (
    add_matrix_io,
    add_verb,
    console,
    nonnegative_float_arg,
    rank_or_auto_arg,
    stop_label,
    summary_table,
)
from lrkit.io import check_output, load_matrix, save_arrays
from lrkit.recovery.estimator import FILL_RULES
from lrkit.recovery.registry import solvers_needing


def register(sub):
    parser = add_verb(sub, "complete", "fill the missing (NaN) entries of a matrix file")
    add_matrix_io(parser)
    parser.add_argument("--rank", type=rank_or_auto_arg, default="auto",
                        help="rank of the model, or 'auto' (chosen on held-out entries)")
    parser.add_argument("--method", choices=list(solvers_needing("entries")),
                        default="altmin", help="completion solver")
    parser.add_argument("--ridge", type=nonnegative_float_arg, default=0.0,
                        help="ridge penalty of the factor solves")
    parser.add_argument("--center", action="store_true", help="remove column means first")
    parser.add_argument("--fill-empty", choices=list(FILL_RULES), default="error",
                        help="all-NaN rows/columns: refuse, or fill with column means")
    parser.add_argument("--clip", action="store_true",
                        help="clip predictions to the range of the observed entries")
    parser.set_defaults(func=run)


def run(args):
    start = time.perf_counter()
    check_output(args.output, several=False, inputs=[args.input])
    X = load_matrix(args.input, args.key, args.header)
    model = lrkit.MatrixCompletion(rank=args.rank,
                                   method=args.method, ridge=args.ridge, center=args.center,
                                   fill_empty=args.fill_empty, max_iter=args.max_iter,
                                   seed=args.seed)
    with console.status(f"completing a {X.shape[0]}x{X.shape[1]} matrix ({args.method})"):
        filled = model.fit_transform(X)
    observed = ~np.isnan(X)
    if args.clip:
        filled = np.clip(filled, X[observed].min(), X[observed].max())
    fitted = model.row_factors_ @ model.components_.T + model.mean_
    rmse = float(np.sqrt(np.mean((fitted[observed] - X[observed]) ** 2)))
    save_arrays(args.output, completed=filled)
    console.print(summary_table("lrkit complete", [
        ("shape", f"{X.shape[0]} x {X.shape[1]}"),
        ("observed", f"{observed.mean():.1%}"),
        ("rank", str(model.rank_)),
        ("iterations", str(model.result_.n_iter)),
        ("RMSE on observed entries", f"{rmse:.4g}"),
        ("solver time (s)", f"{model.result_.wall_time:.2f}"),
        ("total time (s)", f"{time.perf_counter() - start:.2f}"),
        ("stop", stop_label(model.result_)),
        ("written", str(args.output)),
    ]))
    return 0
