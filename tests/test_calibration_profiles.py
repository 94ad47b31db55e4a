"""Kernel profiles (calibration/profiles/*.yaml), the small-op list, the error table and its CLI.

Expected values are worked out here from the equations and the profile numbers, or are the issue's targets;
medians are computed from the committed CSVs, so a model or data regression fails here.
"""

import json

import numpy as np
import pytest

from afdscope.calibration.fit import error_table
from afdscope.calibration.profiles import gemm_kernel, list_profiles, load_profile
from afdscope.catalog.hardware_catalog import list_hardware, load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.ops.attention import attention_layer_parts
from afdscope.ops.small_ops import IDEAL_SMALL_OPS, small_ops_parts, small_ops_time_s
from afdscope.specs.scenario import Precision

V3 = load_model("deepseek-v3")


@pytest.fixture(scope="module")
def table():
    return error_table()


def test_every_catalog_gpu_names_a_known_profile():
    for name in list_hardware():
        family = load_hardware(name).calibration_profile
        assert family in list_profiles(), name
        assert load_profile(family)["family"] == family


def test_gpus_without_tables_inherit_their_family():
    # H800 and H20 have no aiconfigurator tables: they take hopper's values, marked inherited.
    k_h200, use_h200 = gemm_kernel("hopper", "grouped", "fp8", "h200")
    k_h20, use_h20 = gemm_kernel("hopper", "grouped", "fp8", "h20")
    assert k_h20 == k_h200
    assert (use_h200.status, use_h20.status) == ("measured", "inherited")
    # ampere has no entries of its own and inherits hopper's through `inherits`
    assert gemm_kernel("ampere", "dense", "int8", "a800")[1].status == "inherited"
    with pytest.raises(AfdscopeError, match="unknown calibration profile"):
        gemm_kernel("volta", "dense", "fp8")


def test_attention_entry_follows_the_attention_format():
    h200, b200 = load_hardware("h200"), load_hardware("b200")
    fp8 = attention_layer_parts(V3, h200, 32, 4096, Precision(kv="fp8", attention="fp8"))
    bf16 = attention_layer_parts(V3, h200, 32, 4096, Precision())
    assert (fp8.profile.profile, fp8.profile.status) == ("hopper/attention.fp8", "measured")
    assert bf16.profile.profile == "hopper/attention.bf16"
    assert attention_layer_parts(V3, b200, 32, 4096, Precision()).profile.status == "inherited"


def test_small_ops_by_hand():
    h800 = load_hardware("h800")  # hopper small ops: 0.6 of 3.35 TB/s, 2 µs floor
    parts = small_ops_parts(V3, h800, 1024, Precision())
    # dispatch quantisation: read H BF16, write H FP8 per token: 1024 · 7168 · 3 B = 22.0 MB → 10.95 µs
    assert float(parts["quant_dispatch"][1]) == pytest.approx(1024 * 7168 * 3 / (0.6 * 3.35e12))
    # router over 1 token: 256 × 7168 BF16 weights = 3.67 MB → 1.83 µs, below the 2 µs floor
    assert float(small_ops_parts(V3, h800, 1, Precision())["router_gemm"][1]) == 2e-6
    sides = {side for side, _ in parts.values()}
    assert sides == {"attention", "ffn"}
    total = small_ops_time_s(V3, h800, [1, 1024], Precision())
    split = sum(small_ops_time_s(V3, h800, [1, 1024], Precision(), side=s) for s in ("attention", "ffn"))
    assert total == pytest.approx(split)
    assert np.all(small_ops_time_s(V3, h800, [0, 5], Precision(), IDEAL_SMALL_OPS) == 0)
    with pytest.raises(AfdscopeError):
        small_ops_time_s(V3, h800, -1, Precision())


def test_small_ops_faster_with_more_bandwidth():
    h20 = load_hardware("h20")
    fast = h20.model_copy(update={"hbm_bandwidth": 2 * h20.hbm_bandwidth})
    t = small_ops_time_s(V3, h20, [1, 64, 4096], Precision())
    assert np.all(small_ops_time_s(V3, fast, [1, 64, 4096], Precision()) <= t)
    assert np.all(np.isfinite(t) & (t > 0))


def test_mla_module_errors(table):
    """Held-out head counts of the SGLang MLA decode-module tables. Issue 11's targets (median ≤ 10 %, worst
    ≤ 25 %) are not met: the core efficiencies are fixed (not identifiable from this table), median 8–14 %,
    worst 31–46 %; pinned here so it cannot grow."""
    rows = [r for r in table if r.operator == "mla_module"]
    assert {r.hardware for r in rows} == {"h100", "h200", "b200", "b300", "gb200", "gb300"}
    for r in rows:
        assert r.median_abs_error <= 0.15 and r.max_abs_error <= 0.50, r


def test_step3_attention_rows(table):
    rows = {r.hardware: r for r in table if r.operator == "attention_layer"}
    assert set(rows) == {"h800", "h20", "a800"}
    assert all(r.median_abs_error <= 0.10 and r.max_abs_error <= 0.13 for r in rows.values())
    assert rows["a800"].status == "inherited"


def test_calibration_cli_json_and_bad_format(cli):
    out = cli("calibration", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {"operator", "hardware", "source", "n", "median_abs_error", "max_abs_error", "profile"} <= set(
        rows[0]
    )
    assert cli("calibration", "--format", "xml").returncode == 2


def test_op_commands(cli, assert_clean_error):
    out = cli(
        "op",
        "experts",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h20",
        "--experts",
        "16",
        "--tokens-per-expert",
        "32",
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["time_us"] == pytest.approx(r["gemm_us"]["gate_up"] + r["gemm_us"]["down"] + r["activation_us"])
    assert r["profile"] == {"profile": "hopper/gemm.grouped.fp8", "status": "inherited"}
    assert r["bound"] in ("memory", "compute", "latency")
    out = cli(
        "op",
        "attention",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h200",
        "--batch",
        "64",
        "--context",
        "4096",
        "--kv-dtype",
        "fp8",
        "--attention-dtype",
        "fp8",
    )
    assert out.returncode == 0, out.stderr
    a = json.loads(out.stdout)
    assert a["time_us"] == pytest.approx(
        a["core_us"] + a["projections_us"] + a["small_ops_us"] + a["overhead_us"]
    )
    assert a["profile"] == {"profile": "hopper/attention.fp8", "status": "measured"}
    # FP8 attention is charged no faster and no slower than BF16 in the core (no measured speed-up)
    b = json.loads(
        cli(
            "op",
            "attention",
            "--model",
            "deepseek-v3",
            "--hardware",
            "h200",
            "--batch",
            "64",
            "--context",
            "4096",
            "--kv-dtype",
            "fp8",
        ).stdout
    )
    assert a["core_us"] == pytest.approx(b["core_us"], rel=1e-3)
    bad = cli(
        "op",
        "experts",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--experts",
        "4",
        "--tokens-per-expert",
        "8",
        "--weights",
        "fp4",
    )
    assert_clean_error(bad, "FP4", "h800")
    assert_clean_error(
        cli(
            "op",
            "attention",
            "--model",
            "deepseek-v3",
            "--hardware",
            "h800",
            "--batch",
            "0",
            "--context",
            "10",
        ),
        "--batch",
    )


def test_transfer_to_gpus_without_tables(table):
    """H800 and H20 have no tables of their own: the Hopper profile plus their datasheets predict the
    public DeepGEMM masked-GEMM figures (README, H800; issue #114 / PR #192, H20) within these bounds."""
    rows = {(r.operator, r.hardware): r for r in table}
    h800 = rows[("deepgemm_grouped_masked", "h800")]
    h20 = rows[("deepgemm_h20_masked", "h20")]
    assert h800.status == h20.status == "inherited"
    assert h800.median_abs_error <= 0.10 and h800.max_abs_error <= 0.20
    assert h20.median_abs_error <= 0.15 and h20.max_abs_error <= 0.30


def test_op_dispatch_and_combine(cli, assert_clean_error):
    args = ("--model", "deepseek-v3", "--hardware", "h800", "--gpus", "32", "--tokens-per-gpu", "128")
    d = json.loads(cli("op", "dispatch", *args).stdout)
    # 128 tokens × top-8 = 1024 copies: 1/32 stay local, 7/32 ride NVLink (same node), 24/32 RDMA
    assert d["nvlink_bytes"] / d["rdma_bytes"] == pytest.approx(7 / 24)
    per_copy = d["nvlink_bytes"] / (1024 * 7 / 32)
    assert 7168 <= per_copy < 7168 * 1.05  # FP8 hidden vector plus its scales and routing metadata
    c = json.loads(cli("op", "combine", *args).stdout)
    assert c["nvlink_bytes"] == pytest.approx(2 * 1024 * 7 / 32 * 7168)  # BF16, no scales
    assert d["time_us"] == pytest.approx(155, rel=0.10)  # DeepEP README (current), EP32: 155 µs
    assert_clean_error(cli("op", "combine", *args, "--combine-dtype", "fp4"), "--combine-dtype")


def test_deepep_rows_in_the_error_table(table):
    rows = {(r.operator, r.hardware): r for r in table if r.operator.startswith("deepep_ll")}
    assert {h for _, h in rows} >= {"h100", "h200", "b200", "b300", "h800"}
    for hw in ("h100", "h200"):
        assert rows[("deepep_ll_rdma", hw)].median_abs_error <= 0.06


@pytest.mark.parametrize(("family", "gpus"), [("hopper", ("h100", "h200")), ("blackwell", ("b200", "b300"))])
def test_fp8_attention_core_is_the_bf16_kernels_rate(family, gpus):
    # docs/ops/attention.md: the FP8 entry's KV efficiency is the BF16 fit's and its MMAs run at the BF16
    # kernel's FLOP/s (no FP8 speed-up assumed), i.e. e_fp8 · FP8 peak = e_bf16 · BF16 peak on every GPU.
    from afdscope.calibration.fit import FP8_ATTENTION_COMPUTE_EFFICIENCY, FP8_ATTENTION_HBM_EFFICIENCY

    att = load_profile(family)["attention"]
    assert att["fp8"]["hbm_efficiency"] == att["bf16"]["hbm_efficiency"] == FP8_ATTENTION_HBM_EFFICIENCY
    assert att["fp8"]["compute_efficiency"] == FP8_ATTENTION_COMPUTE_EFFICIENCY
    for name in gpus:
        hw = load_hardware(name)
        bf16_rate = att["bf16"]["compute_efficiency"] * hw.peak_flops("bf16")
        assert FP8_ATTENTION_COMPUTE_EFFICIENCY * hw.peak_flops("fp8") == pytest.approx(bf16_rate, rel=1e-3)
