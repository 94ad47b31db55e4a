"""The event engine: micro-batches walk a fixed sequence of operators over shared FIFO resources.

Each decode step starts m micro-batch processes together; a micro-batch runs its operators in order,
each on one resource (attention GPUs, a link direction, FFN GPUs…). A resource serves one operator at
a time, first come first served. When every micro-batch has finished its last layer the step's serial
work runs (LM head, MTP drafts, scheduler), then the next step starts from an empty pipeline.

A resource is a single FIFO server, so it needs no request/release events of its own: an operator
arriving at `now` starts at max(now, the end of the operator queued before it). SimPy's event queue
hands arrivals to a resource in time order, which is all FIFO service needs; one timeout per operator
is the only event, which keeps a 61-layer, 100-step run well under a second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.core import NORMAL

from afdscope.sim.plan import Plan


@dataclass(frozen=True)
class Run:
    step_s: np.ndarray  # (steps,)
    busy_s: np.ndarray  # (resources,) over all steps
    # Σ over steps of each resource's active window: first operator start to last operator end.
    window_s: np.ndarray
    events: int  # SimPy events processed
    wall_s: float
    trace: tuple  # (resource name, label, micro-batch, start s, end s) of the traced step


class _CountingEnvironment(simpy.Environment):
    """Counts the events it schedules: timeouts, process starts and ends, step barriers."""

    def __init__(self):
        super().__init__()
        self.events = 0

    def schedule(self, event, priority=NORMAL, delay=0):
        self.events += 1
        super().schedule(event, priority, delay)


def run(plan: Plan, trace_step: int = 0) -> Run:
    t0 = time.perf_counter()
    steps, m, _ = plan.durations.shape
    n_res = len(plan.resources)
    env = _CountingEnvironment()
    free = [0.0] * n_res  # when each resource finishes the last operator queued on it
    busy = [0.0] * n_res
    first = [math.inf] * n_res  # earliest start in the current step
    window = [0.0] * n_res
    step_s = np.zeros(steps)
    trace: list[tuple] = []
    ops, serial = plan.ops, plan.serial_s.tolist()

    per_mb = bool(ops) and isinstance(ops[0], tuple)  # one operator sequence per micro-batch

    def micro_batch(j, durations, origin, traced):
        # Each operator queues on its resource (first come, first served); the traced step also keeps
        # every operator's interval (one step only: it costs time).
        for r, d, label in zip(ops[j] if per_mb else ops, durations, plan.labels, strict=True):
            now = env.now
            start = free[r] if free[r] > now else now
            end = start + d
            free[r] = end
            busy[r] += d
            if start < first[r]:
                first[r] = start
            if traced:
                trace.append((plan.resources[r], label, j, start - origin, end - origin))
            yield env.timeout(end - now)

    def driver():
        for s in range(steps):
            origin = env.now
            first[:] = [math.inf] * n_res
            rows = plan.durations[s].tolist()
            traced = s == trace_step
            yield env.all_of([env.process(micro_batch(j, rows[j], origin, traced)) for j in range(m)])
            for r in range(n_res):
                if first[r] < math.inf:
                    window[r] += free[r] - first[r]
            if s == trace_step:
                trace.append(
                    ("serial", "step serial work", -1, env.now - origin, env.now - origin + serial[s])
                )
            yield env.timeout(serial[s])
            step_s[s] = env.now - origin

    env.process(driver())
    env.run()
    return Run(
        step_s=step_s,
        busy_s=np.array(busy),
        window_s=np.array(window),
        events=env.events,
        wall_s=time.perf_counter() - t0,
        trace=tuple(trace),
    )
