"""The one timing helper the benchmark scripts share."""

from __future__ import annotations

import statistics
import time


def median_s(fn, repeat: int) -> float:
    """Median wall time of `repeat` calls of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
