"""What every verb shares: the console, progress bars, tables and argument checks."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import lrkit
from lrkit._extras import require

console = Console(width=None if sys.stdout.isatty() else 120)

PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def stop_label(result):
    """A one-word summary of why a solver stopped, for tables."""
    return str(result.status)


def solver_progress():
    """A bar for iterative solvers: iterations done and the current relative error."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} it"),
        TextColumn("err {task.fields[error]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def task_progress():
    """A bar for a job of counted steps (matrices, layers, sweep points)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def run_with_progress(progress, description, prob, rank, **kwargs):
    """``lrkit.recover`` with a progress bar fed by the solver's callback."""
    task = progress.add_task(description, total=kwargs.get("max_iter", 3000), error="-")

    def callback(info):
        if info.iteration % 25 == 0:
            progress.update(task, completed=info.iteration, error=f"{info.rel_error:.1e}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        result = lrkit.recover(
            prob.operator, prob.y, rank, truth=prob.truth, callback=callback, **kwargs
        )
    progress.remove_task(task)
    return result


def results_table(rows, title):
    """One row per solver run: ``(problem, method, rank, result)``."""
    table = Table(title=title)
    for column in ("problem", "method", "rank", "iterations", "rel. error", "time (s)", "stop"):
        left = column in ("problem", "method", "stop")
        table.add_column(column, justify="left" if left else "right")
    for problem, method, rank, res in rows:
        style = None if res.converged else "yellow"
        table.add_row(
            problem, method, str(rank), str(res.n_iter), f"{res.rel_error:.2e}",
            f"{res.wall_time:.2f}", stop_label(res), style=style,
        )
    return table


def summary_table(title, rows):
    """A two-column quantity/value table."""
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def check_plot_path(path, flag="--plot"):
    """Refuse, before any work, a plot name matplotlib cannot write, or a missing matplotlib."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"{flag} {path} must end in {', '.join(PLOT_SUFFIXES)}")
    require("matplotlib", "plot", f"{flag}")


def positive_int_or_auto(text, name):
    """``"auto"`` or a positive int parsed from ``text``; ``name`` is the flag."""
    if text == "auto":
        return text
    return positive_int(text, name)


def positive_int(text, name):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer; got {text!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return value


def add_seed(parser):
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def add_matrix_io(parser):
    """Positional input, ``-o``, ``--key``, ``--max-iter`` and ``--seed`` of file verbs."""
    parser.add_argument("input", help="matrix as .npy, .npz or .csv (NaN / empty = missing)")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (.npz, or .npy/.csv for one array)")
    parser.add_argument("--key", help="array name inside an .npz input")
    parser.add_argument("--max-iter", type=int, default=500)
    add_seed(parser)
