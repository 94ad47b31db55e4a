"""Transitional adapter: the old `DeployOptions` bundle (calibration + deployment structure + routing
skew in one value). New code uses `Calibration` (deploy/calibration.py), `EpDeployment` /
`AfdDeployment` (specs/deployment.py) and `RoutingSkew` (specs/skew.py); `split` maps one onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.ops.attention import DEFAULT_ATTENTION, IDEAL_ATTENTION, AttentionCalibration
from afdscope.ops.comm import DEFAULT_COMM, IDEAL_COMM, CommCalibration
from afdscope.ops.experts import DEFAULT_GEMM, IDEAL_GEMM, GemmCalibration
from afdscope.ops.memory import MemoryOptions
from afdscope.ops.small_ops import DEFAULT_SMALL_OPS, SmallOpsCalibration

Overlap = Literal["2bo", "sbo", "nbo"]
SharedOn = Literal["attention", "ffn"]


@dataclass(frozen=True)
class DeployOptions:
    attention: AttentionCalibration = DEFAULT_ATTENTION
    gemm: GemmCalibration = DEFAULT_GEMM
    comm: CommCalibration = DEFAULT_COMM
    memory: MemoryOptions = MemoryOptions()
    small_ops: SmallOpsCalibration = DEFAULT_SMALL_OPS
    comm_stream_share: tuple[float, float] = (0.42, 0.17)
    # AFD M2N: how many FFN nodes one token reaches (spec §10.2).
    dedup: Literal["paper", "hypergeometric"] = "hypergeometric"
    # Per-step work outside the layer pipeline that no operator model covers: CUDA-graph replay,
    # scheduler, sampling and host sync. ≈ 2 ms in SGLang/vLLM decode traces; not fitted to throughput.
    step_overhead_s: float = 2e-3
    # Pipeline fill and drain once per step: AFD's first micro-batch enters an empty pipeline and the
    # last leaves one (MegaScale-Infer); EP 2BO's last block overlaps nothing.
    pipeline_fill: bool = True
    # Large-scale EP overlap scheme (paper Table 2): two-batch, single-batch (comm behind the shared
    # expert) or none.
    ep_overlap: Overlap = "2bo"
    shared_experts_on: SharedOn = "attention"  # AFD: which side runs the shared experts
    # LM head, embedding and the MTP module are computed (True) or left inside step_overhead_s (False).
    model_head_and_mtp: bool = True
    # Routing skew: the busiest expert GPU's token-expert assignments and received bytes over the mean
    # (max/mean = 1/σ). 1 is balanced routing; afdscope.routing derives them from routing statistics.
    expert_load_factor: float | np.ndarray = 1.0
    comm_load_factor: float | np.ndarray = 1.0
    balanced: bool = False  # no modelled skew when no factors are given (the ideal)
    # EPLB replica slots: None takes memory.redundant_experts when > 0, else the usual (specs.deployment).
    redundant_experts: int | None = None

    @property
    def eplb_slots(self) -> int | None:
        if self.redundant_experts is not None:
            return self.redundant_experts
        return self.memory.redundant_experts or None

    @property
    def calibration(self):
        from afdscope.deploy.calibration import Calibration

        return Calibration(
            name="paper" if self.dedup == "paper" and not self.pipeline_fill else "default",
            attention=self.attention,
            gemm=self.gemm,
            comm=self.comm,
            memory=self.memory,
            small_ops=self.small_ops,
            comm_stream_share=self.comm_stream_share,
            dedup=self.dedup,
            step_overhead_s=self.step_overhead_s,
            pipeline_fill=self.pipeline_fill,
            model_head_and_mtp=self.model_head_and_mtp,
            default_skew="balanced" if self.balanced or self.dedup == "paper" else "modelled",
        )

    @property
    def skew(self):
        """Given load factors as a RoutingSkew; None (the calibration's default skew) when none is given."""
        from afdscope.specs.skew import RoutingSkew

        e, c = np.asarray(self.expert_load_factor), np.asarray(self.comm_load_factor)
        if e.ndim == 0 and c.ndim == 0 and float(e) == 1.0 and float(c) == 1.0:
            return None
        return RoutingSkew(expert_load_factor=self.expert_load_factor, comm_load_factor=self.comm_load_factor)

    def __post_init__(self):
        # Scalars, or arrays (one entry per routing draw, broadcast against the evaluator's sweep).
        for name in ("expert_load_factor", "comm_load_factor"):
            value = np.asarray(getattr(self, name), dtype=float)
            if not (np.all(value >= 1.0) and np.all(np.isfinite(value))):
                raise AfdscopeError(
                    f"{name} = {getattr(self, name)!r}: a max/mean load is a finite number ≥ 1"
                )


DEFAULT_OPTIONS = DeployOptions()

PRESETS: dict[str, DeployOptions] = {
    "default": DEFAULT_OPTIONS,
    "paper": DeployOptions(
        attention=IDEAL_ATTENTION,
        gemm=IDEAL_GEMM,
        comm=IDEAL_COMM,
        small_ops=SmallOpsCalibration(enabled=False),
        comm_stream_share=(0.0, 0.0),
        dedup="paper",
        step_overhead_s=15e-3,
        pipeline_fill=False,
        model_head_and_mtp=False,
    ),
}


def deploy_preset(name: str = "default", **overrides) -> DeployOptions:
    try:
        base = PRESETS[name.lower()]
    except KeyError:
        raise AfdscopeError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}") from None
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
