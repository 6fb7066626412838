"""Benchmark runs that each take minutes: every run in a fresh process (its peak memory is
its own), kept on disk by its settings so a stopped section can continue.

A run's measurements are written to ``bench/results/<section>/<run>.json`` beside the
settings that produced them (they are the raw numbers behind ``docs/benchmarks.md`` and are
committed with it). With ``LRKIT_BENCH_RESUME=1`` a rerun takes the kept measurements whose
settings match and measures the rest; without it every run is measured afresh.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from queue import Empty

ROOT = Path("bench/results")


def in_process(target, *args):
    """``target(*args, queue)`` in a fresh process; what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__}{args} failed (exit code "
                                   f"{process.exitcode})") from None
    process.join()
    return result


def kept_run(section, run, settings, target, *args):
    """``in_process(target, *args)``, or the measurements kept for ``section``/``run`` when
    resuming and they were taken with these ``settings`` (a JSON-able dict)."""
    return kept(section, run, settings, lambda: in_process(target, *args))


def kept(section, run, settings, measure):
    """``measure()`` (JSON-able measurements), kept as :func:`kept_run` keeps them."""
    path = ROOT / section / (run.translate(str.maketrans(" :,()/", "______")) + ".json")
    if os.environ.get("LRKIT_BENCH_RESUME") and path.exists():
        stored = json.loads(path.read_text())
        if stored.get("settings") == settings:
            return stored["result"]
    result = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps({"settings": settings, "result": result}))
    partial.replace(path)
    return result
