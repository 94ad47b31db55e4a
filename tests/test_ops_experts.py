"""Expert (grouped GEMM) and dense GEMM operator models.

Expected values are worked out here from the equations and published constants (paper arXiv 2602.09721,
Janus arXiv 2512.13525, Step-3 arXiv 2507.19427), never read back from afdscope's output.
"""

import math
from dataclasses import replace

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.ops.experts import (
    DEFAULT_GEMM,
    IDEAL_GEMM,
    compute_bound_tokens_per_layer,
    expected_distinct_experts,
    expert_layer_parts,
    expert_layer_time_s,
    gemm_dtype,
    gemm_time_s,
    mlp_time_s,
    step3_min_sparsity,
)
from afdscope.paper.ffn_rank import RankProblem, rank_curve
from afdscope.paper.options import PaperOptions
from afdscope.specs.hardware import Hardware, Sustained
from afdscope.specs.scenario import Precision

FP8 = Precision(weights="fp8")
H, M = 7168, 2048  # DeepSeek-V3 hidden and expert intermediate size
EXACT = Sustained(compute=1.0, hbm=1.0, scale_up=1.0, scale_out=1.0)


def bare_gpu(name, bf16, fp8=None, hbm=2.0e12, fp4=None):
    """A device given by its numbers alone, peaks taken as sustained."""
    return Hardware(
        name=name,
        display_name=name,
        bf16_flops=bf16,
        fp8_flops=fp8,
        fp4_flops=fp4,
        hbm_capacity=80e9,
        hbm_bandwidth=hbm,
        scale_up_bandwidth=200e9,
        scale_up_domain=8,
        scale_out_bandwidth=25e9,
        sustained=EXACT,
    )


# --- IDEAL reproduces the paper's FFN rank ------------------------------------------------------------

# Paper scenario: t_B = (45 ms · 1.7 − 15 ms) / (3 · 61); H800 paper values F = 1979 T, BW = 3.35 TB/s,
# 𝓑_out = 50 GB/s, 𝓑_up = 160 GB/s; B_X = 𝓑_X · t_B / (3 · H).
T_B = 0.0615 / 183
B_OUT = 50e9 * T_B / (3 * H)  # 781.4 tokens
B_UP = 160e9 * T_B / (3 * H)  # 2500.5 tokens
F_H800, BW_H800 = 1979e12, 3.35e12


@pytest.mark.parametrize(
    "n_f, experts, b_rank",
    [
        # N_F = 2: G = ceil(256/16) = 16; B_out · K/N_F = 4 · 781 = 3126 > B_up, so B_up binds.
        (2, 16, B_UP),
        # N_F = 8: G = ceil(256/64) = 4; K/N_F = 1, B_out (781) < B_up.
        (8, 4, B_OUT),
    ],
)
def test_ideal_gemm_reproduces_the_paper_rank(n_f, experts, b_rank):
    flops = 6 * b_rank * H * M
    mem = 3 * experts * H * M  # FP8: one byte per weight
    t_g = max(flops / F_H800, mem / BW_H800)
    ofu = flops / (F_H800 * t_g)

    h800, v3 = load_hardware("h800", "paper"), load_model("deepseek-v3")
    parts = expert_layer_parts(h800, b_rank, experts, H, M, FP8, IDEAL_GEMM)
    assert float(parts.time_s) == pytest.approx(t_g, rel=1e-12)
    assert float(parts.utilisation) == pytest.approx(ofu, rel=1e-12)
    assert float(parts.flops) == pytest.approx(flops, rel=1e-12)
    assert float(parts.weight_bytes) == mem

    # ... and the paper module agrees, bit for bit, when fed its own B_rank and G.
    c = rank_curve(RankProblem.single(v3, h800), np.array([float(n_f)]), PaperOptions())
    assert c.experts_per_gpu[0] == experts
    assert c.tokens_per_rank[0] == pytest.approx(b_rank, rel=1e-12)
    t = expert_layer_time_s(h800, c.tokens_per_rank, c.experts_per_gpu, H, M, FP8, IDEAL_GEMM)
    assert t[0] == c.gemm_time_s[0]
    assert c.ofu[0] == pytest.approx(ofu, rel=1e-12)


def test_paper_rank_numbers_by_hand():
    # N_F = 2: Mem = 48 · 7168 · 2048 B = 704.6 MB → 210.3 µs at 3.35 TB/s (memory bound, OFU 52.9 %).
    mem_s, flops_s = 3 * 16 * H * M / BW_H800, 6 * B_UP * H * M / F_H800
    assert mem_s * 1e6 == pytest.approx(210.34, abs=0.01)
    assert flops_s / mem_s == pytest.approx(0.529, abs=1e-3)
    # N_F = 8: Mem = 176.2 MB → 52.6 µs; FLOPs/F = 34.8 µs; OFU 66.1 %.
    h800 = load_hardware("h800", "paper")
    t = expert_layer_time_s(h800, [B_UP, B_OUT], [16, 4], H, M, FP8, IDEAL_GEMM)
    assert t * 1e6 == pytest.approx([210.34, 52.585], abs=0.01)


# --- distinct experts ------------------------------------------------------------------------------------


def test_distinct_experts_limits():
    # A → ∞: every expert is hit.
    assert float(expected_distinct_experts(32, np.inf)) == 32
    assert float(expected_distinct_experts(32, 1e5)) == pytest.approx(32)
    # A ≪ e: almost no collisions; e(1 − (1 − 1/e)^A) = A − A(A−1)/(2e) + …
    assert float(expected_distinct_experts(1e6, 3)) == pytest.approx(3 - 3 / 1e6, rel=1e-9)
    # One expert: hit once anything arrives; nothing arrives, nothing hit.
    assert expected_distinct_experts(1, [0, 0.5, 1, 7]) == pytest.approx([0, 1, 1, 1])
    # Two experts, two tokens: 2 · (1 − 1/4) = 1.5.
    assert float(expected_distinct_experts(2, 2)) == pytest.approx(1.5)
    # Never more than A nor e.
    e, a = np.meshgrid([1, 2, 8, 64, 256], [0, 1, 3, 10, 100, 1000])
    d = expected_distinct_experts(e, a)
    assert np.all(d <= np.minimum(e, a) + 1e-12)


def test_distinct_experts_rejects_impossible_inputs():
    with pytest.raises(AfdscopeError, match="experts_on_gpu"):
        expected_distinct_experts(0.5, 3)
    with pytest.raises(AfdscopeError, match="assignments"):
        expected_distinct_experts(4, -1)


def test_count_distinct_reads_only_hit_experts():
    # 4 assignments over 32 experts: 32 · (1 − (31/32)^4) = 3.81 experts read, not 32.
    h800 = load_hardware("h800", "paper")
    cal = replace(IDEAL_GEMM, count_distinct_experts=True)
    parts = expert_layer_parts(h800, 4, 32, H, M, FP8, cal)
    hit = 32 * (1 - (31 / 32) ** 4)
    assert float(parts.distinct_experts) == pytest.approx(hit)
    assert float(parts.weight_bytes) == pytest.approx(3 * H * M * hit)
    assert float(parts.time_s) == pytest.approx(3 * H * M * hit / BW_H800)


# --- Janus threshold -------------------------------------------------------------------------------------


def test_janus_threshold_h100_and_a100():
    v3 = load_model("deepseek-v3")  # N_exp / K = 256 / 8 = 32
    h100 = load_hardware("h100", "paper")  # 1979 TFLOPS FP8, 3.35 TB/s, fractions 1
    a100 = bare_gpu("a100", bf16=312e12, hbm=2.0e12)
    # Janus's figures are (F/BW) · N_exp/K: 2-byte weights in our convention.
    assert compute_bound_tokens_per_layer(v3, h100, weight_bytes=2.0) == pytest.approx(1979 / 3.35 * 32)
    assert compute_bound_tokens_per_layer(v3, h100, weight_bytes=2.0) / 1e3 == pytest.approx(18.9, abs=0.05)
    assert compute_bound_tokens_per_layer(v3, a100, weight_bytes=2.0, dtype="bf16") / 1e3 == pytest.approx(
        5.0, abs=0.05
    )
    # FP8 weights (the default) halve it: 9.45k on H100.
    assert compute_bound_tokens_per_layer(v3, h100) == pytest.approx(1979 / 3.35 / 2 * 32)
    # A100 has no FP8: the FP8 request falls back to the BF16 peak.
    assert compute_bound_tokens_per_layer(v3, a100, weight_bytes=2.0) == pytest.approx(312 / 2.0 * 32)


# --- Step-3 minimum sparsity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flops, hbm, net_per_node, published",
    [
        (1979e12, 3.35e12, 8 * 400e9 / 8, 0.058),  # H800, 8 × 400 Gb/s
        (296e12, 4.0e12, 8 * 400e9 / 8, 0.007),  # H20
        (312e12, 2.0e12, 8 * 200e9 / 8, 0.031),  # A800, 8 × 200 Gb/s
        (280e12, 1.6e12, 8 * 200e9 / 8, 0.034),  # Ascend 910B: not in the catalog; inputs unverified
    ],
)
def test_step3_min_sparsity(flops, hbm, net_per_node, published):
    s = step3_min_sparsity(
        hidden=7168, n_layers=61, peak_flops=flops, hbm_bandwidth=hbm, network_bandwidth_per_node=net_per_node
    )
    # The report's closed form: H · F · L / (Net · BW · 11.1 ms), 11.1 ms = 2 · 50 ms / 9.
    assert float(s) == pytest.approx(7168 * flops * 61 / (net_per_node * hbm * (2 * 0.050 / 9)))
    assert round(float(s), 3) == published


def test_step3_min_sparsity_vectorises():
    s = step3_min_sparsity(7168, 61, np.array([1979e12, 296e12]), np.array([3.35e12, 4.0e12]), 400e9)
    assert np.round(s, 3) == pytest.approx([0.058, 0.007])


# --- dtype fallback ------------------------------------------------------------------------------------


def test_gemm_dtype_refuses_a_format_the_device_lacks():
    h800, a800 = load_hardware("h800"), load_hardware("a800")
    b200 = load_hardware("b200")
    assert gemm_dtype(b200, Precision(weights="fp4")) == "fp4"
    assert gemm_dtype(a800, Precision(weights="int8")) == "int8"
    with pytest.raises(AfdscopeError, match=r"'h800' has no dense FP4 peak.*it has: bf16, fp8, int8"):
        gemm_dtype(h800, Precision(weights="fp4"))
    with pytest.raises(AfdscopeError, match=r"'a800' has no dense FP8 peak.*it has: bf16, int8"):
        expert_layer_time_s(a800, 10_000, 1, H, M, FP8, IDEAL_GEMM)
    # A800 W8A8 INT8 experts: 10,000 tokens over 1 expert is compute bound at the 624 TOPS INT8 rate.
    t = expert_layer_time_s(a800, 10_000, 1, H, M, Precision(weights="int8"), IDEAL_GEMM)
    assert float(t) == pytest.approx(6 * 10_000 * H * M / 624e12)


# --- dense GEMM and MLP ----------------------------------------------------------------------------------


def test_gemm_and_mlp_rooflines_by_hand():
    h800 = load_hardware("h800", "paper")
    # LM head of DeepSeek-V3 (129,280 × 7168, FP8) for 64 rows: 926.7 MB at 3.35 TB/s = 276.6 µs.
    t = gemm_time_s(h800, 64, H, 129_280, FP8, IDEAL_GEMM)
    assert float(t) == pytest.approx(H * 129_280 / BW_H800)
    # 8192 rows: compute 2 · 8192 · H · V / F = 7.67 ms.
    assert float(gemm_time_s(h800, 8192, H, 129_280, FP8, IDEAL_GEMM)) == pytest.approx(
        2 * 8192 * H * 129_280 / F_H800
    )
    # Dense MLP (H × 18432, 3 matrices): 396 MB → 118.3 µs at small batch.
    assert float(mlp_time_s(h800, 16, H, 18432, FP8, IDEAL_GEMM)) == pytest.approx(3 * H * 18432 / BW_H800)


# --- properties ------------------------------------------------------------------------------------------

TOKENS = np.array([0.0, 1, 7, 64, 256, 740, 3000, 20000, 1e6])
EXPERTS = np.array([1.0, 2, 4, 8, 32, 256]).reshape(-1, 1)


@pytest.mark.parametrize("calibration", [IDEAL_GEMM, DEFAULT_GEMM])
@pytest.mark.parametrize("hw_name", ["h800", "h20", "a800", "b200"])
def test_more_bandwidth_or_flops_never_slows(calibration, hw_name):
    base = load_hardware(hw_name)
    faster_hbm = base.model_copy(update={"hbm_bandwidth": base.hbm_bandwidth * 1.5})
    peaks = ("bf16_flops", "fp8_flops", "fp4_flops", "int8_flops")
    scale = {k: getattr(base, k) and getattr(base, k) * 1.5 for k in peaks}
    faster_flops = base.model_copy(update=scale)
    for precision in (Precision(weights=d) for d in base.dtypes):
        t0 = expert_layer_time_s(base, TOKENS, EXPERTS, H, M, precision, calibration)
        for faster in (faster_hbm, faster_flops):
            t1 = expert_layer_time_s(faster, TOKENS, EXPERTS, H, M, precision, calibration)
            assert np.all(t1 <= t0)
            for f in (mlp_time_s, gemm_time_s):
                slow = f(base, TOKENS, H, M, precision, calibration)
                assert np.all(f(faster, TOKENS, H, M, precision, calibration) <= slow)


@pytest.mark.parametrize("calibration", [IDEAL_GEMM, DEFAULT_GEMM])
def test_times_are_finite_non_negative_and_rise_with_tokens(calibration):
    h20 = load_hardware("h20")
    t = expert_layer_time_s(h20, TOKENS, EXPERTS, H, M, FP8, calibration)
    assert t.shape == (len(EXPERTS), len(TOKENS))
    assert np.all(np.isfinite(t)) and np.all(t >= 0)
    assert np.all(np.diff(t, axis=1) >= 0)
    for f in (mlp_time_s, gemm_time_s):
        x = f(h20, TOKENS, H, M, FP8, calibration)
        assert np.all(np.isfinite(x)) and np.all(x >= 0) and np.all(np.diff(x) >= 0)


def test_vectorised_equals_elementwise():
    h800 = load_hardware("h800")
    grid = expert_layer_time_s(h800, TOKENS, EXPERTS, H, M, FP8)
    for i, e in enumerate(EXPERTS[:, 0]):
        for j, a in enumerate(TOKENS):
            assert grid[i, j] == expert_layer_time_s(h800, float(a), float(e), H, M, FP8)
    d = expected_distinct_experts(EXPERTS, TOKENS)
    assert d[3, 4] == expected_distinct_experts(EXPERTS[3, 0], TOKENS[4])
    m = mlp_time_s(h800, TOKENS, H, M, FP8)
    assert [float(mlp_time_s(h800, b, H, M, FP8)) for b in TOKENS] == list(m)


def test_negative_counts_are_errors():
    h800 = load_hardware("h800")
    with pytest.raises(AfdscopeError):
        expert_layer_time_s(h800, -1, 4, H, M, FP8, IDEAL_GEMM)
    with pytest.raises(AfdscopeError):
        gemm_time_s(h800, -1, H, M, FP8)
    with pytest.raises(AfdscopeError):
        mlp_time_s(h800, 1, H, 0, FP8)
    assert math.isfinite(float(expert_layer_time_s(h800, 0, 4, H, M, FP8)))


# --- kernel model (profiles) ------------------------------------------------------------------------------


def test_kernel_model_by_hand():
    """16 experts × 64 rows on H200 with explicit kernel values: both GEMMs worked out here."""
    from afdscope.calibration.profiles import GemmKernel
    from afdscope.ops.experts import gemm_kernel_time

    k = GemmKernel(e_mem=0.8, e_mma=0.7, tile_m=64, t_min_s=5e-6, k0=0.0, overlap_p=2.0)
    bw, f = 4.8e12, 1979e12
    rows, g = 16 * 64, 16
    # gate_up: N = 4096, K = 7168; bytes = weights + rows·(K·1 B in + N·2 B out)
    mem = (g * 4096 * 7168 + rows * (7168 + 4096 * 2)) / (bw * 0.8)
    mma = 2 * rows * 4096 * 7168 / (f * 0.7)
    t = gemm_kernel_time(k, bw, f, rows, 4096, 7168, 1.0, g, 1.0)
    assert float(t.time_s) == pytest.approx(math.hypot(mem, mma) + 5e-6, rel=1e-12)
    # 1 row per expert pads to the 64-row tile: same MMA time as 64 rows
    t1 = gemm_kernel_time(k, bw, f, 16, 4096, 7168, 1.0, g, 1.0)
    assert float(t1.mma_s) == pytest.approx(float(t.mma_s), rel=1e-12)


def test_fixed_cost_does_not_scale_with_flops():
    """A GPU with 10x the FLOPS gets the same fixed time; a latency-bound layer barely changes."""
    h20 = load_hardware("h20")
    fast = h20.model_copy(update={"fp8_flops": h20.fp8_flops * 10})
    slow_p = expert_layer_parts(h20, 1, 1, H, M, FP8)
    fast_p = expert_layer_parts(fast, 1, 1, H, M, FP8)
    assert slow_p.fixed_time_s == fast_p.fixed_time_s > 0
    # H20 R1 EP16, 32 rows per expert, 16 experts: a few hundred µs (issue 11), not the old 1.5 ms
    t = float(
        expert_layer_time_s(h20, 16 * 32, 16, H, M, FP8, replace(DEFAULT_GEMM, count_distinct_experts=False))
    )
    # weight read alone: 16 · 3 · 7168 · 2048 B / 4.0 TB/s = 176 µs; the result stays within 1.2–2.5 x of it
    assert 1.2 * 176e-6 < t < 2.5 * 176e-6


def test_profiles_measured_or_inherited():
    assert expert_layer_parts(load_hardware("h200"), 64, 8, H, M, FP8).profile.status == "measured"
    p = expert_layer_parts(load_hardware("h20"), 64, 8, H, M, FP8)
    assert (p.profile.profile, p.profile.status) == ("hopper/gemm.grouped.fp8", "inherited")
    assert expert_layer_parts(load_hardware("b200"), 64, 8, H, M, FP8).profile.profile.startswith("blackwell")
    assert expert_layer_parts(
        load_hardware("a800"), 64, 8, H, M, Precision(weights="int8")
    ).profile.status == ("inherited")


def test_held_out_moe_errors_meet_the_targets():
    """Pinned from the committed tables: the MoE kernel model on every GPU's held-out expert-parallel
    degrees (issue 11 targets: median ≤ 10 %, worst ≤ 25 %), and the H800 transfer (DeepGEMM README)."""
    from afdscope.calibration.fit import error_table

    rows = error_table()
    moe = [r for r in rows if r.operator == "moe"]
    assert {r.hardware for r in moe} == {"h100", "h200", "b200", "b300", "gb200", "gb300"}
    for r in moe:
        assert r.n >= 10 and r.median_abs_error <= 0.06 and r.max_abs_error <= 0.10, r
    (h800,) = [r for r in rows if r.operator == "deepgemm_grouped_masked"]
    assert h800.status == "inherited" and h800.median_abs_error <= 0.10 and h800.max_abs_error <= 0.20
    for r in rows:
        if r.operator.startswith("gemm"):
            # dense GEMMs (worst-case target not met, docs/calibration.md); the median recorded at 0.128
            # with the per-K latency, rounded up
            assert r.median_abs_error <= 0.15, r


def test_hold_out_is_by_shape():
    from afdscope.calibration.fit import held_out

    assert held_out([4, 8, 16, 32, 64, 128, 256, 4, 8]) == {8, 128}  # sorted, every 4th from the 2nd
    assert held_out([1]) == set()


@pytest.mark.parametrize(
    ("hw_name", "m", "n", "k", "measured_us"),
    [
        # aiconfigurator gemm.csv, DeepGEMM FP8 (fp8_block): one long reduction over a narrow output
        # (the K loop, not the 1.8 MB of weights, sets the time) against short ones over wide outputs
        # (H100's 16384 × 256 at one row, 4.6 µs, is predicted 27 % slow: its 4.2 MB stream under the
        # fixed time rather than after it)
        ("h100", 1, 256, 7168, 10.752),
        ("h100", 16, 256, 3072, 6.70222),
        ("b200", 64, 512, 7168, 11.3609),
        ("b200", 1, 7168, 256, 6.30044),
    ],
)
def test_dense_gemm_fixed_time_grows_with_the_reduction(hw_name, m, n, k, measured_us):
    from afdscope.ops.experts import gemm_time_s
    from afdscope.specs.scenario import Precision

    t = float(gemm_time_s(load_hardware(hw_name), m, k, n, Precision(weights="fp8"))) * 1e6
    assert t == pytest.approx(measured_us, rel=0.15)


def test_dense_fit_is_the_shipped_entry_from_a_fixed_start():
    # `make calibrate` must reproduce the shipped profile whatever the profile held before (the fit starts
    # from calibration.fit.DENSE_START, not from the values it rewrites). Hopper FP8, H100 + H200 tables.
    from dataclasses import replace

    from afdscope.calibration.fit import DENSE_START, FAMILY_SYSTEMS, fit_kernel, gemm_rows
    from afdscope.calibration.profiles import gemm_kernel

    rows = [r for r in (gemm_rows(s, "fp8") for s in FAMILY_SYSTEMS["hopper"]) if r is not None]
    shipped, _ = gemm_kernel("hopper", "dense", "fp8")
    fitted, _ = fit_kernel(rows, replace(shipped, **DENSE_START), fit_k0=True)
    assert fitted.e_mem == pytest.approx(shipped.e_mem, abs=1e-4)
    assert fitted.e_mma == pytest.approx(shipped.e_mma, abs=1e-4)
    assert fitted.t_min_s == pytest.approx(shipped.t_min_s, abs=1e-9)
    assert fitted.t_k_s == pytest.approx(shipped.t_k_s, abs=1e-13)
    assert fitted.k0 == pytest.approx(shipped.k0, abs=0.1)
