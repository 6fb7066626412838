"""Progress shown by default from Python on a terminal (rich, on stderr), as the CLI does:
``progress=True`` (the default of long calls) shows bars when stderr is a terminal and
nothing otherwise, ``False`` never, a callable receives the reports itself."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def stage_bars(progress, title="working"):
    """A ``report(stage, done, total)`` callable (one bar per stage), ``progress`` itself
    when it is callable, or ``None`` when nothing is to be shown."""
    if callable(progress):
        yield progress
        return
    if not progress or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(f"{title}: {{task.description}}"), BarColumn(),
                  MofNCompleteColumn(), console=Console(stderr=True), transient=True) as bars:
        tasks = {}

        def report(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield report
