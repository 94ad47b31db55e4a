"""Speed of the discrete-event simulator: a 61-layer DeepSeek-V3 AFD deployment (3 micro-batches) and
EP with two-batch overlap, 100 decode steps each. Prints events per second; asserts nothing.

Target: ≥ 200,000 events/s and the 100-step AFD run under 5 s.
"""

from __future__ import annotations

import statistics

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.sim import SimOptions, simulate_afd, simulate_ep
from afdscope.specs.scenario import Scenario

STEPS = 100


def _median_run(fn, repeat: int = 5):
    """Median wall time of `fn` (the simulator's own clocks: the whole call, and its event loop alone)."""
    results = [fn() for _ in range(repeat)]
    wall = statistics.median(r.wall_s for r in results)
    return wall, statistics.median(r.engine_s for r in results), results[0].events


def sim_rows() -> list[tuple[str, float]]:
    model, hw, scenario = load_model("deepseek-v3"), load_hardware("h800"), Scenario(context_tokens=4096)
    quiet = SimOptions(steps=STEPS)
    noisy = SimOptions(steps=STEPS, seed=1, jitter_cv=0.05, spike_prob=1e-4, spike_size=5)
    skewed = SimOptions(steps=STEPS, seed=1, routing="power-law", alpha=1.0)
    cases = [
        (
            f"simulate afd: V3 61 layers, 3 micro-batches, {STEPS} steps",
            lambda: simulate_afd(model, hw, hw, scenario, 32, 16, 3, batch_per_gpu=96, sim=quiet),
        ),
        (
            f"simulate afd: the same with jitter 0.05 and spikes, {STEPS} steps",
            lambda: simulate_afd(model, hw, hw, scenario, 32, 16, 3, batch_per_gpu=96, sim=noisy),
        ),
        (
            f"simulate afd: the same with power-law routing (alpha 1), {STEPS} steps",
            lambda: simulate_afd(model, hw, hw, scenario, 32, 16, 3, batch_per_gpu=96, sim=skewed),
        ),
        (
            f"simulate ep: V3 2BO on 144 GPUs, {STEPS} steps",
            lambda: simulate_ep(model, hw, scenario, 144, batch_per_gpu=128, sim=quiet),
        ),
    ]
    rows = []
    for label, fn in cases:
        seconds, engine, events = _median_run(fn)
        print(
            f"  ({label.split(':')[0]}: {events:,} events, {events / engine:,.0f} events/s in the event loop "
            f"({engine:.3f} s), {events / seconds:,.0f} events/s over the whole call ({seconds:.3f} s))"
        )
        rows.append((label, seconds))
    return rows


if __name__ == "__main__":
    for name, t in sim_rows():
        print(f"  {name:<72}  {t * 1e3:9.3f} ms")
