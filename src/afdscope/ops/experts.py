"""Routed experts (grouped GEMM) and dense GEMMs on one GPU: roofline times with a kernel-efficiency curve.

    t = max(weight bytes / BW_hbm_eff, FLOPs / (F · OFU(rows per group))) + launches · overhead

Pure functions; token counts broadcast as numpy arrays, specs are scalars. SI units throughout.
Equations, calibration values and their sources: docs/ops/experts.md (spec beyond.md §B, §H).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.roofline import roofline_time_s
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision

# A gated MLP (routed expert, shared expert, dense layer) launches two GEMMs: gate/up fused, then down.
# The SwiGLU (+ requantisation) between them is taken as fused into them, as the paper ignores it.
GATED_MLP_LAUNCHES = 2


@dataclass(frozen=True)
class GemmCalibration:
    """How close a (grouped) GEMM kernel gets to the dense peak F, as a function of its row count.

    OFU(b) = ofu_max · b / (b + tokens_half), b = rows (tokens) per group (expert). Equivalently, the
    compute time of a group is that of b + tokens_half rows at ofu_max: a fixed per-expert cost worth
    `tokens_half` rows (tile padding to the 64/128-row WGMMA tile, pipeline fill and drain, wave tail,
    load imbalance inside the grouped GEMM) on top of a linear part.

    ofu_max: asymptotic fraction of the dense peak a large GEMM reaches.
    tokens_half: rows per group at which a grouped expert GEMM's OFU is ofu_max / 2.
    dense_tokens_half: the same for plain GEMMs (shared experts, dense layers, LM head): small-M
        kernels swap A and B and tile tokens by 8–32 instead of padding each group to 64–128 rows.
    kernel_overhead_s: fixed time per GEMM launch (launch gap, prologue/epilogue), added on top.
    count_distinct_experts: read the weights of the experts actually hit (expected under uniform
        routing) instead of all experts on the GPU.
    """

    ofu_max: float
    tokens_half: float
    kernel_overhead_s: float
    count_distinct_experts: bool
    dense_tokens_half: float = 0.0

    def __post_init__(self):
        if not 0 < self.ofu_max <= 1:
            raise AfdscopeError(f"ofu_max = {self.ofu_max!r}: must be in (0, 1]")
        if not self.tokens_half >= 0:
            raise AfdscopeError(f"tokens_half = {self.tokens_half!r}: must be >= 0")
        if not self.dense_tokens_half >= 0:
            raise AfdscopeError(f"dense_tokens_half = {self.dense_tokens_half!r}: must be >= 0")
        if not self.kernel_overhead_s >= 0:
            raise AfdscopeError(f"kernel_overhead_s = {self.kernel_overhead_s!r}: must be >= 0")


IDEAL_GEMM = GemmCalibration(
    ofu_max=1.0, tokens_half=0.0, kernel_overhead_s=0.0, count_distinct_experts=False
)
"""The paper's FFN rank (arXiv 2602.09721 §3.2): OFU = 1 at any size, no launch cost, the weights of all
local experts read once per micro-batch. Reproduces afdscope.paper.ffn_rank's t_G exactly."""

DEFAULT_GEMM = GemmCalibration(
    ofu_max=0.78,
    tokens_half=222.0,
    kernel_overhead_s=3e-6,
    count_distinct_experts=True,
    dense_tokens_half=16.0,
)
"""Calibrated on H800 (FP8, DeepSeek-V3 expert shapes H = 7168, M = 2048).

* ofu_max = 0.78: DeepGEMM reaches up to 1,550 FP8 TFLOPS on H800 (README, 2025-04; PRs #74–#86),
  1550 / 1979 = 0.783, for large GEMMs.
* tokens_half = 222: solves OFU(740) = 0.60 with that ofu_max — the one kernel-level figure we have,
  ≈ 60 % grouped-GEMM HFU at ≈ 740 tokens per expert (DeepSeek's serving profile, as quoted by the
  paper's Fig. 3; spec paper-model.md §7). At 740 tokens per expert FP8 experts are compute bound
  (intensity 1,480 FLOP/B > F/BW), so that HFU is the OFU. Cross-check against DeepGEMM's first
  masked-layout table (2025-02, H800, K = 7168): 256 / 512 / 1,024 rows per group measured 0.47 /
  0.53 / 0.62 of peak; the curve gives 0.42 / 0.54 / 0.64 (the K = 2048 down-projection runs lower).
* kernel_overhead_s = 3 µs per GEMM launch, 6 µs per expert layer: an estimate of the kernel-to-kernel
  gap and prologue under CUDA graphs (≈ 2 % of the paper's 336 µs layer budget), not a measurement.
  The paper's ≈ 10 µs is for an unfused activation kernel, which is taken as fused here.
* count_distinct_experts: a GPU with few assignments over many experts reads only the experts hit
  (Janus, arXiv 2512.13525).
* dense_tokens_half = 16: plain GEMMs over a few decode rows (shared expert, dense layers, LM head) use
  small-M (swap-AB) kernels whose padding waste is half a 32-row tile, not the grouped GEMM's
  per-expert fixed cost; with 222 an H20 shared expert over 1 token would take 6× its weight-read time.

Caveat: tokens_half is in rows, so the fixed per-expert cost scales with 1/F. On a slow-compute GPU
(H20: F/BW = 74) small per-expert batches come out compute bound; that follows from the 64-row WGMMA
tile padding this curve stands in for, but kernels that swap A and B for small M avoid part of it.
"""


@dataclass(frozen=True)
class ExpertLayerParts:
    """One MoE layer's routed experts on one GPU (arrays, broadcast shape)."""

    assignments: np.ndarray  # token-expert pairs the GPU computes
    distinct_experts: np.ndarray  # experts whose weights are read
    tokens_per_expert: np.ndarray  # rows per group the grouped GEMM sees
    flops: np.ndarray
    weight_bytes: np.ndarray
    ofu: np.ndarray  # kernel efficiency from the calibration curve
    peak_flops: float  # F at the precision the GEMM runs (after fallback)
    memory_time_s: np.ndarray
    compute_time_s: np.ndarray  # FLOPs / (F · OFU)
    time_s: np.ndarray  # max(memory, compute) + overhead

    @property
    def utilisation(self) -> np.ndarray:
        """FLOPs / (F · t): the paper's OFU (with IDEAL_GEMM, exactly afdscope.paper.ffn_rank's)."""
        return np.divide(
            self.flops, self.peak_flops * self.time_s, out=np.zeros_like(self.time_s), where=self.time_s > 0
        )


def gemm_dtype(hw: Hardware, precision: Precision) -> str:
    """The format the GEMMs run at on `hw`: `precision.gemm_dtype`, or an AfdscopeError naming the formats
    the device has (`Hardware.runnable_dtype`: no FP4 on Hopper, no FP8 on A800 / Ascend)."""
    return hw.runnable_dtype(precision.gemm_dtype)


def gemm_peak_flops(hw: Hardware, precision: Precision) -> float:
    """Sustained dense FLOP/s for the GEMMs (`gemm_dtype`)."""
    return hw.effective_flops(gemm_dtype(hw, precision))


def grouped_gemm_ofu(tokens_per_expert, calibration: GemmCalibration = DEFAULT_GEMM) -> np.ndarray:
    """OFU(b) = ofu_max · b / (b + tokens_half): in (0, ofu_max] for b > 0, rising in b; 0 at b = 0
    unless tokens_half = 0 (then ofu_max at every size)."""
    b = np.asarray(tokens_per_expert, dtype=float)
    if np.any(b < 0):
        raise AfdscopeError("tokens per expert must be >= 0")
    if calibration.tokens_half == 0:
        return np.full_like(b, calibration.ofu_max)
    return calibration.ofu_max * b / (b + calibration.tokens_half)


def expected_distinct_experts(experts_on_gpu, assignments) -> np.ndarray:
    """Experts hit when `assignments` token-expert pairs fall uniformly on the GPU's e experts:
    e · (1 − (1 − 1/e)^A) [Janus, arXiv 2512.13525]. e at A → ∞, ≈ A for A ≪ e; A may be fractional."""
    e = np.asarray(experts_on_gpu, dtype=float)
    a = np.asarray(assignments, dtype=float)
    if np.any(e < 1):
        raise AfdscopeError("experts_on_gpu must be >= 1")
    if np.any(a < 0):
        raise AfdscopeError("assignments must be >= 0")
    # −expm1(A·log1p(−1/e)) = 1 − (1 − 1/e)^A without cancellation for large e; e = 1 gives log1p(−1)
    # = −inf, and 0·(−inf) would be nan at A = 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.where(a > 0, -np.expm1(a * np.log1p(-1.0 / e)), 0.0)
    return e * miss


def _check_positive(**values):
    for name, v in values.items():
        if np.any(np.asarray(v) <= 0):
            raise AfdscopeError(f"{name} must be > 0")


def _sustained_flops(peak_flops, rows_per_group, calibration, dense: bool = False):
    """(OFU, F · OFU). Where OFU is 0 (no rows, hence no FLOPs) F itself stands in, so the roofline
    gives 0 rather than 0/0. `dense`: a plain GEMM, on the small-M curve."""
    if dense:
        calibration = replace(calibration, tokens_half=calibration.dense_tokens_half)
    ofu = grouped_gemm_ofu(rows_per_group, calibration)
    return ofu, peak_flops * np.where(ofu > 0, ofu, 1.0)


def expert_layer_parts(
    hw: Hardware,
    assignments,
    experts_on_gpu,
    hidden: int,
    intermediate: int,
    precision: Precision,
    calibration: GemmCalibration = DEFAULT_GEMM,
) -> ExpertLayerParts:
    """One MoE layer's routed experts on ONE GPU that receives `assignments` token-expert pairs spread
    uniformly over its `experts_on_gpu` experts (gated: three H×M matrices per expert).

    weight bytes = 3·H·M·precision.weight_bytes · (expected distinct experts, or all of them)
    FLOPs        = 6·A·H·M
    time         = max(bytes / BW_hbm_eff, FLOPs / (F · OFU(A / experts read))) + 2 · overhead
    """
    _check_positive(hidden=hidden, intermediate=intermediate)
    a = np.asarray(assignments, dtype=float)
    e = np.asarray(experts_on_gpu, dtype=float)
    if calibration.count_distinct_experts:
        distinct = expected_distinct_experts(e, a)
    else:
        if np.any(e < 1) or np.any(a < 0):
            raise AfdscopeError("experts_on_gpu must be >= 1 and assignments >= 0")
        distinct = np.broadcast_to(e, np.broadcast_shapes(a.shape, e.shape)).copy()
    tokens_per_expert = np.divide(a, distinct, out=np.zeros_like(distinct), where=distinct > 0)

    per_expert_params = 3.0 * hidden * intermediate
    flops = 2.0 * per_expert_params * a
    weight_bytes = per_expert_params * precision.weight_bytes * distinct
    peak = gemm_peak_flops(hw, precision)
    ofu, flops_rate = _sustained_flops(peak, tokens_per_expert, calibration)
    bw = hw.effective_hbm_bandwidth
    time = (
        roofline_time_s(flops, weight_bytes, flops_rate, bw)
        + GATED_MLP_LAUNCHES * calibration.kernel_overhead_s
    )
    shape = np.broadcast_shapes(a.shape, distinct.shape, np.shape(time))  # hardware fields may be arrays

    def b(x):
        return np.broadcast_to(np.asarray(x, dtype=float), shape)

    return ExpertLayerParts(
        assignments=b(a),
        distinct_experts=b(distinct),
        tokens_per_expert=b(tokens_per_expert),
        flops=b(flops),
        weight_bytes=b(weight_bytes),
        ofu=b(ofu),
        peak_flops=peak,
        memory_time_s=b(weight_bytes / bw),
        compute_time_s=b(flops / flops_rate),
        time_s=b(time),
    )


def expert_layer_time_s(
    hw: Hardware,
    assignments,
    experts_on_gpu,
    hidden: int,
    intermediate: int,
    precision: Precision,
    calibration: GemmCalibration = DEFAULT_GEMM,
) -> np.ndarray:
    """Seconds for one MoE layer's routed experts on one GPU (see `expert_layer_parts`)."""
    return expert_layer_parts(
        hw, assignments, experts_on_gpu, hidden, intermediate, precision, calibration
    ).time_s


def gemm_time_s(
    hw: Hardware,
    rows,
    in_features: int,
    out_features: int,
    precision: Precision,
    calibration: GemmCalibration = DEFAULT_GEMM,
) -> np.ndarray:
    """One linear layer (rows × in) @ (in × out), one launch: weight bytes in·out·weight_bytes against
    2·rows·in·out FLOPs, OFU by rows. The LM head is gemm_time_s(hw, tokens, H, vocab, ...).
    Activation traffic (rows·(in + out) elements) is left out, as for the experts."""
    _check_positive(in_features=in_features, out_features=out_features)
    r = np.asarray(rows, dtype=float)
    if np.any(r < 0):
        raise AfdscopeError("rows must be >= 0")
    params = float(in_features) * out_features
    _, flops_rate = _sustained_flops(gemm_peak_flops(hw, precision), r, calibration, dense=True)
    bytes_ = params * precision.weight_bytes
    return roofline_time_s(2.0 * params * r, bytes_, flops_rate, hw.effective_hbm_bandwidth) + (
        calibration.kernel_overhead_s
    )


def mlp_time_s(
    hw: Hardware,
    tokens,
    hidden: int,
    intermediate: int,
    precision: Precision,
    calibration: GemmCalibration = DEFAULT_GEMM,
) -> np.ndarray:
    """A gated MLP (gate, up, down: three H×I matrices, two launches) over `tokens` rows: dense layers
    and shared experts. Same roofline as one expert that every token hits."""
    _check_positive(hidden=hidden, intermediate=intermediate)
    t = np.asarray(tokens, dtype=float)
    if np.any(t < 0):
        raise AfdscopeError("tokens must be >= 0")
    params = 3.0 * hidden * intermediate
    _, flops_rate = _sustained_flops(gemm_peak_flops(hw, precision), t, calibration, dense=True)
    bytes_ = params * precision.weight_bytes
    overhead = GATED_MLP_LAUNCHES * calibration.kernel_overhead_s
    return roofline_time_s(2.0 * params * t, bytes_, flops_rate, hw.effective_hbm_bandwidth) + overhead


def compute_bound_tokens_per_layer(
    model: MoEModel, hw: Hardware, weight_bytes: float = 1.0, dtype: str = "fp8"
) -> float:
    """Tokens per MoE layer above which the routed experts turn compute bound (the Janus threshold).

    Per expert the intensity is 2·b / weight_bytes FLOP/B (2 FLOPs per multiply-add, b rows); it meets the
    ridge F / BW at b* = F · weight_bytes / (2 · BW). Uniform routing gives each expert K/N_exp of the
    layer's tokens, so the layer needs b* · N_exp / K tokens. Pure roofline: OFU = 1, all experts hit.
    F = hw.effective_flops(dtype) (falling back to BF16 where `dtype` is missing), BW = effective HBM.

    Convention behind Janus's published figures (arXiv 2512.13525: DeepSeek-V3 ≈ 18.9k on H100 FP8,
    ≈ 5.0k on A100): they equal (F/BW) · N_exp/K, i.e. weight_bytes = 2 (BF16-sized weights) with the
    FP8 peak on H100 and the BF16 peak on A100. With FP8 weights (weight_bytes = 1, the default) the
    H100 threshold halves, to ≈ 9.45k.
    """
    if weight_bytes <= 0:
        raise AfdscopeError(f"weight_bytes = {weight_bytes!r}: must be > 0")
    if dtype not in ("bf16", "fp8", "fp4"):
        raise AfdscopeError(f"dtype '{dtype}': choose bf16, fp8 or fp4")
    peak = hw.effective_flops(hw.fallback_dtype(dtype))
    per_expert = peak * weight_bytes / (2.0 * hw.effective_hbm_bandwidth)
    return per_expert * model.n_routed_experts / model.top_k


def step3_min_sparsity(
    hidden,
    n_layers,
    peak_flops,
    hbm_bandwidth,
    network_bandwidth_per_node,
    tpot_s=0.050,
    pipeline_stages=3,
    bytes_per_token_element=3.0,
    weight_bytes=1.0,
):
    """Step-3's minimum MoE sparsity S = K/N_exp at which an FFN node can run its experts compute bound
    (Step-3 report, arXiv 2507.19427, §5; spec beyond.md §H).

    Under a 3-stage AFD pipeline at TPOT T each layer's FFN stage gets t = T / (stages · L). In t a node's
    network (Net, bytes/s, one direction) delivers Net · t / (b_e · H) tokens, b_e = 3 bytes per element
    (FP8 dispatch + BF16 combine). With the node's experts evenly loaded each expert sees S of them,
    and FP8 experts are compute bound from b* = F · weight_bytes / (2 · BW) tokens:

        S ≥ b* · b_e · H · stages · L / (Net · T)  =  H · F · L / (Net · BW · 2T/9)   (defaults)

    2T/9 = 11.1 ms at T = 50 ms. F and BW are one GPU's (only their ratio enters), Net the node's.
    Vectorised over every argument.
    """
    _check_positive(
        hidden=hidden,
        n_layers=n_layers,
        peak_flops=peak_flops,
        hbm_bandwidth=hbm_bandwidth,
        network_bandwidth_per_node=network_bandwidth_per_node,
        tpot_s=tpot_s,
        pipeline_stages=pipeline_stages,
        bytes_per_token_element=bytes_per_token_element,
        weight_bytes=weight_bytes,
    )
    tokens_per_expert = np.multiply(peak_flops, weight_bytes) / (2.0 * np.asarray(hbm_bandwidth, dtype=float))
    stage_s = np.divide(tpot_s, np.multiply(pipeline_stages, n_layers))
    tokens_per_node = np.multiply(network_bandwidth_per_node, stage_s) / np.multiply(
        bytes_per_token_element, hidden
    )
    return tokens_per_expert / tokens_per_node
