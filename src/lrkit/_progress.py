"""Progress shown by default from Python on a terminal (rich, on stderr), as the CLI does:
``progress=True`` (the default of long calls) shows bars when stderr is a terminal and
nothing otherwise, ``False`` never, a callable receives the reports itself."""

from __future__ import annotations

import contextlib
import sys


def wants_bars(progress) -> bool:
    """Whether ``progress`` asks for bars drawn here: true, not a callable, on a terminal."""
    return bool(progress) and not callable(progress) and sys.stderr.isatty()


def stage_reporter(bars):
    """``report(stage, done, total)`` showing one task per stage on ``bars`` (anything with
    rich's ``add_task`` / ``update``: a rich ``Progress``, the CLI's line progress)."""
    tasks = {}

    def report(stage, done, total):
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    return report


@contextlib.contextmanager
def stage_bars(progress, title="working"):
    """A ``report(stage, done, total)`` callable (one bar per stage), ``progress`` itself
    when it is callable, or ``None`` when nothing is to be shown."""
    if not wants_bars(progress):
        yield progress if callable(progress) else None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(f"{title}: {{task.description}}"), BarColumn(),
                  MofNCompleteColumn(), console=Console(stderr=True), transient=True) as bars:
        yield stage_reporter(bars)


def step_bar(progress, total, label):
    """``(report(step, total, loss), close())`` for a training run's ``progress`` option:
    one bar with the loss on a terminal, the callable itself, or nothing."""
    if callable(progress):
        return progress, lambda: None
    if not wants_bars(progress):
        return (lambda *_: None), lambda: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(),
                   transient=True)
    task = bar.add_task(label, total=total, loss=float("nan"))
    bar.start()
    return (lambda step, _, loss: bar.update(task, completed=step, loss=loss)), bar.stop
