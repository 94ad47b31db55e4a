"""Speed of the discrete-event simulator: a 61-layer DeepSeek-V3 AFD deployment (3 micro-batches) and
EP with two-batch overlap, 100 decode steps each. The target (benchmarks/targets.py, `sim-rate`) bounds the
event-loop rate of the slowest case; the whole-call times are recorded untargeted.
"""

from __future__ import annotations

import statistics

from timing import Figure

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.sim import SimOptions, simulate_afd, simulate_ep
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Scenario

STEPS = 100
KEYS = ("sim-afd", "sim-afd-noisy", "sim-afd-power-law", "sim-ep", "sim-rate")


def _median_run(fn, repeat: int = 5):
    """Median wall time of `fn` (the simulator's own clocks: the whole call, and its event loop alone)."""
    results = [fn() for _ in range(repeat)]
    wall = statistics.median(r.wall_s for r in results)
    return wall, statistics.median(r.engine_s for r in results), results[0].events


def sim_rows() -> list[Figure]:
    model, hw, scenario = load_model("deepseek-v3"), load_hardware("h800"), Scenario(context_tokens=4096)
    quiet = SimOptions(steps=STEPS)
    noisy = SimOptions(steps=STEPS, seed=1, jitter_cv=0.05, spike_prob=1e-4, spike_size=5)
    skewed = SimOptions(steps=STEPS, seed=1, routing="power-law", alpha=1.0)
    afd = AfdDeployment(
        attention_hardware=hw, ffn_hardware=hw, attention_gpus=32, ffn_gpus=16, micro_batches=3
    )
    ep = EpDeployment(hardware=hw, gpus=144)
    cases = [
        (
            f"simulate afd: V3 61 layers, 3 micro-batches, {STEPS} steps",
            lambda: simulate_afd(model, afd, scenario, batch_per_gpu=96, sim=quiet),
        ),
        (
            f"simulate afd: the same with jitter 0.05 and spikes, {STEPS} steps",
            lambda: simulate_afd(model, afd, scenario, batch_per_gpu=96, sim=noisy),
        ),
        (
            f"simulate afd: the same with power-law routing (alpha 1), {STEPS} steps",
            lambda: simulate_afd(model, afd, scenario, batch_per_gpu=96, sim=skewed),
        ),
        (
            f"simulate ep: V3 2BO on 144 GPUs, {STEPS} steps",
            lambda: simulate_ep(model, ep, scenario, batch_per_gpu=128, sim=quiet),
        ),
    ]
    figures, rates = [], []
    for key, (label, fn) in zip(KEYS, cases, strict=False):
        seconds, engine, events = _median_run(fn)
        rates.append(events / engine)
        print(
            f"  ({label.split(':')[0]}: {events:,} events, {events / engine:,.0f} events/s in the event loop "
            f"({engine:.3f} s), {events / seconds:,.0f} events/s over the whole call ({seconds:.3f} s))"
        )
        figures.append(Figure(key, f"{label} (whole call)", seconds * 1e3, "ms"))
    figures.append(
        Figure("sim-rate", "simulator event loop, slowest of the cases above", min(rates), "events/s")
    )
    return figures


if __name__ == "__main__":
    for f in sim_rows():
        print(f"  {f.name:<80}  {f.value:12,.3f} {f.unit}")
