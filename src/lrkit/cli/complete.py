"""``lrkit complete``: fill the missing entries of a matrix file."""

from __future__ import annotations

import numpy as np

import lrkit
from lrkit.cli.console import (
    add_matrix_io,
    console,
    positive_int_or_auto,
    stop_label,
    summary_table,
)
from lrkit.io import check_output, load_matrix, save_arrays
from lrkit.recovery.estimator import FILL_RULES
from lrkit.recovery.registry import solvers_needing


def register(sub):
    parser = sub.add_parser("complete", help="fill the missing (NaN) entries of a matrix file")
    add_matrix_io(parser)
    parser.add_argument("--rank", default="auto", help="rank of the model, or 'auto'")
    parser.add_argument("--method", choices=list(solvers_needing("entries")),
                        default="altmin")
    parser.add_argument("--ridge", type=float, default=0.0)
    parser.add_argument("--center", action="store_true", help="remove column means first")
    parser.add_argument("--fill-empty", choices=list(FILL_RULES), default="error",
                        help="all-NaN rows/columns: refuse, or fill with column means")
    parser.set_defaults(func=run)


def run(args):
    check_output(args.output, several=False)
    X = load_matrix(args.input, args.key)
    model = lrkit.MatrixCompletion(rank=positive_int_or_auto(args.rank, "--rank"),
                                   method=args.method, ridge=args.ridge, center=args.center,
                                   fill_empty=args.fill_empty, max_iter=args.max_iter,
                                   seed=args.seed)
    with console.status(f"completing a {X.shape[0]}x{X.shape[1]} matrix ({args.method})"):
        filled = model.fit_transform(X)
    observed = ~np.isnan(X)
    fitted = model.row_factors_ @ model.components_.T + model.mean_
    rmse = float(np.sqrt(np.mean((fitted[observed] - X[observed]) ** 2)))
    save_arrays(args.output, completed=filled)
    console.print(summary_table("lrkit complete", [
        ("shape", f"{X.shape[0]} x {X.shape[1]}"),
        ("observed", f"{observed.mean():.1%}"),
        ("rank", str(model.rank_)),
        ("iterations", str(model.result_.n_iter)),
        ("RMSE on observed entries", f"{rmse:.4g}"),
        ("time (s)", f"{model.result_.wall_time:.2f}"),
        ("stop", stop_label(model.result_)),
        ("written", str(args.output)),
    ]))
    return 0
