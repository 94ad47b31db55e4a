"""How a deployment is modelled, apart from what is deployed: operator calibrations and modelling
choices, bundled as named calibrations.

`default` uses the calibrated operator models; `paper` reproduces arXiv 2602.09721's accounting (ideal
roofline kernels, 1 B + 2 B per element on a half-duplex link, max(1, K/N_F) node dedup, a 15 ms step gap,
no pipeline fill) so an AFD evaluation under it matches the paper's FFN-side HFU.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, InstanceOf

from afdscope.errors import AfdscopeError
from afdscope.ops.attention import DEFAULT_ATTENTION, IDEAL_ATTENTION, AttentionCalibration
from afdscope.ops.comm import DEFAULT_COMM, IDEAL_COMM, CommCalibration
from afdscope.ops.experts import DEFAULT_GEMM, IDEAL_GEMM, GemmCalibration
from afdscope.ops.memory import MemoryOptions
from afdscope.ops.small_ops import DEFAULT_SMALL_OPS, SmallOpsCalibration
from afdscope.specs.validated import Validated


class Calibration(Validated):
    name: str = "default"
    attention: InstanceOf[AttentionCalibration] = DEFAULT_ATTENTION
    gemm: InstanceOf[GemmCalibration] = DEFAULT_GEMM
    comm: InstanceOf[CommCalibration] = DEFAULT_COMM
    small_ops: InstanceOf[SmallOpsCalibration] = DEFAULT_SMALL_OPS
    memory: InstanceOf[MemoryOptions] = MemoryOptions()
    # Share of a dispatch's / combine's transfer time its kernels hold the compute stream under 2BO
    # (DeepEP low-latency: sending, receiving, packing). From published per-layer kernel traces:
    # SGLang H100 EP72 (165 / 2·200 = 0.41, 175 / 2·370 = 0.24) and DeepSeek H800 EP128 (85 / 192 = 0.44,
    # 37 / 369 = 0.10; transfers from DeepEP's README table); the means 0.42 / 0.17 are shipped.
    comm_stream_share: tuple[float, float] = (0.42, 0.17)
    # AFD M2N: how many FFN nodes one token reaches (spec §10.2).
    dedup: Literal["paper", "hypergeometric"] = "hypergeometric"
    # Per-step work outside the layer pipeline that no operator model covers: CUDA-graph replay,
    # scheduler, sampling and host sync. ≈ 2 ms in SGLang/vLLM decode traces; not fitted to throughput.
    step_overhead_s: float = Field(2e-3, ge=0)
    # Pipeline fill and drain once per step: AFD's first micro-batch enters an empty pipeline and the
    # last leaves one (MegaScale-Infer); EP 2BO's last block overlaps nothing.
    pipeline_fill: bool = True
    # LM head, embedding and the MTP module are computed (True) or left inside step_overhead_s (False).
    model_head_and_mtp: bool = True
    # Routing skew when a call gives none: afdscope's imbalance model (routing/defaults.py) or the
    # balanced ideal (the paper's accounting; `--balanced`).
    default_skew: Literal["modelled", "balanced"] = "modelled"


DEFAULT_CALIBRATION = Calibration()

CALIBRATIONS: dict[str, Calibration] = {
    "default": DEFAULT_CALIBRATION,
    "paper": Calibration(
        name="paper",
        attention=IDEAL_ATTENTION,
        gemm=IDEAL_GEMM,
        comm=IDEAL_COMM,
        small_ops=SmallOpsCalibration(enabled=False),
        comm_stream_share=(0.0, 0.0),
        dedup="paper",
        step_overhead_s=15e-3,
        pipeline_fill=False,
        model_head_and_mtp=False,
        default_skew="balanced",
    ),
}


def named_calibration(name: str = "default", **overrides) -> Calibration:
    """A named calibration with `overrides` (None values ignored) applied."""
    try:
        base = CALIBRATIONS[name.lower()]
    except KeyError:
        raise AfdscopeError(
            f"unknown calibration '{name}'; choose one of: {', '.join(CALIBRATIONS)}"
        ) from None
    changes = {k: v for k, v in overrides.items() if v is not None}
    return base.replace(**changes) if changes else base
