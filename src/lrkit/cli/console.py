"""What every verb shares: the console, progress bars, tables and argument checks."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import warnings

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import lrkit
from lrkit._extras import require
from lrkit.io import check_writable

console = Console(width=None if sys.stdout.isatty() else 120)

PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def stop_label(result):
    """A one-word summary of why a solver stopped, for tables."""
    return str(result.status)


class LineProgress:
    """Progress as plain lines on stderr, for logs and pipes (where a bar would print
    nothing until the end): a line when a task starts, at every tenth of it, and at its end.
    Same calls as ``rich.progress.Progress``."""

    def __init__(self, unit=""):
        self.unit, self.tasks, self.start = unit, {}, time.perf_counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description, total=None, **fields):
        task = len(self.tasks)
        self.tasks[task] = {"description": description, "total": total, "completed": 0,
                            "shown": -1, "fields": fields}
        self._show(task)
        return task

    def update(self, task, advance=None, completed=None, total=None, description=None,
               **fields):
        state = self.tasks[task]
        if total is not None:
            state["total"] = total
        if description is not None:
            state["description"] = description
        state["completed"] = completed if completed is not None else (
            state["completed"] + (advance or 0))
        state["fields"].update(fields)
        self._show(task)

    def remove_task(self, task):
        self.tasks.pop(task, None)

    def _show(self, task):
        state = self.tasks[task]
        total, done = state["total"], state["completed"]
        tenth = int(10 * done / total) if total else done
        if tenth == state["shown"] and not (total and done >= total):
            return
        state["shown"] = tenth
        count = f"{done}/{total}" if total else str(done)
        extra = "".join(f" {k} {v}" for k, v in state["fields"].items())
        print(f"{state['description']}: {count}{self.unit}{extra} "
              f"[{time.perf_counter() - self.start:.1f} s]", file=sys.stderr, flush=True)


def solver_progress():
    """Iterations done and the current relative error: a bar on a terminal, else lines."""
    if not console.is_terminal:
        return LineProgress(" it")
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
    """A job of counted steps (batches, layers, matrices, sweep points), one task per
    stage: a bar on a terminal, plain lines otherwise."""
    if not console.is_terminal:
        return LineProgress()
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


#: A run on a generated problem "recovered" the truth when its relative error is below this.
RECOVERED = 1e-3


def results_table(rows, title):
    """One row per solver run on a problem with known truth: ``(problem, method, rank,
    result)``. ``stop`` says why the solver stopped (its own criterion); ``recovered``
    whether it found the truth (relative error below :data:`RECOVERED`): a least-squares
    fit can converge, to the wrong matrix, when outliers corrupt the data."""
    table = Table(title=title)
    for column in ("problem", "method", "rank", "iterations", "rel. error", "time (s)", "stop",
                   "recovered"):
        left = column in ("problem", "method", "stop", "recovered")
        table.add_column(column, justify="left" if left else "right")
    for problem, method, rank, res in rows:
        recovered = res.rel_error < RECOVERED
        table.add_row(
            problem, method, str(rank), str(res.n_iter), f"{res.rel_error:.2e}",
            f"{res.wall_time:.2f}", stop_label(res), "yes" if recovered else "no",
            style=None if recovered else "yellow",
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


def check_plot_path(path, inputs=(), flag="--plot"):
    """Refuse, before any work, a plot file that cannot or must not be written (see
    :func:`lrkit.io.check_writable`), or a missing matplotlib."""
    check_writable(path, PLOT_SUFFIXES, inputs, what=flag)
    require("matplotlib", "plot", f"{flag}")


def rank_or_auto_arg(text):
    """``"auto"`` or a positive int (an argparse ``type=``)."""
    return text if text == "auto" else positive_int_arg(text)


def number_arg(kind, low, low_open=False, high=None, high_open=False):
    """An argparse ``type=`` that parses ``kind`` and checks the interval, so a bad value
    is a usage error naming the flag (``argument --rank: must be an integer >= 1; got 0``)."""
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    word = "an integer" if kind is int else "a number"
    wanted = (f"{word} in {left}{low:g}, {high:g}{right}" if high is not None
              else f"{word} {'>' if low_open else '>='} {low:g}")

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}; got {text!r}") from None
        below = value <= low if low_open else value < low
        above = high is not None and (value >= high if high_open else value > high)
        if below or above or value != value:  # NaN fails every comparison
            raise argparse.ArgumentTypeError(f"must be {wanted}; got {text}")
        return value

    parse.__name__ = f"{kind.__name__} {wanted}"
    return parse


positive_int_arg = number_arg(int, 1)
nonnegative_int_arg = number_arg(int, 0)
positive_float_arg = number_arg(float, 0.0, low_open=True)
nonnegative_float_arg = number_arg(float, 0.0)
fraction_arg = number_arg(float, 0.0, low_open=True, high=1.0, high_open=True)
#: A share in [0, 1): outlier fractions, gain spreads.
share_arg = number_arg(float, 0.0, high=1.0, high_open=True)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` with each option's default, once: not where the help text already says
    its default, nor for a default of None or a flag's False."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default in (None, False, argparse.SUPPRESS)
                or action.option_strings == [] and action.nargs in ("?", "*")):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class RegistryChoices:
    """The ``choices`` of an option read from a family that needs PyTorch to declare itself
    (``module.attribute``, any iterable of names), imported only when argparse checks a
    value or prints the verb's help: ``lrkit --help`` stays light, and the command line
    lists exactly what is registered. Without PyTorch the list is empty and every value
    passes, so the verb itself says which extra it needs."""

    def __init__(self, module, attribute, extra=()):
        self.module, self.attribute, self.extra = module, attribute, tuple(extra)

    def _names(self):
        try:
            names = getattr(importlib.import_module(self.module), self.attribute)
        except ImportError:
            return None
        return (*names, *self.extra)

    def __iter__(self):
        return iter(self._names() or ())

    def __contains__(self, value):
        names = self._names()
        return names is None or value in names


def add_verb(sub, name, help, extra=None):
    """A sub-parser whose ``--help`` shows every option's default once; ``extra`` names the
    optional dependencies the verb needs (``"nn"``), said in its one-line help."""
    if extra:
        help = f"{help} (needs lrkit[{extra}])"
    return sub.add_parser(name, help=help, description=help,
                          formatter_class=DefaultsHelpFormatter)


def add_solver_limits(parser, max_iter, what="the solver"):
    """``--max-iter``, ``--tol``, ``--seed`` and ``--plot`` of the verbs that run an iterative
    solver on a generated problem."""
    parser.add_argument("--max-iter", type=positive_int_arg, default=max_iter,
                        help=f"bound on the iterations of {what}")
    parser.add_argument("--tol", type=nonnegative_float_arg, default=1e-10,
                        help=f"stopping tolerance of {what}")
    add_seed(parser)
    parser.add_argument("--plot", metavar="OUT.png", help="save the error-vs-iteration curves")


def add_seed(parser):
    parser.add_argument("--seed", type=nonnegative_int_arg, default=0,
                        help="random seed: the same seed gives the same result")


def add_matrix_io(parser):
    """Positional input, ``-o``, ``--key``, ``--max-iter`` and ``--seed`` of file verbs."""
    parser.add_argument("input", help="matrix as .npy, .npz or .csv (NaN / empty = missing)")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (.npz, or .npy/.csv for one array); never an input")
    parser.add_argument("--key", help="array name inside an .npz input")
    parser.add_argument("--header", action="store_true", default=None,
                        help="the CSV's first row is a header (default: detected)")
    parser.add_argument("--max-iter", type=positive_int_arg, default=None,
                        help="bound on the solver's iterations (default: the method's)")
    add_seed(parser)
