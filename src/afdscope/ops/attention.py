"""Decode attention on one GPU: data-parallel attention for `batch` requests of `context` tokens each.

    t = softmax_p(softmax_p(KV bytes / (BW · e_hbm), padded core FLOPs / (F_attn · e_core)),
                  attended tokens · t_scan)
        + softmax_q(projection weight bytes / (BW · e_proj),
                    2 · rows · projection params / (F_gemm · e_proj_mma))
        + small ops + rows · extra bytes / BW + overhead

for the mean layer of the model (windowed layers cap the context at their window). Pure functions;
`batch` and `context` broadcast as numpy arrays, specs are scalars. SI units throughout.
Equations, calibration values and their sources: docs/ops/attention.md (spec beyond.md §A).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.ops.comm import tp_all_reduce_s
from afdscope.ops.experts import soft_max
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision

Basis = Literal["effective", "peak"]


@dataclass(frozen=True)
class AttentionCalibration:
    """How close decode-attention kernels get to the roofline.

    hbm_efficiency: achieved fraction of the bandwidth while streaming the KV cache.
    compute_efficiency: achieved fraction of the attention-dtype FLOP/s in the core (QK^T, PV) MMAs.
    projection_efficiency: achieved fraction of the roofline of the q/kv/o projection GEMMs; it also
        carries the small kernels around them (norms, RoPE, KV-cache append, quantisation).
    overhead_s: fixed time per layer on top.
    projection_compute_efficiency: fraction of the GEMM-format peak the projection MMAs reach; None =
        projection_efficiency on both sides (the BF16 fit's form, one efficiency on the roofline maximum).
    projection_overlap: q of the soft maximum of the projections' weight reads and MMAs (inf = max).
    scan_s_per_token: floor of one request's KV scan per attended token. Split-KV decode kernels give one
        request a bounded number of CTAs, so a lone long request streams its KV far below the bandwidth
        (H100 FP8 MLA: ~1.4 ns per token, i.e. ~0.45 TB/s for one request; requests run side by side).
    extra_bytes_per_token: memory traffic per query row of the module's unnamed elementwise kernels
        (splits, concatenations, casts around the absorbed BMMs) beyond the explicit small-op list.
    kv_pass_heads, kv_pass_max_heads, kv_repass_share: a low-latency decode kernel that takes
        `kv_pass_heads` query heads per CTA group, chosen for at most `kv_pass_max_heads` query heads per
        KV head, reads the KV once per group; each further pass costs `kv_repass_share` of the KV bytes
        again (the rest hits L2). 0 heads = one pass (kv_passes).
    head_tile: MMA rows that one KV head's query rows (query heads of its group × query positions)
        are padded to. Decode kernels (FlashMLA, FlashAttention-3 pack-GQA) put those rows in the M
        dimension of a Hopper WGMMA, whose M is 64: a GQA group of 16 leaves 3/4 of each MMA idle.
    overlap_exponent: p of the soft maximum (a^p + b^p)^(1/p) of the KV-read and the MMA time; inf is
        the hard roofline maximum. A finite p charges the imperfect overlap near the ridge point.
    basis: "effective": fractions of `hw.effective_hbm_bandwidth` / `hw.effective_flops` (the hardware
        file's sustained fractions applied); "peak": fractions of the datasheet peaks `hw.hbm_bandwidth`
        / `hw.peak_flops`, so a measured calibration means the same in every value set.
    """

    hbm_efficiency: float
    compute_efficiency: float
    projection_efficiency: float
    overhead_s: float
    head_tile: int
    overlap_exponent: float
    basis: Basis
    small_ops: bool = False  # charge the attention-side small kernels (ops.small_ops) explicitly
    projection_compute_efficiency: float | None = None
    projection_overlap: float = math.inf
    scan_s_per_token: float = 0.0
    extra_bytes_per_token: float = 0.0
    kv_pass_heads: int = 0
    kv_pass_max_heads: int = 0
    kv_repass_share: float = 0.0
    # Take hbm / compute / projection efficiencies and overhead_s from the hardware's profile entry for
    # the attention compute format (calibration/profiles/<family>.yaml, `attention`); the fields above are
    # then unused. FP8 attention thus runs at the speed measured FP8 kernels reach, not 2x the BF16 one.
    from_profile: bool = False

    def __post_init__(self):
        for name in ("hbm_efficiency", "compute_efficiency", "projection_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise AfdscopeError(f"{name} = {value!r}: must be in (0, 1]")
        e_pc = self.projection_compute_efficiency
        if e_pc is not None and not 0 < e_pc <= 1:
            raise AfdscopeError(f"projection_compute_efficiency = {e_pc!r}: must be in (0, 1] or None")
        for name in ("overhead_s", "scan_s_per_token", "extra_bytes_per_token", "kv_repass_share"):
            if not getattr(self, name) >= 0:
                raise AfdscopeError(f"{name} = {getattr(self, name)!r}: must be >= 0")
        if not self.projection_overlap >= 1:
            raise AfdscopeError(f"projection_overlap = {self.projection_overlap!r}: must be >= 1 (inf = max)")
        for name in ("kv_pass_heads", "kv_pass_max_heads"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise AfdscopeError(f"{name} = {getattr(self, name)!r}: must be an integer >= 0")
        if not (isinstance(self.head_tile, int) and self.head_tile >= 1):
            raise AfdscopeError(f"head_tile = {self.head_tile!r}: must be an integer >= 1")
        if not self.overlap_exponent >= 1:
            raise AfdscopeError(f"overlap_exponent = {self.overlap_exponent!r}: must be >= 1 (inf = max)")
        if self.basis not in ("effective", "peak"):
            raise AfdscopeError(f"basis = {self.basis!r}: use 'effective' or 'peak'")


IDEAL_ATTENTION = AttentionCalibration(
    hbm_efficiency=1.0,
    compute_efficiency=1.0,
    projection_efficiency=1.0,
    overhead_s=0.0,
    head_tile=1,
    overlap_exponent=math.inf,
    basis="effective",
)
"""Pure roofline at the hardware's effective values (spec beyond.md §A): hard max, no tile padding,
no overhead."""

DEFAULT_ATTENTION = AttentionCalibration(
    hbm_efficiency=0.9071,
    compute_efficiency=0.7975,
    projection_efficiency=0.7707,
    overhead_s=25.9e-6,
    head_tile=64,
    overlap_exponent=2.0,
    basis="peak",
    small_ops=True,
    from_profile=True,
)
"""Fitted by `fit_attention_calibration` to calibration/attention_layer_microbench.csv (Step-3 system
report, arXiv 2507.19427, Table 9: 16 layer times, MFA/MLA/GQA on H800/H20/A800 at 8K and 32K).

* hbm_efficiency 0.907 of peak, compute_efficiency 0.797 of the BF16 peak, projection_efficiency
  0.771 of the projection roofline at peak: least squares on log(predicted / measured), with the
  attention-side small kernels (ops.small_ops: norms, RoPE, KV append, quantisation) charged
  explicitly and overhead_s fixed (median 6.8 %, worst 11.9 %).
* overhead_s = 25.9 µs per module: median of measured − predicted over the training shapes of
  aiconfigurator's SGLang MLA decode-module tables on H100/H200 (calibration.fit.mla_rows; eager
  mode, so launch gaps are included; Blackwell's tables give 42.7 µs).
* head_tile = 64 (Hopper WGMMA M), not fitted: without it GQA-16 on H20, the one case where the
  padding turns a memory-bound kernel compute bound, comes out 2.1x faster than measured (-52 %), and
  refitting the efficiencies without padding still leaves a 46 % worst error.
* overlap_exponent = 2, not fitted (a conventional soft knee); a fitted p (≈ 1.2) wants more than
  100 % of the peak bandwidth.
"""


@dataclass(frozen=True)
class AttentionParts:
    """One mean decoder layer's attention on one GPU; every field broadcast to the (batch, context) shape.

    core_flops are the useful FLOPs (no tile padding); the times include the calibration.
    kv_read_s and core_math_s are the two sides of the core soft maximum, core_s the combination.
    """

    kv_bytes: np.ndarray
    core_flops: np.ndarray
    projection_weight_bytes: np.ndarray
    projection_flops: np.ndarray
    kv_read_s: np.ndarray
    core_math_s: np.ndarray
    core_s: np.ndarray
    projection_s: np.ndarray
    overhead_s: np.ndarray
    total_s: np.ndarray
    small_ops_s: np.ndarray | float = 0.0  # norms, RoPE, KV append, quantisation (ops.small_ops)
    # Of total_s, the work after the core (W_UV and o_proj's share of projection_s, the o_proj input
    # quantisation, the TP all-reduce): the second attention half that EP's 2BO combine hides behind.
    after_core_s: np.ndarray | float = 0.0
    profile: object = None  # calibration.profiles.ProfileUse of the efficiencies


def resolve_attention(hw: Hardware, calibration: AttentionCalibration, attention_format: str):
    """(the calibration with the profile's numbers filled in when `from_profile`, ProfileUse)."""
    from afdscope.calibration.profiles import PRESET_USE, attention_entry, family_of

    if not calibration.from_profile:
        return calibration, PRESET_USE
    e, use = attention_entry(family_of(hw), attention_format, hw.name)
    cal = replace(
        calibration,
        hbm_efficiency=float(e["hbm_efficiency"]),
        compute_efficiency=float(e["compute_efficiency"]),
        projection_efficiency=float(e["projection_efficiency"]),
        overhead_s=float(e["overhead_us"]) * 1e-6,
        head_tile=int(e.get("head_tile", calibration.head_tile)),
        projection_compute_efficiency=e.get("projection_compute_efficiency"),
        projection_overlap=float(e.get("projection_overlap", math.inf)),
        scan_s_per_token=float(e.get("scan_ns_per_token", 0.0)) * 1e-9,
        extra_bytes_per_token=float(e.get("extra_bytes_per_token", 0.0)),
        kv_pass_heads=int(e.get("kv_pass_heads", 0)),
        kv_pass_max_heads=int(e.get("kv_pass_max_heads", 0)),
        kv_repass_share=float(e.get("kv_repass_share", 0.0)),
        from_profile=False,
    )
    return cal, use


# --- shapes -----------------------------------------------------------------------------------------


def core_head_dims(model: MoEModel) -> tuple[int, int]:
    """(d_k, d_v) of the core attention per query head. Absorbed MLA attends over the cached latent:
    d_k = kv_lora_rank + rope (576 for DeepSeek-V3), d_v = kv_lora_rank (512)."""
    a = model.attention
    if a.kind == "mla":
        return a.kv_lora_rank + a.qk_rope_head_dim, a.kv_lora_rank
    return a.head_dim, a.head_dim


def mean_attended_tokens(model: MoEModel, context) -> np.ndarray:
    """Tokens one query attends to, averaged over the layers (windows cap their layers)."""
    return model.attended_tokens(context) / model.num_layers


def kv_passes(heads_per_kv_head, pass_heads: int, max_heads: int) -> np.ndarray:
    """How often the decode kernel streams each KV head: ceil(heads / pass_heads) where its low-latency
    kernel serves the head count (heads <= max_heads), else once. TRT-LLM's SM100 MLA decode kernels
    (trtllmGenKernels/fmha/fmhaKernels.h) pick the swap-AB kernel, 16 query heads per CTA, for <= 32
    heads: 32 heads take two passes, and every Blackwell kernel table (mla_core.csv, BF16 and FP8 KV)
    measures ~1.5x the 16-head time at 32 heads, while Hopper's measure 1.0x."""
    h = np.asarray(heads_per_kv_head, dtype=float)
    if pass_heads < 1:
        return np.ones_like(h)
    return np.where(h <= max_heads, np.ceil(h / pass_heads), 1.0)


def core_row_padding(
    heads_per_kv_head, query_positions: int, head_tile: int, pass_heads: int, max_heads: int
):
    """Padded / useful MMA rows of the core. The wide kernel puts a KV head's query rows (heads × query
    positions) in the M dimension of its tile; the low-latency kernel (kv_passes) runs one CTA per query
    position and tiles its heads by `pass_heads` (swap-AB: heads are the N dimension)."""
    h = np.asarray(heads_per_kv_head, dtype=float)
    rows = h * query_positions
    wide = np.ceil(rows / head_tile) * head_tile / rows
    if pass_heads < 1:
        return wide
    return np.where(h <= max_heads, np.ceil(h / pass_heads) * pass_heads / h, wide)


def _rates(hw: Hardware, precision: Precision, basis: Basis) -> tuple[float, float, float]:
    """(bandwidth, attention FLOP/s, GEMM FLOP/s) before the calibration's fractions."""
    # A format the device lacks (FP8 on A800) raises here: no silent upcast.
    attn, gemm = hw.runnable_dtype(precision.attention), hw.runnable_dtype(precision.gemm_dtype)
    if basis == "peak":
        return hw.hbm_bandwidth, hw.peak_flops(attn), hw.peak_flops(gemm)
    return hw.effective_hbm_bandwidth, hw.effective_flops(attn), hw.effective_flops(gemm)


def _check(batch, context, query_positions) -> tuple[np.ndarray, np.ndarray]:
    b, c = np.asarray(batch, dtype=float), np.asarray(context, dtype=float)
    if not (np.all(np.isfinite(b)) and np.all(b >= 0)):
        raise AfdscopeError("batch must be finite and >= 0 (requests on this GPU)")
    if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
        raise AfdscopeError("context must be finite and >= 0 (KV tokens per request)")
    if not (isinstance(query_positions, (int, np.integer)) and query_positions >= 1):
        raise AfdscopeError(
            f"query_positions = {query_positions!r}: must be an integer >= 1 (1 + MTP drafts)"
        )
    return np.broadcast_arrays(b, c)


# --- the operator -------------------------------------------------------------------------------------


def attention_layer_parts(
    model: MoEModel,
    hw: Hardware,
    batch,
    context,
    precision: Precision,
    query_positions: int = 1,
    calibration: AttentionCalibration = DEFAULT_ATTENTION,
    tp: int = 1,
) -> AttentionParts:
    """Decode time of the mean attention layer on one GPU.

    batch: requests per GPU; context: KV tokens per request; query_positions: 1 + MTP draft tokens
    (they multiply query rows and FLOPs, not KV bytes). Arrays broadcast against each other.
    tp: tensor parallelism inside a data-parallel group — `tp` GPUs share tp·batch requests, each
    computing 1/tp of the heads; K/V heads split up to their count and replicate beyond (MLA's latent
    always), the projections split except their low-rank parts, and an all-reduce joins the outputs.
    """
    b, ctx = _check(batch, context, query_positions)
    if not (isinstance(tp, int) and tp >= 1):
        raise AfdscopeError(f"attention tp = {tp!r}: must be an integer >= 1")
    cal, use = resolve_attention(hw, calibration, precision.attention)
    a = model.attention
    bw, f_attn, f_gemm = _rates(hw, precision, cal.basis)
    q = float(query_positions)

    # Core: every request streams its (window-capped) KV once per step, or once per kernel pass over
    # its query heads; all query rows of a pass reuse it.
    heads_per_kv_head = a.num_q_heads / tp / max(1.0, a.num_kv_heads / tp)
    attended = mean_attended_tokens(model, ctx)
    kv_bytes = b * tp * a.kv_share(tp) * attended * a.kv_bytes_per_token_layer(precision.kv_bytes)
    d_k, d_v = core_head_dims(model)
    core_flops = b * q * attended * 2.0 * a.num_q_heads * (d_k + d_v)  # tp·b requests × heads/tp
    padding = float(
        core_row_padding(
            heads_per_kv_head, query_positions, cal.head_tile, cal.kv_pass_heads, cal.kv_pass_max_heads
        )
    )
    passes = kv_passes(heads_per_kv_head, cal.kv_pass_heads, cal.kv_pass_max_heads)
    kv_read_s = kv_bytes * (1 + cal.kv_repass_share * (passes - 1)) / (bw * cal.hbm_efficiency)
    core_math_s = core_flops * padding / (f_attn * cal.compute_efficiency)
    core_s = soft_max(
        soft_max(kv_read_s, core_math_s, cal.overlap_exponent),
        attended * cal.scan_s_per_token,
        cal.overlap_exponent,
    )

    # Projections (q/kv/o; MLA down/up with the absorbed W_UK/W_UV, whose weights are kv_b's; MFA
    # low-rank q): GEMMs over batch · query_positions rows that read every weight once.
    params = float(a.params_per_gpu(model.hidden_size, tp))
    proj_bytes = np.broadcast_to(params * precision.weight_bytes, b.shape)
    proj_flops = 2.0 * b * tp * q * params  # the group's rows through this GPU's share of the weights
    e_pc = cal.projection_compute_efficiency or cal.projection_efficiency
    projection_s = soft_max(
        proj_bytes / (bw * cal.projection_efficiency), proj_flops / (f_gemm * e_pc), cal.projection_overlap
    )

    # W_UV and o_proj follow the core; both scale like the rest of the projections (bytes and FLOPs
    # ∝ parameters), so they take their parameter share of the projection time.
    after_core = projection_s * (a.output_params(model.hidden_size) / tp / params)
    overhead = np.broadcast_to(cal.overhead_s, b.shape)
    if tp > 1:
        # Ring all-reduce of the group's BF16 outputs (ops.comm).
        all_reduce = tp_all_reduce_s(hw, b * tp * q * model.hidden_size * 2.0, tp, calibration.from_profile)
        overhead = overhead + all_reduce
        after_core = after_core + all_reduce
    small = np.zeros_like(core_s)
    if cal.small_ops:
        from afdscope.ops.small_ops import small_ops_parts

        # The group's rows pass the latent/hidden-size ops on every GPU; the per-head ones split by tp.
        ops = small_ops_parts(model, hw, b * tp * q, precision, tp=tp)
        small = sum(t for side, t in ops.values() if side == "attention")
        after_core = after_core + ops["quant_o_proj_in"][1]
    small = small + b * tp * q * cal.extra_bytes_per_token / bw
    return AttentionParts(
        kv_bytes=kv_bytes,
        core_flops=core_flops,
        projection_weight_bytes=proj_bytes,
        projection_flops=proj_flops,
        kv_read_s=kv_read_s,
        core_math_s=core_math_s,
        core_s=core_s,
        projection_s=projection_s,
        overhead_s=overhead,
        total_s=core_s + projection_s + overhead + small,
        small_ops_s=small,
        after_core_s=after_core,
        profile=use,
    )


def attention_layer_time_s(
    model: MoEModel,
    hw: Hardware,
    batch,
    context,
    precision: Precision,
    query_positions: int = 1,
    calibration: AttentionCalibration = DEFAULT_ATTENTION,
    tp: int = 1,
) -> np.ndarray:
    """`attention_layer_parts(...).total_s`: seconds for the mean attention layer on one GPU."""
    return attention_layer_parts(
        model, hw, batch, context, precision, query_positions, calibration, tp
    ).total_s


# --- calibration --------------------------------------------------------------------------------------

# Conditions of Step-3 Table 9: 4 GPUs, 256 requests, BF16 attention and KV, FP8 (H800/H20) or W8A8
# INT8 (A800, `microbench_precision`) GEMMs. Attention is data parallel, 64 requests per
# GPU: sharding MFA's or MLA's single KV head by tensor parallelism would make each GPU read all 256
# requests' KV, which alone takes longer than the measured layer (MFA on H800 at 8K: 641 vs 281 µs).
MICROBENCH_BATCH_PER_GPU = 64
MICROBENCH_PRECISION = Precision(weights="fp8", kv="bf16", attention="bf16")


def microbench_precision(hw: Hardware) -> Precision:
    """FP8 projections where the device has FP8, else INT8 (Step-3 ran A800 in W8A8 INT8)."""
    if "fp8" in hw.dtypes:
        return MICROBENCH_PRECISION
    return MICROBENCH_PRECISION.model_copy(update={"weights": "int8"})


_MICROBENCH_MODELS = {"Step3": "step3", "DeepSeek-V3": "deepseek-v3", "Qwen3-235B-A22B": "qwen3-235b"}


def load_attention_microbench() -> list[dict]:
    """Rows of calibration/attention_layer_microbench.csv: attention, model, gpu, context_tokens (int),
    layer_us (float), plus the catalog names model_key and hardware_key."""
    from afdscope.calibration import read_table

    rows = []
    for row in read_table("attention_layer_microbench.csv"):
        if not row["layer_us"]:
            continue  # not reported
        if row["model"] not in _MICROBENCH_MODELS:
            raise AfdscopeError(
                f"attention_layer_microbench.csv: model {row['model']!r} has no catalog name; "
                f"use one of {', '.join(_MICROBENCH_MODELS)} or map it in _MICROBENCH_MODELS"
            )
        rows.append(
            row
            | {
                "context_tokens": int(row["context_tokens"]),
                "layer_us": float(row["layer_us"]),
                "model_key": _MICROBENCH_MODELS[row["model"]],
                "hardware_key": row["gpu"].lower(),
            }
        )
    return rows


def _microbench_terms(rows: list[dict], calibration: AttentionCalibration) -> np.ndarray:
    """Per row at unit efficiencies: (KV read s, core MMA s, projection s); shape (3, rows)."""
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model

    unit = AttentionCalibration(
        hbm_efficiency=1.0,
        compute_efficiency=1.0,
        projection_efficiency=1.0,
        overhead_s=0.0,
        head_tile=calibration.head_tile,
        overlap_exponent=calibration.overlap_exponent,
        basis=calibration.basis,
        small_ops=calibration.small_ops,
    )
    terms = []
    for r in rows:
        hw = load_hardware(r["hardware_key"], "datasheet")
        p = attention_layer_parts(
            load_model(r["model_key"]),
            hw,
            MICROBENCH_BATCH_PER_GPU,
            r["context_tokens"],
            microbench_precision(hw),
            calibration=unit,
        )
        terms.append((float(p.kv_read_s), float(p.core_math_s), float(p.projection_s), float(p.small_ops_s)))
    return np.array(terms).T


def _predict_from_terms(terms, effs, calibration: AttentionCalibration):
    e_hbm, e_core, e_proj = effs
    core = soft_max(terms[0] / e_hbm, terms[1] / e_core, calibration.overlap_exponent)
    return core + terms[2] / e_proj + terms[3] + calibration.overhead_s


def fit_attention_calibration(
    rows: list[dict],
    *,
    overhead_s: float = 0.0,
    head_tile: int = 64,
    overlap_exponent: float = 2.0,
    small_ops: bool = True,
) -> AttentionCalibration:
    """Fit the three efficiencies (fractions of peak) to measured layer times by least squares on
    log(predicted / measured) — Levenberg–Marquardt in log-efficiency space. The structural choices
    (overhead, MMA tile, overlap exponent) are inputs, not fitted."""
    template = AttentionCalibration(1.0, 1.0, 1.0, overhead_s, head_tile, overlap_exponent, "peak", small_ops)
    terms = _microbench_terms(rows, template)
    measured = np.array([r["layer_us"] for r in rows]) * 1e-6

    def residuals(x):
        return np.log(_predict_from_terms(terms, np.exp(x), template) / measured)

    x, damping = np.log([0.8, 0.7, 0.6]), 1e-3
    for _ in range(200):
        r0 = residuals(x)
        jac = np.array([(residuals(x + h) - r0) / 1e-7 for h in np.eye(3) * 1e-7]).T
        jtj, grad = jac.T @ jac, jac.T @ r0
        while damping < 1e12:
            step = np.linalg.solve(jtj + damping * np.diag(np.diag(jtj)), -grad)
            if np.sum(residuals(x + step) ** 2) < np.sum(r0**2):
                x, damping = x + step, damping / 3
                break
            damping *= 5
        if damping >= 1e12 or np.max(np.abs(step)) < 1e-12:
            break
    e_hbm, e_core, e_proj = np.exp(x)
    if max(e_hbm, e_core, e_proj) > 1:
        raise AfdscopeError(
            f"the fit wants efficiencies {e_hbm:.3f}, {e_core:.3f}, {e_proj:.3f} of peak, above 1: these "
            "rows cannot separate the terms (give rows at two context lengths and both regimes)"
        )
    return AttentionCalibration(
        float(e_hbm), float(e_core), float(e_proj), overhead_s, head_tile, overlap_exponent, "peak", small_ops
    )
