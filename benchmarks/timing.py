"""What the benchmark scripts share: the timing helper and the figure they report."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One measured figure: `key` names it in results.json and in benchmarks/targets.py."""

    key: str
    name: str
    value: float
    unit: str


def median_s(fn, repeat: int) -> float:
    """Median wall time of `repeat` calls of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
