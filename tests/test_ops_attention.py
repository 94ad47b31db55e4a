"""Decode attention operator (afdscope.ops.attention; spec beyond.md §A).

Expected values are worked out below from model shapes and hardware peaks, or are published figures
(Step-3 system report, arXiv 2507.19427); none is read back from the code's output.
"""

import math

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.ops.attention import (
    DEFAULT_ATTENTION,
    IDEAL_ATTENTION,
    AttentionCalibration,
    attention_layer_parts,
    attention_layer_time_s,
    fit_attention_calibration,
    kv_passes,
    load_attention_microbench,
    mean_attended_tokens,
)
from afdscope.ops.memory import kv_bytes_per_request
from afdscope.specs.scenario import Precision

BF16_KV = Precision(weights="fp8", kv="bf16", attention="bf16")
FP8_KV = Precision(weights="fp8", kv="fp8", attention="bf16")
INT8_BF16_KV = Precision(weights="int8", kv="bf16", attention="bf16")
BENCH_MODELS = {"Step3": "step3", "DeepSeek-V3": "deepseek-v3", "Qwen3-235B-A22B": "qwen3-235b"}

# Projection weights per layer, from the configs: q (low-rank where the model has it), kv, o.
DSV3_PARAMS = 7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * (128 + 128) + 128 * 128 * 7168
STEP3_PARAMS = 7168 * 2048 + 2048 * 64 * 256 + 2 * 7168 * 256 + 64 * 256 * 7168


# --- calibration against Step-3 Table 9 -----------------------------------------------------------

ROWS = load_attention_microbench()
# Table 9 conditions: 256 requests on 4 GPUs, data-parallel attention -> 64 per GPU; BF16 attention
# and KV; FP8 GEMMs (A800: W8A8 INT8; memory bound at 64 rows, so INT8 and BF16 peaks give one time).
BENCH_BATCH = 64
TOLERANCE = 0.15  # every row within 15 %; the fit's worst is 12.2 % (GQA on H20)


def _bench_predicted_s(row):
    hw = load_hardware(row["gpu"].lower(), "datasheet")
    return attention_layer_time_s(
        load_model(BENCH_MODELS[row["model"]]),
        hw,
        BENCH_BATCH,
        row["context_tokens"],
        BF16_KV if "fp8" in hw.dtypes else INT8_BF16_KV,
    )


def test_microbench_table_has_the_16_rows():
    assert len(ROWS) == 16
    assert {(r["attention"], r["gpu"]) for r in ROWS} >= {("MLA", "H20"), ("GQA", "A800"), ("MFA", "H800")}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['attention']}-{r['gpu']}-{r['context_tokens']}")
def test_default_calibration_reproduces_each_microbench_row(row):
    predicted_us = float(_bench_predicted_s(row)) * 1e6
    assert predicted_us == pytest.approx(row["layer_us"], rel=TOLERANCE)


def test_microbench_median_and_worst_error():
    err = np.array([abs(float(_bench_predicted_s(r)) * 1e6 / r["layer_us"] - 1) for r in ROWS])
    print(f"\nattention microbench: median |error| {np.median(err):.1%}, worst {err.max():.1%}")
    assert np.median(err) < 0.08
    assert err.max() < 0.13


def test_refitting_reproduces_default_attention():
    fitted = fit_attention_calibration(ROWS, overhead_s=DEFAULT_ATTENTION.overhead_s)
    for field in ("hbm_efficiency", "compute_efficiency", "projection_efficiency"):
        assert getattr(fitted, field) == pytest.approx(getattr(DEFAULT_ATTENTION, field), rel=1e-3)
    for field in ("overhead_s", "head_tile", "overlap_exponent", "basis"):
        assert getattr(fitted, field) == getattr(DEFAULT_ATTENTION, field)


def test_mfa_h800_8k_row_by_hand():
    # KV: 64 req · 8192 tok · (1 K + 1 V head of 256, BF16) = 64·8192·1024 B, read at 0.9071 · 3.35 TB/s.
    kv_s = 64 * 8192 * 1024 / (3.35e12 * 0.9071)
    # MMAs: 2·64 heads·(256 + 256) per token; a group of 64 fills the 64-row tile (no padding).
    mma_s = 64 * 8192 * 2 * 64 * 512 / (989e12 * 0.7975)
    core_s = math.hypot(kv_s, mma_s)  # soft maximum with p = 2
    proj_s = max(STEP3_PARAMS / 3.35e12, 2 * 64 * STEP3_PARAMS / 1979e12) / 0.7707
    # Five attention-side small kernels (add+norm, quant, RoPE, KV append, quant) at 0.6 · 3.35 TB/s with a
    # 2 µs floor (hopper profile): four move < 4 MB (floor); RoPE reads and writes (64 q + 1 k) heads · 256
    # BF16 per row: 64 · 2 · 65 · 256 · 2 B = 4.26 MB → 2.12 µs.
    small_s = 4 * 2e-6 + 64 * 2 * 65 * 256 * 2 / (0.6 * 3.35e12)
    t = attention_layer_time_s(load_model("step3"), load_hardware("h800"), 64, 8192, BF16_KV)
    assert float(t) == pytest.approx(core_s + proj_s + small_s + 25.9e-6, rel=1e-9)
    assert float(t) * 1e6 == pytest.approx(281, rel=0.05)  # measured 281 µs


def test_gqa_16_query_heads_are_padded_to_the_64_row_tile():
    # Qwen3-235B: 64 q heads over 4 KV heads = 16 rows per KV head, padded to 64: 4x the MMA time.
    qwen, h20 = load_model("qwen3-235b"), load_hardware("h20")
    p = attention_layer_parts(qwen, h20, 64, 8192, BF16_KV)
    useful_s = 64 * 8192 * 2 * 64 * 256 / (148e12 * DEFAULT_ATTENTION.compute_efficiency)
    assert float(p.core_math_s) == pytest.approx(4 * useful_s)
    # MTP with 3 drafts: 16·4 = 64 rows fill the tile, so 4x the useful FLOPs cost no more MMA time.
    p4 = attention_layer_parts(qwen, h20, 64, 8192, BF16_KV, query_positions=4)
    assert float(p4.core_math_s) == pytest.approx(float(p.core_math_s))
    assert float(p4.core_flops) == pytest.approx(4 * float(p.core_flops))


def test_kv_passes_of_the_sm100_low_latency_kernel():
    # TRT-LLM's SM100 swap-AB MLA kernel: 16 query heads per CTA group, chosen for <= 32 heads.
    assert kv_passes([8, 16, 32, 64, 128], 16, 32).tolist() == [1, 1, 2, 1, 1]
    assert kv_passes([8, 32, 128], 0, 0).tolist() == [1, 1, 1]  # no such kernel: one pass


@pytest.mark.parametrize(
    "hardware, kv, measured_ratio",
    [
        # aiconfigurator's TRT-LLM kernel tables (mla_core.csv), 64 requests x 65,535 KV tokens, time at
        # 32 heads / time at 16 heads: B200 BF16 KV 1,344.0 / 872.6 µs, FP8 KV 581.7 / 379.9 µs; H100
        # BF16 1,577.5 / 1,566.6 µs, FP8 859.9 / 854.8 µs.
        ("b200", "bf16", 1343.99 / 872.645),
        ("b200", "fp8", 581.685 / 379.925),
        ("h100", "bf16", 1577.53 / 1566.6),
        ("h100", "fp8", 859.931 / 854.811),
    ],
)
def test_tp4_core_against_tp8_as_the_kernel_tables_measure(hardware, kv, measured_ratio):
    v3, hw = load_model("deepseek-v3"), load_hardware(hardware)
    prec = Precision(weights="fp8", kv=kv, attention=kv)
    # 64 requests in the TP group: 16 per GPU at TP4 (32 heads each), 8 at TP8 (16 heads).
    tp4 = attention_layer_parts(v3, hw, 16, 65535, prec, tp=4).core_s
    tp8 = attention_layer_parts(v3, hw, 8, 65535, prec, tp=8).core_s
    assert float(tp4 / tp8) == pytest.approx(measured_ratio, rel=0.05)


# --- ideal roofline by hand -------------------------------------------------------------------------


def test_ideal_deepseek_v3_h800_paper_set_by_hand():
    hw = load_hardware("h800", "paper")  # 3.35 TB/s, 989 BF16 / 1979 FP8 TFLOPS, fractions 1
    p = attention_layer_parts(load_model("deepseek-v3"), hw, 64, 8192, BF16_KV, calibration=IDEAL_ATTENTION)
    kv = 64 * 8192 * 576 * 2
    flops = 64 * 8192 * 2 * 128 * (576 + 512)
    assert float(p.kv_bytes) == kv  # exact
    assert float(p.core_flops) == pytest.approx(flops, rel=1e-12)
    core_s = max(kv / 3.35e12, flops / 989e12)  # 180.3 µs memory vs 147.7 µs compute
    assert float(p.core_s) == pytest.approx(core_s, rel=1e-12)
    assert core_s == pytest.approx(kv / 3.35e12)
    assert float(p.projection_weight_bytes) == DSV3_PARAMS  # FP8: one byte per weight
    assert float(p.projection_flops) == pytest.approx(2 * 64 * DSV3_PARAMS)
    proj_s = max(DSV3_PARAMS / 3.35e12, 2 * 64 * DSV3_PARAMS / 1979e12)
    assert float(p.projection_s) == pytest.approx(proj_s, rel=1e-12)
    assert float(p.overhead_s) == 0
    assert float(p.total_s) == pytest.approx(core_s + proj_s, rel=1e-12)


def test_ideal_uses_the_effective_values_of_the_datasheet_set():
    hw = load_hardware("h800", "datasheet")  # HBM sustained 0.8
    p = attention_layer_parts(load_model("step3"), hw, 32, 4096, BF16_KV, calibration=IDEAL_ATTENTION)
    assert float(p.kv_read_s) == pytest.approx(32 * 4096 * 1024 / (0.8 * 3.35e12))


# --- Step-3 report figures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "report", "ours"),
    [
        # MFA: 2·64·(256+256) FLOPs per 2·256 B. GQA-4: 2·64·(128+128) per 2·4·128 B.
        ("step3", 128, 128),
        ("qwen3-235b", 32, 32),
        # MLA: the report's 512 counts d_v = 576 (2·128·(576+576)/576, which also reproduces its
        # 5.89e11 FLOPs at 32K) on 576 B per token; with d_v = kv_lora_rank = 512 it is 2·128·1088/576 =
        # 483.6 per element, and 2·128·1088/656 = 424.6 per byte as FlashMLA's FP8 cache stores it.
        ("deepseek-v3", 512, 2 * 128 * 1088 / 576),
    ],
)
def test_arithmetic_intensity_per_kv_byte_with_fp8_kv(model, report, ours):
    m = load_model(model)
    p = attention_layer_parts(m, load_hardware("h800"), 8, 32768, FP8_KV)
    stored = m.attention.kv_bytes_per_token_layer(1) / m.attention.kv_elements_per_token_layer()
    intensity = float(p.core_flops / p.kv_bytes) * stored  # per KV element, the report's convention
    assert intensity == pytest.approx(ours, rel=1e-12)
    assert intensity == pytest.approx(report, rel=0.15)


@pytest.mark.parametrize(
    ("model", "report_bytes"), [("step3", 2.56e8), ("deepseek-v3", 2.88e8), ("qwen3-235b", 7.89e8)]
)
def test_kv_bytes_per_request_at_8k_fp8_match_the_report(model, report_bytes):
    m = load_model(model)
    # The report counts FP8 elements; FlashMLA's FP8 cache adds its scales and BF16 RoPE (656 / 576).
    stored = m.attention.kv_bytes_per_token_layer(1) / m.attention.kv_elements_per_token_layer()
    assert float(kv_bytes_per_request(m, 8192, Precision(kv="fp8"))) == pytest.approx(
        report_bytes * stored, rel=0.005
    )


# --- windows ----------------------------------------------------------------------------------------------


def test_gpt_oss_sliding_layers_cap_context_at_128():
    oss = load_model("gpt-oss-120b")
    assert oss.attention.layer_windows.count(128) == 18 and oss.num_layers == 36
    per_token_layer = 2 * 8 * 64 * 2  # 8 KV heads of 64, K and V, BF16
    mean_tokens = (18 * 128 + 18 * 100_000) / 36
    p = attention_layer_parts(oss, load_hardware("h100"), 1, 100_000, BF16_KV, calibration=IDEAL_ATTENTION)
    assert float(p.kv_bytes) == pytest.approx(mean_tokens * per_token_layer)
    assert float(kv_bytes_per_request(oss, 100_000, Precision())) == pytest.approx(
        36 * mean_tokens * per_token_layer
    )
    # Below the window nothing is capped: the per-request figure is the uncapped one.
    assert float(kv_bytes_per_request(oss, 100, Precision())) == pytest.approx(
        100 * oss.kv_bytes_per_token(2)
    )


def test_llama4_chunked_layers_cap_three_layers_in_four():
    llama = load_model("llama-4-maverick")
    assert float(mean_attended_tokens(llama, 65536)) == pytest.approx((3 * 8192 + 65536) / 4)


# --- MTP -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("calibration", [IDEAL_ATTENTION, DEFAULT_ATTENTION])
def test_mtp_doubles_flops_not_kv_bytes(calibration):
    args = (load_model("deepseek-v3"), load_hardware("h20"), 48, 16384, BF16_KV)
    one = attention_layer_parts(*args, query_positions=1, calibration=calibration)
    two = attention_layer_parts(*args, query_positions=2, calibration=calibration)
    assert float(two.core_flops) == pytest.approx(2 * float(one.core_flops))
    assert float(two.projection_flops) == pytest.approx(2 * float(one.projection_flops))
    assert float(two.kv_bytes) == float(one.kv_bytes)
    assert float(two.projection_weight_bytes) == float(one.projection_weight_bytes)
    assert float(one.total_s) < float(two.total_s) <= 2 * float(one.total_s)


# --- properties -------------------------------------------------------------------------------------------

BATCH = np.array([1, 8, 64, 256])[:, None]
CONTEXT = np.array([0, 128, 4096, 32768, 131072])[None, :]
MODELS = ["deepseek-v3", "step3", "qwen3-235b", "gpt-oss-120b", "llama-4-maverick"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("calibration", [IDEAL_ATTENTION, DEFAULT_ATTENTION], ids=["ideal", "default"])
def test_more_bandwidth_or_flops_never_increases_time(model, calibration):
    m, hw = load_model(model), load_hardware("h800")
    base = attention_layer_time_s(m, hw, BATCH, CONTEXT, BF16_KV, calibration=calibration)
    faster = [
        hw.model_copy(update={"hbm_bandwidth": 2 * hw.hbm_bandwidth}),
        hw.model_copy(update={"bf16_flops": 2 * hw.bf16_flops}),
        hw.model_copy(update={"fp8_flops": 2 * hw.fp8_flops}),
    ]
    for fast in faster:
        t = attention_layer_time_s(m, fast, BATCH, CONTEXT, BF16_KV, calibration=calibration)
        assert np.all(t <= base * (1 + 1e-12))
    assert np.all(np.isfinite(base)) and np.all(base > 0)
    # more requests or more context never takes less time
    assert np.all(np.diff(base, axis=0) >= 0) and np.all(np.diff(base, axis=1) >= 0)


@pytest.mark.parametrize("model", MODELS)
def test_grid_call_equals_elementwise_calls(model):
    m, hw = load_model(model), load_hardware("h20")
    grid = attention_layer_parts(m, hw, BATCH, CONTEXT, FP8_KV, query_positions=2)
    assert grid.total_s.shape == (4, 5) and grid.projection_weight_bytes.shape == (4, 5)
    for i, b in enumerate(BATCH[:, 0]):
        for j, c in enumerate(CONTEXT[0]):
            one = attention_layer_parts(m, hw, int(b), int(c), FP8_KV, query_positions=2)
            for field in ("kv_bytes", "core_flops", "core_s", "projection_s", "total_s"):
                assert getattr(grid, field)[i, j] == pytest.approx(float(getattr(one, field)), rel=1e-12)


def test_zero_batch_costs_only_the_weight_read():
    p = attention_layer_parts(load_model("step3"), load_hardware("h800"), 0, 8192, BF16_KV)
    assert float(p.core_s) == 0
    # weights at the projection efficiency, the module's fixed term, five small kernels at their 2 µs floor
    expected = STEP3_PARAMS / 3.35e12 / 0.7707 + 25.9e-6 + 5 * 2e-6
    assert float(p.total_s) == pytest.approx(expected)


def test_work_after_the_core_is_w_uv_and_o_proj_share_of_the_projections():
    # EP's 2BO hides a combine behind the other micro-batch's second attention half: the core, then
    # W_UV (512·128·128) and o_proj (128·128·7168), their parameter share of the projection time, and
    # the o_proj input quantisation (at its 2 µs floor at one request).
    m, hw = load_model("deepseek-v3"), load_hardware("h800")
    share = (512 * 128 * 128 + 128 * 128 * 7168) / DSV3_PARAMS
    assert share == pytest.approx(0.6725, abs=1e-4)
    p = attention_layer_parts(m, hw, 1, 4096, FP8_KV)
    assert float(p.after_core_s) == pytest.approx(float(p.projection_s) * share + 2e-6)
    # Under TP2 each GPU holds half of both (o_proj and W_UV split by heads) and the all-reduce follows.
    p2 = attention_layer_parts(m, hw, 1, 4096, FP8_KV, tp=2)
    params_tp2 = 7168 * 1536 + 7168 * 576 + (DSV3_PARAMS - 7168 * 1536 - 7168 * 576) / 2
    reduce_s = float(p2.overhead_s) - float(p.overhead_s)
    assert reduce_s > 0
    after = float(p2.projection_s) * (share * DSV3_PARAMS / 2) / params_tp2 + reduce_s + 2e-6
    assert float(p2.after_core_s) == pytest.approx(after)


# --- dtype fallback and errors ----------------------------------------------------------------------------


def test_a800_refuses_fp8_and_runs_int8_projections():
    a800, m = load_hardware("a800"), load_model("step3")
    with pytest.raises(AfdscopeError, match=r"'a800' has no dense FP8 peak.*it has: bf16, int8"):
        attention_layer_parts(m, a800, 256, 8192, Precision(weights="fp8", kv="fp8", attention="fp8"))
    with pytest.raises(AfdscopeError, match="FP8"):  # FP8 weights with BF16 math: still no FP8 GEMM
        attention_layer_parts(m, a800, 256, 8192, Precision(weights="fp8", kv="fp8", attention="bf16"))
    p8 = attention_layer_parts(m, a800, 256, 8192, Precision(weights="int8", kv="fp8", attention="bf16"))
    p16 = attention_layer_parts(m, a800, 256, 8192, Precision(weights="bf16", kv="fp8", attention="bf16"))
    assert float(p8.core_math_s) == pytest.approx(float(p16.core_math_s))
    # INT8 weights read half the bytes of BF16 ones
    assert float(p8.projection_weight_bytes) == pytest.approx(float(p16.projection_weight_bytes) / 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch": -1}, "batch"),
        ({"context": np.array([10, np.nan])}, "context"),
        ({"query_positions": 0}, "query_positions"),
    ],
)
def test_bad_inputs_raise(kwargs, message):
    args = {"batch": 8, "context": 1024, "query_positions": 1} | kwargs
    with pytest.raises(AfdscopeError, match=message):
        attention_layer_parts(load_model("step3"), load_hardware("h800"), precision=BF16_KV, **args)


@pytest.mark.parametrize(
    "field",
    [
        {"hbm_efficiency": 1.2},
        {"overhead_s": -1e-6},
        {"head_tile": 0},
        {"overlap_exponent": 0.5},
        {"kv_pass_heads": -1},
        {"kv_repass_share": -0.1},
    ],
)
def test_bad_calibration_raises(field):
    values = {
        "hbm_efficiency": 0.9,
        "compute_efficiency": 0.8,
        "projection_efficiency": 0.6,
        "overhead_s": 0.0,
        "head_tile": 64,
        "overlap_exponent": 2.0,
        "basis": "peak",
    } | field
    with pytest.raises(AfdscopeError, match=next(iter(field))):
        AttentionCalibration(**values)
