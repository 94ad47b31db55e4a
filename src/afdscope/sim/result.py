"""What a simulation returns: per-step TPOT, throughput, bubbles, and the closed form beside them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from afdscope.deploy.result import DeploymentResult
from afdscope.sim.engine import Run
from afdscope.sim.options import SimOptions


@dataclass(frozen=True)
class SimResult:
    mode: str
    batch_per_gpu: int
    tokens_per_step: float
    step_ms: tuple[float, ...]  # one per simulated step
    tpot_ms: tuple[float, ...]  # step time / tokens per step
    tpot_ms_p50: float
    tpot_ms_p99: float
    tpot_ms_mean: float
    tokens_per_s_per_gpu: float  # over every GPU of the deployment, all steps
    bubble_fraction: dict  # role → idle share of its resources inside each step's active window
    closed_form: dict  # the evaluator's DeploymentResult for the same deployment (balanced routing)
    relative_gap: float  # simulated / closed-form throughput - 1
    events: int
    wall_s: float  # the whole call: closed form, routing draws, noise draws and the event loop
    engine_s: float  # the event loop alone
    options: dict  # the SimOptions of the run
    trace: tuple = field(default=(), repr=False)  # (resource, label, micro-batch, start s, end s)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "trace"}
        d["step_ms"], d["tpot_ms"] = list(self.step_ms), list(self.tpot_ms)
        return d

    def rows(self) -> list[dict]:
        """Simulated beside closed form, one quantity a row (table and CSV output)."""
        cf = self.closed_form
        rows = [
            ("tokens/s per GPU", self.tokens_per_s_per_gpu, cf["tokens_per_s_per_gpu"]),
            ("TPOT p50 (ms)", self.tpot_ms_p50, cf["tpot_ms"]),
            ("TPOT p99 (ms)", self.tpot_ms_p99, cf["tpot_ms"]),
            ("TPOT mean (ms)", self.tpot_ms_mean, cf["tpot_ms"]),
            ("batch per GPU", self.batch_per_gpu, cf["batch_per_gpu"]),
        ]
        # Rounded so float dust (1e-14) reads as the 0 it is; JSON keeps the raw values.
        bubbles = self.bubble_fraction.items()
        rows += [(f"bubble: {role}", round(share, 4) + 0.0, None) for role, share in bubbles]
        rows += [("throughput gap vs closed form (%)", round(self.relative_gap * 100, 3) + 0.0, None)]
        return [{"quantity": q, "simulated": s, "closed_form": c} for q, s, c in rows]


def summarise(
    mode: str,
    run: Run,
    closed: DeploymentResult,
    attention_gpus: int,
    tokens_per_step: float,
    roles: dict[str, list[int]],
    sim: SimOptions,
    wall_s: float,
) -> SimResult:
    """`roles`: which resources of the run make up each role (the two link directions are one link)."""
    step_ms = run.step_s * 1e3
    tpot = step_ms / tokens_per_step
    tokens = closed.batch_per_gpu * attention_gpus * tokens_per_step * len(step_ms)
    tps = float(tokens / run.step_s.sum() / closed.total_gpus)
    bubbles = {}
    for role, idx in roles.items():
        window = float(run.window_s[idx].sum())
        idle = float(np.maximum(run.window_s[idx] - run.busy_s[idx], 0.0).sum())
        bubbles[role] = idle / window if window > 0 else 0.0
    return SimResult(
        mode=mode,
        batch_per_gpu=closed.batch_per_gpu,
        tokens_per_step=tokens_per_step,
        step_ms=tuple(step_ms.tolist()),
        tpot_ms=tuple(tpot.tolist()),
        tpot_ms_p50=float(np.percentile(tpot, 50)),
        tpot_ms_p99=float(np.percentile(tpot, 99)),
        tpot_ms_mean=float(tpot.mean()),
        tokens_per_s_per_gpu=tps,
        bubble_fraction=bubbles,
        closed_form=closed.as_dict(),
        relative_gap=tps / closed.tokens_per_s_per_gpu - 1,
        events=run.events,
        wall_s=wall_s,
        engine_s=run.wall_s,
        options=asdict(sim),
        trace=run.trace,
    )
