"""``lrkit complete``: fill the missing entries of a matrix file, or predict ratings from a
file of (row, column, value) triplets."""

from __future__ import annotations

import time

import numpy as np

import lrkit
from lrkit._stats import root_mean_square
from lrkit.cli.console import (
    add_matrix_io,
    add_verb,
    console,
    nonnegative_float_arg,
    rank_or_auto_arg,
    stop_label,
    summary_table,
)
from lrkit.cli.id_tables import read_id_table, write_completed, write_predictions
from lrkit.io import check_output, load_matrix, save_arrays
from lrkit.ratings.options import AUTO, BIASED, FILL_RULES
from lrkit.recovery.registry import solvers_needing


def register(sub):
    parser = add_verb(sub, "complete", "fill the missing (NaN) entries of a matrix file")
    add_matrix_io(parser)
    parser.add_argument("--rank", type=rank_or_auto_arg, default="auto",
                        help="rank of the model, or 'auto' (chosen on held-out entries)")
    parser.add_argument("--method", choices=[AUTO, BIASED, *solvers_needing("entries")],
                        default=AUTO, help="biased_als: ratings model with row and column "
                        "biases; altmin / softimpute: plain low rank (exact on low-rank "
                        "data); auto: whichever of biased_als and altmin predicts held-out "
                        "entries better")
    parser.add_argument("--ridge", type=nonnegative_float_arg, default=None,
                        help="ridge penalty of the factor solves (default: chosen on held-out "
                        "entries for biased_als, 0 for the others; given, auto fits "
                        "biased_als)")
    parser.add_argument("--center", action="store_true", help="remove column means first")
    parser.add_argument("--fill-empty", choices=list(FILL_RULES), default="auto",
                        help="all-NaN rows/columns: auto (biases for biased_als and auto, "
                        "refuse for the others), refuse, or fill with column means")
    parser.add_argument("--triplets", action="store_true",
                        help="the input lists observations as (row id, column id, value): "
                        "ids are zero-based indices, or in a CSV any text (user names, item "
                        "codes), written back as given")
    parser.add_argument("--pairs", metavar="FILE",
                        help="(row id, column id) table: write predictions at these pairs as "
                        "(row id, column id, prediction) instead of the completed matrix")
    parser.add_argument("--clip", action="store_true",
                        help="clip predictions to the range of the observed entries")
    parser.set_defaults(func=run)


def run(args):
    start = time.perf_counter()
    check_output(args.output, several=False,
                 inputs=[args.input] + ([args.pairs] if args.pairs else []))
    if args.triplets:
        table = read_id_table(args.input, 3, args.header)
        rows, cols, values = table.rows.index, table.cols.index, table.values[0]
        data = (rows, cols, values)
    else:
        X = load_matrix(args.input, args.key, args.header)
        rows, cols = np.nonzero(~np.isnan(X))
        values, data, table = X[rows, cols], X, None
    pairs = read_id_table(args.pairs, 2, like=table) if args.pairs else None
    model = lrkit.MatrixCompletion(rank=args.rank,
                                   method=args.method, ridge=args.ridge, center=args.center,
                                   fill_empty=args.fill_empty, max_iter=args.max_iter,
                                   seed=args.seed)
    with console.status(f"fitting {values.size} observed entries ({args.method})"):
        model.fit(data)
    shape = (model.row_factors_.shape[0], model.components_.shape[0])
    clip = (values.min(), values.max()) if args.clip else (-np.inf, np.inf)
    if pairs is not None:
        asked = pairs.rows.index, pairs.cols.index
        predicted = np.clip(model.predict(*asked), *clip)
        write_predictions(args.output, pairs, *asked, predicted,
                          names=None if table is None else table.names)
    else:
        filled = model.predict(*np.indices(shape).reshape(2, -1)).reshape(shape)
        filled[rows, cols] = values
        if table is None:
            save_arrays(args.output, completed=np.clip(filled, *clip))
        else:
            write_completed(args.output, table, np.clip(filled, *clip))
    rmse = root_mean_square(model.predict(rows, cols) - values)
    console.print(summary_table("lrkit complete", [
        ("shape", f"{shape[0]} x {shape[1]}"),
        ("observed", f"{values.size / (shape[0] * shape[1]):.1%}"),
        ("model", model.method_),
        ("rank", str(model.rank_) + (f", mean of {model.n_models} fits, ridge "
                                     f"{model.ridge_:g}" if model.method_ == BIASED else "")),
        ("iterations", str(model.result_.n_iter)),
        ("RMSE on observed entries", f"{rmse:.4g}"),
        ("solver time (s)", f"{model.result_.wall_time:.2f}"),
        ("total time (s)", f"{time.perf_counter() - start:.2f}"),
        ("stop", stop_label(model.result_)),
        ("written", str(args.output)),
    ]))
    return 0
