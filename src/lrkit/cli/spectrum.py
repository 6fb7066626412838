"""``lrkit spectrum``: spectral diagnostics of every matrix in a file."""

from __future__ import annotations

from rich.table import Table

import lrkit
from lrkit.cli.console import add_verb, check_plot_path, console, positive_int_arg, task_progress
from lrkit.io import load_matrices
from lrkit.spectral.powerlaw import XMIN_RULES

#: Matrices with a side shorter than this have too few eigenvalues for a tail fit.
MIN_SIDE = 12


def register(sub):
    parser = add_verb(sub, "spectrum", "spectral diagnostics of every matrix in a file")
    parser.add_argument("input", help=".npy, .npz or .safetensors file of matrices")
    parser.add_argument("--match", help="only matrices whose name contains this text")
    parser.add_argument("--plot", metavar="OUT.png", help="draw ESDs with power-law and MP fits")
    parser.add_argument("--max-plots", type=positive_int_arg, default=12,
                        help="how many matrices the plot shows")
    parser.add_argument("--xmin-rule", choices=list(XMIN_RULES), default="ks",
                        help="power-law tail start: KS search (WeightWatcher's rule), near the "
                        "histogram peak, or the median eigenvalue")
    parser.set_defaults(func=run)


def run(args):
    if args.plot:
        check_plot_path(args.plot, inputs=[args.input])
    matrices = load_matrices(args.input)
    if args.match:
        matrices = {k: v for k, v in matrices.items() if args.match in k}
        if not matrices:
            raise ValueError(f"no matrix name contains {args.match!r}")
    reports = {}
    with task_progress() as progress:
        task = progress.add_task("spectra", total=len(matrices))
        for name, W in matrices.items():
            if min(W.shape) >= MIN_SIDE:
                reports[name] = lrkit.spectral.analyze(W, xmin_rule=args.xmin_rule)
            progress.update(task, advance=1)
    console.print(spectrum_table(reports, f"lrkit spectrum: {args.input}"))
    skipped = len(matrices) - len(reports)
    if skipped:
        console.print(f"{skipped} matrix(es) with a side below {MIN_SIDE} skipped")
    if args.plot:
        from lrkit.plotting import plot_esd

        shown = dict(list(reports.items())[: args.max_plots])
        plot_esd(shown, args.plot, title=str(args.input))
        console.print(f"ESD plot of {len(shown)} matrix(es) saved to {args.plot}")
    return 0


def spectrum_table(reports, title):
    """One row of diagnostics per :class:`~lrkit.spectral.SpectralReport`."""
    table = Table(title=title)
    columns = ("matrix", "shape", "alpha", "FARMS alpha", "stable rank", "eff. rank",
               "entropy", "MP outliers")
    for column in columns:
        if column == "matrix":  # full names, folded rather than cut, on any width
            table.add_column(column, overflow="fold", min_width=24)
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for name, r in reports.items():
        table.add_row(name, f"{r.shape[0]}x{r.shape[1]}", f"{r.alpha:.2f}",
                      f"{r.farms_alpha:.2f}", f"{r.stable_rank:.1f}",
                      f"{r.effective_rank:.1f}", f"{r.entropy:.3f}", str(r.n_outliers))
    return table
