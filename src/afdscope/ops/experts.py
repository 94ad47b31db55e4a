"""Routed experts (grouped GEMM) and dense GEMMs on one GPU: each GEMM a roofline of its own kernel.

    t_gemm = softmax_p(bytes / (BW · e_mem), FLOPs(rows padded to M tile) · (1 + k0/K) / (F · e_mma))
             + t_min + t_k · K

bytes = weights + activations in + outputs; F = the format's dense peak. The efficiencies, tile and fixed
cost come from the hardware's architecture profile (calibration/profiles/<family>.yaml), fitted on
measured kernel tables; the fixed cost is a time, so it never scales with 1/F. Pure functions; token
counts broadcast as numpy arrays, specs are scalars. SI units. Equations and sources: docs/ops/experts.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from afdscope.calibration.profiles import (
    IDEAL_KERNEL,
    PRESET_USE,
    GemmKernel,
    ProfileUse,
    family_of,
    gemm_kernel,
)
from afdscope.errors import AfdscopeError
from afdscope.roofline import roofline_time_s
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import DTYPE_BYTES, Precision

# GEMM outputs are BF16 (DeepGEMM's f8f8bf16, cuBLAS BF16).
OUTPUT_BYTES = 2.0

Basis = Literal["effective", "peak"]


@dataclass(frozen=True)
class GemmCalibration:
    """Which kernel values the GEMM operators use.

    grouped / dense: explicit kernel values (routed experts / plain GEMMs), or None to take them from the
        hardware's architecture profile (`Hardware.calibration_profile`).
    count_distinct_experts: read the weights of the experts actually hit (expected under uniform
        routing) instead of all experts on the GPU.
    activation_bytes: count activation reads and output writes, not just weights.
    activation: charge the SiLU·mul + requantisation kernel between gate_up and down.
    basis: "peak": fractions of the datasheet peaks (profiles are fitted so); "effective": of the
        hardware file's sustained values (the paper's value set has fractions 1).
    """

    grouped: GemmKernel | None = None
    dense: GemmKernel | None = None
    count_distinct_experts: bool = True
    activation_bytes: bool = True
    basis: Basis = "peak"
    activation: bool = True  # SiLU·mul + requant between the two GEMMs (ops.small_ops.activation_time_s)

    def __post_init__(self):
        if self.basis not in ("effective", "peak"):
            raise AfdscopeError(f"basis = {self.basis!r}: use 'effective' or 'peak'")


IDEAL_GEMM = GemmCalibration(
    grouped=IDEAL_KERNEL,
    dense=IDEAL_KERNEL,
    count_distinct_experts=False,
    activation_bytes=False,
    basis="effective",
    activation=False,
)
"""The paper's FFN rank (arXiv 2602.09721 §3.2): OFU = 1 at any size, no padding, no fixed cost, weights
only, all local experts read once per micro-batch. Reproduces afdscope.paper.ffn_rank's t_G exactly."""

DEFAULT_GEMM = GemmCalibration()
"""Every kernel value from the hardware's profile (calibration/profiles/<family>.yaml); distinct
experts counted; activations counted; fractions of the datasheet peaks."""


def resolve_kernel(
    hw: Hardware, calibration: GemmCalibration, kernel: str, fmt: str
) -> tuple[GemmKernel, ProfileUse]:
    """The kernel values `calibration` names for (hw, kernel, format), and which profile entry."""
    explicit = calibration.grouped if kernel == "grouped" else calibration.dense
    if explicit is not None:
        return explicit, PRESET_USE
    return gemm_kernel(family_of(hw), kernel, fmt, hw.name)


def _rates(hw: Hardware, fmt: str, basis: Basis) -> tuple[float, float]:
    fmt = hw.runnable_dtype(fmt)
    if basis == "peak":
        return hw.hbm_bandwidth, hw.peak_flops(fmt)
    return hw.effective_hbm_bandwidth, hw.effective_flops(fmt)


def soft_max(a, b, p: float):
    """(a^p + b^p)^(1/p) without overflow; p = inf is the hard maximum."""
    if math.isinf(p):
        return np.maximum(a, b)
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    ratio = np.divide(lo, hi, out=np.zeros_like(hi, dtype=float), where=hi > 0)
    return hi * (1.0 + ratio**p) ** (1.0 / p)


def padded_rows(rows, groups, tile_m: int):
    """Rows the MMAs compute: each of `groups` groups' rows / groups rounded up to the tile (tile 1:
    the rows themselves, fractional means allowed)."""
    if tile_m == 1:
        return np.asarray(rows, dtype=float)
    g = np.asarray(groups, dtype=float)
    per = np.divide(rows, g, out=np.zeros_like(g * 1.0 + np.asarray(rows, dtype=float)), where=g > 0)
    return g * np.ceil(per / tile_m - 1e-9) * tile_m


@dataclass(frozen=True)
class GemmTimes:
    """One GEMM (or a grouped GEMM over `groups` same-shape groups) on one GPU, broadcast arrays."""

    memory_s: np.ndarray
    mma_s: np.ndarray
    fixed_s: np.ndarray  # t_min + t_k · K
    time_s: np.ndarray


def gemm_kernel_time(
    kernel: GemmKernel,
    bandwidth: float,
    peak_flops: float,
    rows,
    n,
    k,
    weight_bytes: float,
    groups=1.0,
    act_bytes: float | None = None,
) -> GemmTimes:
    """The kernel model: groups · n · k weights, `rows` rows in total (act_bytes per input element,
    None = no activation traffic), BF16 outputs."""
    r = np.asarray(rows, dtype=float)
    g = np.asarray(groups, dtype=float)
    traffic = g * (np.asarray(n, dtype=float) * k * weight_bytes)
    if act_bytes is not None:
        traffic = traffic + r * (k * act_bytes + n * OUTPUT_BYTES)
    mma_rows = padded_rows(r, g, kernel.tile_m)
    memory_s = traffic / (bandwidth * kernel.e_mem)
    mma_s = 2.0 * mma_rows * n * k * (1.0 + kernel.k0 / k) / (peak_flops * kernel.e_mma)
    fixed_s = kernel.t_min_s + kernel.t_k_s * np.asarray(k, dtype=float)
    return GemmTimes(memory_s, mma_s, fixed_s, soft_max(memory_s, mma_s, kernel.overlap_p) + fixed_s)


def _one_intensity(kernel: GemmKernel, calibration: GemmCalibration) -> bool:
    """Weights only, hard max, no padding or fixed cost: gate_up and down have one arithmetic intensity,
    so their roofline is that of their sum (the paper's single t_G, bit for bit)."""
    return (
        not calibration.activation_bytes
        and math.isinf(kernel.overlap_p)
        and kernel.tile_m == 1
        and kernel.t_min_s == 0
        and kernel.t_k_s == 0
        and kernel.k0 == 0
    )


@dataclass(frozen=True)
class ExpertLayerParts:
    """One MoE layer's routed experts on one GPU (arrays, broadcast shape)."""

    assignments: np.ndarray  # token-expert pairs the GPU computes
    distinct_experts: np.ndarray  # experts whose weights are read
    tokens_per_expert: np.ndarray  # rows per group the grouped GEMM sees
    flops: np.ndarray  # useful FLOPs (no padding)
    weight_bytes: np.ndarray
    peak_flops: float  # the format's FLOP/s on the basis the calibration uses
    memory_time_s: np.ndarray  # both GEMMs' bytes / (BW · e_mem)
    compute_time_s: np.ndarray  # both GEMMs' padded FLOPs / (F · e_mma)
    fixed_time_s: float  # both GEMMs' t_min
    gate_up_s: np.ndarray
    down_s: np.ndarray
    activation_s: np.ndarray  # SiLU·mul + requant between them
    time_s: np.ndarray
    profile: ProfileUse

    @property
    def utilisation(self) -> np.ndarray:
        """FLOPs / (F · t): the paper's OFU (with IDEAL_GEMM, exactly afdscope.paper.ffn_rank's)."""
        return np.divide(
            self.flops, self.peak_flops * self.time_s, out=np.zeros_like(self.time_s), where=self.time_s > 0
        )

    @property
    def bound(self) -> np.ndarray:
        """'latency' where the fixed costs exceed both roofline terms, else 'memory' or 'compute'."""
        m, c = self.memory_time_s, self.compute_time_s
        return np.where(
            self.fixed_time_s > np.maximum(m, c), "latency", np.where(m >= c, "memory", "compute")
        )


def expert_dtype(precision: Precision) -> str:
    """The routed experts' compute format (`Precision.expert_gemm_dtype`, or the GEMM format)."""
    return getattr(precision, "expert_gemm_dtype", precision.gemm_dtype)


def expert_weight_bytes(precision: Precision) -> float:
    return getattr(precision, "expert_weight_bytes", precision.weight_bytes)


def gemm_dtype(hw: Hardware, precision: Precision) -> str:
    """The format the routed-expert GEMMs run at on `hw` (`Hardware.runnable_dtype` checks it)."""
    return hw.runnable_dtype(expert_dtype(precision))


def gemm_peak_flops(hw: Hardware, precision: Precision) -> float:
    """Sustained dense FLOP/s of the routed-expert format (the HFU denominator)."""
    return hw.effective_flops(gemm_dtype(hw, precision))


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


def gated_pair(
    hw: Hardware,
    kernel: GemmKernel,
    calibration: GemmCalibration,
    fmt: str,
    weight_bytes: float,
    rows,
    groups,
    hidden: int,
    intermediate: int,
):
    """gate_up (N = 2M, K = H) then down (N = H, K = M) over `groups` groups: (gate_up, down, memory,
    mma, fixed) times."""
    bw, peak = _rates(hw, fmt, calibration.basis)
    act = DTYPE_BYTES.get(fmt, weight_bytes) if calibration.activation_bytes else None
    if _one_intensity(kernel, calibration):
        per = 3.0 * hidden * intermediate
        g, r = np.asarray(groups, dtype=float), np.asarray(rows, dtype=float)
        memory = per * weight_bytes * g / (bw * kernel.e_mem)
        mma = 2.0 * per * r / (peak * kernel.e_mma)
        total = roofline_time_s(2.0 * per * r, per * weight_bytes * g, peak * kernel.e_mma, bw * kernel.e_mem)
        return total * (2 / 3), total * (1 / 3), memory, mma, 0.0, total
    up = gemm_kernel_time(kernel, bw, peak, rows, 2 * intermediate, hidden, weight_bytes, groups, act)
    down = gemm_kernel_time(kernel, bw, peak, rows, hidden, intermediate, weight_bytes, groups, act)
    return (
        up.time_s,
        down.time_s,
        up.memory_s + down.memory_s,
        up.mma_s + down.mma_s,
        up.fixed_s + down.fixed_s,
        up.time_s + down.time_s,
    )


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

    distinct = expected experts hit (or all);  b = A / distinct rows per expert
    gate_up: N = 2M, K = H;  down: N = H, K = M;  each one grouped GEMM over `distinct` groups
    time = gate_up + down (see `gemm_kernel_time`); SiLU·mul + requant between them: ops.small_ops
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

    fmt = gemm_dtype(hw, precision)
    w = expert_weight_bytes(precision)
    kernel, use = resolve_kernel(hw, calibration, "grouped", fmt)
    up, down, memory, mma, fixed, time = gated_pair(
        hw, kernel, calibration, fmt, w, a, distinct, hidden, intermediate
    )
    act_s = _activation_s(hw, calibration, a, intermediate, precision, fmt)
    time = time + act_s
    per_expert_params = 3.0 * hidden * intermediate
    shape = np.broadcast_shapes(a.shape, distinct.shape, np.shape(time))

    def b(x):
        return np.broadcast_to(np.asarray(x, dtype=float), shape)

    return ExpertLayerParts(
        assignments=b(a),
        distinct_experts=b(distinct),
        tokens_per_expert=b(tokens_per_expert),
        flops=b(2.0 * per_expert_params * a),
        weight_bytes=b(per_expert_params * w * distinct),
        peak_flops=_rates(hw, fmt, calibration.basis)[1],
        memory_time_s=b(memory),
        compute_time_s=b(mma),
        fixed_time_s=float(fixed),
        gate_up_s=b(up),
        down_s=b(down),
        activation_s=b(act_s),
        time_s=b(time),
        profile=use,
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
    """One linear layer (rows × in) @ (in × out), one launch of the plain (dense) GEMM kernel, at the
    GEMM format `precision.gemm_dtype`. The LM head is gemm_time_s(hw, tokens, H, vocab, ...)."""
    _check_positive(in_features=in_features, out_features=out_features)
    r = np.asarray(rows, dtype=float)
    if np.any(r < 0):
        raise AfdscopeError("rows must be >= 0")
    fmt = hw.runnable_dtype(precision.gemm_dtype)
    kernel, _ = resolve_kernel(hw, calibration, "dense", fmt)
    bw, peak = _rates(hw, fmt, calibration.basis)
    act = DTYPE_BYTES.get(fmt, precision.weight_bytes) if calibration.activation_bytes else None
    return gemm_kernel_time(
        kernel, bw, peak, r, out_features, in_features, precision.weight_bytes, 1.0, act
    ).time_s


def mlp_time_s(
    hw: Hardware,
    tokens,
    hidden: int,
    intermediate: int,
    precision: Precision,
    calibration: GemmCalibration = DEFAULT_GEMM,
) -> np.ndarray:
    """A gated MLP (gate_up N = 2I, then down N = H; two dense-kernel launches) over `tokens` rows:
    dense layers and shared experts, at the GEMM format."""
    _check_positive(hidden=hidden, intermediate=intermediate)
    t = np.asarray(tokens, dtype=float)
    if np.any(t < 0):
        raise AfdscopeError("tokens must be >= 0")
    fmt = hw.runnable_dtype(precision.gemm_dtype)
    kernel, _ = resolve_kernel(hw, calibration, "dense", fmt)
    gemms = gated_pair(hw, kernel, calibration, fmt, precision.weight_bytes, t, 1.0, hidden, intermediate)[5]
    return gemms + _activation_s(hw, calibration, t, intermediate, precision, fmt)


def _activation_s(hw, calibration: GemmCalibration, rows, intermediate: int, precision: Precision, fmt: str):
    if not calibration.activation:
        return np.zeros_like(np.asarray(rows, dtype=float))
    from afdscope.ops.small_ops import DEFAULT_SMALL_OPS, activation_time_s

    return activation_time_s(hw, rows, intermediate, precision, DEFAULT_SMALL_OPS, fmt)


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
