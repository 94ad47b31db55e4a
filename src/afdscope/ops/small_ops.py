"""The small per-layer kernels of a decode step, as an explicit list: each max(bytes / (BW · e_mem), t_min).

Norms, residual adds, RoPE, KV-cache append, activation quantisation, the router GEMM and top-k, and the
SiLU·mul + requantisation between the expert GEMMs. Each is memory bound (a few bytes per element) or,
for few tokens, as long as its launch floor t_min. e_mem and t_min come from the hardware's profile
(calibration/profiles/<family>.yaml, entry `small_ops`). Vectorised over tokens; SI units.
Where they sit in a layer: `side` = "attention" (before and around attention) or "ffn" (router, dispatch
quantisation, post-attention norm, activation between the expert GEMMs). Equations: docs/ops/attention.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from afdscope.calibration.profiles import PRESET_USE, ProfileUse, family_of, small_ops_entry
from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import DTYPE_BYTES, Precision

BF16 = 2.0
FP32 = 4.0


@dataclass(frozen=True)
class SmallOpsCalibration:
    """enabled: charge the small kernels at all (the paper's accounting leaves them out).
    e_mem / t_min_s: explicit values, or None to take the hardware profile's."""

    enabled: bool = True
    e_mem: float | None = None
    t_min_s: float | None = None

    def __post_init__(self):
        if self.e_mem is not None and not 0 < self.e_mem <= 1:
            raise AfdscopeError(f"small-op e_mem = {self.e_mem!r}: must be in (0, 1]")
        if self.t_min_s is not None and not self.t_min_s >= 0:
            raise AfdscopeError(f"small-op t_min_s = {self.t_min_s!r}: must be >= 0")


DEFAULT_SMALL_OPS = SmallOpsCalibration()
IDEAL_SMALL_OPS = SmallOpsCalibration(enabled=False)


def small_op_values(hw: Hardware, calibration: SmallOpsCalibration) -> tuple[float, float, ProfileUse]:
    """(e_mem, t_min_s, profile used)."""
    if calibration.e_mem is not None and calibration.t_min_s is not None:
        return calibration.e_mem, calibration.t_min_s, PRESET_USE
    entry, use = small_ops_entry(family_of(hw), hw.name)
    e = calibration.e_mem if calibration.e_mem is not None else float(entry["e_mem"])
    t = calibration.t_min_s if calibration.t_min_s is not None else float(entry["t_min_us"]) * 1e-6
    return e, t, use


def small_op_list(model: MoEModel, precision: Precision, tp: int = 1) -> list[tuple[str, str, float, float]]:
    """(name, side, bytes per token, bytes per launch independent of tokens) for one MoE layer on one GPU
    of an attention-TP group of `tp`: the per-head ops (query RoPE, o_proj input) touch only this GPU's
    1/tp of the query heads (and its share of the K/V heads); the latent and hidden-size ops every token."""
    h, a = model.hidden_size, model.attention
    q_heads, kv_heads = a.num_q_heads / tp, a.num_kv_heads * a.kv_share(tp)
    act = min(DTYPE_BYTES.get(precision.gemm_dtype, 1.0), BF16)  # quantised activations
    ops = [
        # fused residual add + RMSNorm: read x and residual, write residual and the normed output
        ("add_rmsnorm_attn", "attention", 4 * h * BF16, h * FP32),
        ("quant_attn_in", "attention", h * (BF16 + act), 0.0),
    ]
    if a.kind == "mla":
        lora = (a.q_lora_rank or 0) + a.kv_lora_rank
        ops.append(("rmsnorm_lora", "attention", 2 * lora * BF16, 0.0))
        rope = q_heads * a.qk_rope_head_dim + a.qk_rope_head_dim
        out = q_heads * a.v_head_dim
    else:
        rope = (q_heads + kv_heads) * a.head_dim
        out = q_heads * a.head_dim
    ops += [
        ("rope", "attention", 2 * rope * BF16, 0.0),
        ("kv_append", "attention", a.kv_bytes_per_token_layer(precision.kv_bytes), 0.0),
        ("quant_o_proj_in", "attention", out * (BF16 + act), 0.0),
        ("add_rmsnorm_ffn", "ffn", 4 * h * BF16, h * FP32),
        # router logits (BF16 weights, read once per launch) and grouped top-k over FP32 scores
        ("router_gemm", "ffn", h * BF16 + model.n_routed_experts * FP32, model.n_routed_experts * h * BF16),
        ("topk", "ffn", model.n_routed_experts * FP32 + model.top_k * 8, 0.0),
        ("quant_dispatch", "ffn", h * (BF16 + act), 0.0),
    ]
    return ops


def small_ops_parts(
    model: MoEModel,
    hw: Hardware,
    tokens,
    precision: Precision,
    calibration: SmallOpsCalibration = DEFAULT_SMALL_OPS,
    tp: int = 1,
) -> dict[str, tuple[str, np.ndarray]]:
    """{op name: (side, seconds)} for one layer over `tokens` rows on one GPU (of an attention-TP group
    of `tp`: see `small_op_list`)."""
    t = np.asarray(tokens, dtype=float)
    if not (np.all(np.isfinite(t)) and np.all(t >= 0)):
        raise AfdscopeError("tokens must be finite and >= 0")
    if not calibration.enabled:
        return {name: (side, np.zeros_like(t)) for name, side, _, _ in small_op_list(model, precision, tp)}
    e, t_min, _ = small_op_values(hw, calibration)
    bw = hw.hbm_bandwidth * e
    return {
        name: (side, np.maximum((t * per_token + fixed) / bw, t_min))
        for name, side, per_token, fixed in small_op_list(model, precision, tp)
    }


def small_ops_time_s(
    model: MoEModel,
    hw: Hardware,
    tokens,
    precision: Precision,
    calibration: SmallOpsCalibration = DEFAULT_SMALL_OPS,
    side: str = "all",
    tp: int = 1,
) -> np.ndarray:
    """Seconds of one layer's small kernels over `tokens` rows (side "attention", "ffn" or "all").
    The SiLU·mul between the routed expert GEMMs is `activation_time_s` (it scales with assignments)."""
    if side not in ("all", "attention", "ffn"):
        raise AfdscopeError(f"side = {side!r}: use 'all', 'attention' or 'ffn'")
    parts = small_ops_parts(model, hw, tokens, precision, calibration, tp)
    total = np.zeros_like(np.asarray(tokens, dtype=float))
    for s, t in parts.values():
        if side in ("all", s):
            total = total + t
    return total


def activation_time_s(
    hw: Hardware,
    rows,
    intermediate: int,
    precision: Precision,
    calibration: SmallOpsCalibration = DEFAULT_SMALL_OPS,
    fmt: str | None = None,
) -> np.ndarray:
    """SiLU(gate)·up + requantisation between gate_up and down: read 2·I BF16, write I quantised, per row."""
    r = np.asarray(rows, dtype=float)
    if not calibration.enabled:
        return np.zeros_like(r)
    e, t_min, _ = small_op_values(hw, calibration)
    act = min(DTYPE_BYTES.get(fmt or precision.gemm_dtype, 1.0), BF16)
    return np.maximum(r * intermediate * (2 * BF16 + act) / (hw.hbm_bandwidth * e), t_min)
