"""Timing shared by the benchmark sections."""

from __future__ import annotations

import time


def best_time(fn, repeat=5):
    """The fastest of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
