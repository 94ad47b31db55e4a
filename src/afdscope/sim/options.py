"""What a simulation run adds to a deployment: how many steps, which random stream, which noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from afdscope.errors import AfdscopeError

RoutingKind = Literal["balanced", "power-law"]


@dataclass(frozen=True)
class SimOptions:
    """Defaults (no jitter, no spikes, balanced routing) simulate the closed form's own scenario."""

    steps: int = 20
    seed: int = 0
    # Log-normal jitter, mean 1, on every operator of every rank; a stage waits for its slowest rank.
    jitter_cv: float = 0.0
    # Each rank's operator independently stalls with this probability, taking `spike_size`× as long.
    spike_prob: float = 0.0
    spike_size: float = 10.0
    # Routing drawn per step, MoE layer and micro-batch: the busiest expert GPU's load over the mean.
    routing: RoutingKind = "balanced"
    alpha: float = 1.01  # power-law expert popularity p_i ∝ i^-alpha (1.01 fits DeepSeek-V3)
    trace_step: int = 0  # the step kept for `write_trace`

    def __post_init__(self):
        checks = (
            (self.steps >= 1, f"steps = {self.steps}: simulate at least 1 step"),
            (math.isfinite(self.jitter_cv) and self.jitter_cv >= 0, f"jitter CV {self.jitter_cv}: give ≥ 0"),
            (0 <= self.spike_prob <= 1, f"spike probability {self.spike_prob}: give a number in [0, 1]"),
            (
                math.isfinite(self.spike_size) and self.spike_size >= 1,
                f"spike size {self.spike_size}: a stall multiplies the time by ≥ 1",
            ),
            (self.routing in ("balanced", "power-law"), f"routing '{self.routing}': balanced or power-law"),
            (math.isfinite(self.alpha) and self.alpha >= 0, f"alpha {self.alpha}: give ≥ 0"),
            (
                0 <= self.trace_step < self.steps,
                f"trace step {self.trace_step}: pick one of the {self.steps} simulated steps",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise AfdscopeError(message)


DEFAULT_SIM = SimOptions()
