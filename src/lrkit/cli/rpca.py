"""``lrkit rpca``: split a matrix file into low-rank plus sparse parts."""

from __future__ import annotations

import warnings

import numpy as np

import lrkit
from lrkit.cli.console import (
    add_matrix_io,
    add_verb,
    console,
    positive_float_arg,
    positive_int_arg,
    stop_label,
    summary_table,
)
from lrkit.io import check_output, load_matrix, save_arrays
from lrkit.recovery import RPCA_METHODS

#: lrkit.rpca's own default bound.
RPCA_MAX_ITER = 500


def register(sub):
    parser = add_verb(sub, "rpca", "split a matrix file into low-rank plus sparse")
    add_matrix_io(parser)
    parser.add_argument("--method", choices=list(RPCA_METHODS), default="pcp",
                        help="principal component pursuit, or alternating projections")
    parser.add_argument("--rank", type=positive_int_arg, default=None,
                        help="rank of L (needed by altproj)")
    parser.add_argument("--lam", type=positive_float_arg, default=None,
                        help="ℓ1 weight of pcp (default: 1/√max(n1, n2))")
    parser.add_argument("--tol", type=positive_float_arg, default=1e-7,
                        help="stopping tolerance")
    parser.set_defaults(func=run)


def run(args):
    if args.method == "altproj" and args.rank is None:
        raise ValueError("--method altproj needs --rank; use --method pcp if the rank is unknown")
    check_output(args.output, several=True, inputs=[args.input])
    M = load_matrix(args.input, args.key, args.header)
    mask = ~np.isnan(M)
    with console.status(f"robust PCA of a {M.shape[0]}x{M.shape[1]} matrix ({args.method})"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
            dec = lrkit.rpca(M, method=args.method, rank=args.rank, lam=args.lam,
                             mask=None if mask.all() else mask, tol=args.tol,
                             max_iter=args.max_iter or RPCA_MAX_ITER, seed=args.seed)
    save_arrays(args.output, low_rank=dec.low_rank, sparse=dec.sparse)
    console.print(summary_table("lrkit rpca", [
        ("shape", f"{M.shape[0]} x {M.shape[1]}"),
        ("observed", f"{mask.mean():.1%}"),
        ("rank of L", str(dec.factors[0].shape[1])),
        ("nonzeros of S", f"{np.count_nonzero(dec.sparse) / dec.sparse.size:.2%}"),
        ("iterations", str(dec.n_iter)),
        ("time (s)", f"{dec.wall_time:.2f}"),
        ("stop", stop_label(dec)),
        ("written", str(args.output)),
    ]))
    return 0 if dec.converged else 1
