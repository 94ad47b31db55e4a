"""Kernel profiles (calibration/profiles/*.yaml), the small-op list, the error table and its CLI.

Expected values are worked out here from the equations and the profile numbers, or are the issue's targets;
medians are computed from the committed CSVs, so a model or data regression fails here.
"""

import json
import math

import numpy as np
import pytest

from afdscope.calibration.fit import _measured as read_table_rows
from afdscope.calibration.fit import error_table, mla_core_rows
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
    """Held-out head counts (TP4, 32 heads) of TRT-LLM's MLA decode-module tables, which the FP8 entries are
    fitted on: issue 11's targets (median <= 10 %, worst <= 25 %) on every GPU. Blackwell's 32-head rows
    hold only because the core reads the KV twice there (kernel-table fit of kv_repass_share, below)."""
    rows = [r for r in table if r.operator == "mla_module"]
    assert {r.hardware for r in rows} == {"h100", "h200", "b200", "b300", "gb200", "gb300"}
    for r in rows:
        assert r.median_abs_error <= 0.10, r
        assert r.max_abs_error <= 0.25, r


def test_mla_core_rows(table):
    # The entries' core against the kernel-only tables: the Blackwell BF16 core is fitted there (held-out
    # 64 heads), the rest is a check of the module fits and of Step-3's BF16 fit.
    rows = {(r.operator, r.hardware): r for r in table if r.operator.startswith("mla_core")}
    for hw in ("b200", "b300", "gb200", "gb300"):
        assert rows[("mla_core_bf16", hw)].status == "measured"
        assert rows[("mla_core_bf16", hw)].median_abs_error <= 0.10
    for hw in ("h100", "h200"):  # 0.16 before the 32-head rows joined the tables
        assert rows[("mla_core_bf16", hw)].median_abs_error <= 0.17


def test_kernel_table_rows_slower_than_twice_a_longer_kv_are_dropped():
    # H100 FP8 KV, 32 heads, batch 16: 1,424.96 µs at 16,383 tokens, 128.52 µs at 32,767 — a timing glitch.
    t = mla_core_rows("h100_sxm", "fp8")
    same = (t["heads"] == 32) & (t["batch"] == 16)
    assert 32767 in t["length"][same] and 16383 not in t["length"][same]
    assert len(t["measured"]) == len(mla_core_rows("h100_sxm", "bf16")["measured"]) - 1


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
    # The core by hand from the hopper/attention.fp8 entry: 64 requests x 4096 tokens x 656 B of FP8 MLA KV
    # over H200's 4.8 TB/s; 128 query heads (two full 64-row tiles) x (576 + 512) x 2 FLOPs per token over
    # the FP8 peak; each soft maximum p = 2 (the lone-request scan floor 4096 x t_scan joins it).
    e = load_profile("hopper")["attention"]["fp8"]
    kv_s = 64 * 4096 * 656 / (4.8e12 * e["hbm_efficiency"])
    mma_s = 64 * 4096 * 128 * (576 + 512) * 2 / (1979e12 * e["compute_efficiency"])
    scan_s = 4096 * e["scan_ns_per_token"] * 1e-9
    assert a["core_us"] == pytest.approx(math.sqrt(kv_s**2 + mma_s**2 + scan_s**2) * 1e6, rel=2e-3)
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


@pytest.mark.parametrize("family", ["hopper", "blackwell"])
def test_fp8_attention_entry_is_the_fit_of_the_tables(family):
    # The shipped entry is what `afdscope calibration fit` gets from the committed MLA tables (reproducible).
    from afdscope.calibration.fit import FP8_ATTENTION_FITTED, FROM_KERNEL_TABLE, fit_attention_fp8

    values, stats, _ = fit_attention_fp8(family)
    shipped = load_profile(family)["attention"]["fp8"]
    for key in (*FP8_ATTENTION_FITTED, *(k for k in FROM_KERNEL_TABLE if k in values)):
        assert shipped[key] == pytest.approx(values[key], rel=2e-3), key
    assert ("kv_repass_share" in shipped) == (family == "blackwell")
    assert shipped["fit"]["held_out"] == stats["held_out"]


def _h100_kernel_us(framework: str) -> dict[str, float]:
    """{KV dtype: µs} of the H100 kernel-only MLA table at 16 heads, batch 64, 131,071 KV tokens."""
    return {
        r["kv_cache_dtype"]: float(r["latency_us"])
        for r in read_table_rows("h100_sxm", "mla_core")
        if r["framework"] == framework
        and (r["num_heads"], r["batch_size"], r["kv_len"]) == ("16", "64", "131071")
    }


def test_fp8_kv_halves_the_per_token_read_as_the_native_kernel_measures():
    # TRT-LLM's MLA decode kernel, H100, 16 heads, batch 64, 131,071 KV tokens (measured/h100_sxm/
    # mla_core.csv, not used by the module fit): FP8 KV 1,670 µs, BF16 KV 3,102 µs, ratio 0.54. The entries'
    # per-token KV reads (656 B at the FP8 entry's efficiency, 1,152 B at the BF16 entry's) agree within 15 %.
    rows = _h100_kernel_us("trtllm")
    assert rows["fp8"] / rows["bfloat16"] == pytest.approx(1670 / 3102, rel=0.02)
    att = load_profile("hopper")["attention"]
    model = (656 / att["fp8"]["hbm_efficiency"]) / (1152 / att["bf16"]["hbm_efficiency"])
    assert model == pytest.approx(rows["fp8"] / rows["bfloat16"], rel=0.15)


def test_sglang_hopper_fp8_kv_path_is_not_native():
    # Why the FP8 entries are fitted on TRT-LLM's module tables (calibration.fit.FP8_ATTENTION_FRAMEWORK):
    # SGLang's FA3 kernel with FP8 KV is over 3x slower than with BF16 KV at the same shape on H100.
    rows = _h100_kernel_us("sglang")
    assert rows["fp8"] > 3 * rows["bfloat16"]


def test_the_fit_uses_the_operators_equation():
    # calibration.fit recombines unit-efficiency terms; at TP 1 with every projection timed that must be
    # ops.attention's own total for the same entry, or the error table would check another model.
    from afdscope.calibration.fit import Rows, _attention_predict, mla_terms

    batch, kv = np.array([1.0, 64, 512]), np.array([16384.0, 4096, 256])
    rows = Rows(
        operator="mla_module_trtllm",
        source="test",
        fmt="fp8",
        hardware=np.array(["h200"] * 3),
        inputs={"heads": np.full(3, 128.0), "batch": batch, "kv": kv},
        measured_s=np.ones(3),
        shape_key=np.full(3, 128),
    )
    entry = load_profile("hopper")["attention"]["fp8"]
    prec = Precision(weights="fp8", kv="fp8", attention="fp8")
    op = attention_layer_parts(load_model("deepseek-v3"), load_hardware("h200"), batch, kv, prec).total_s
    assert _attention_predict(mla_terms(rows), entry) == pytest.approx(op, rel=1e-9)


def test_blackwell_bf16_core_is_the_fit_of_the_kernel_tables():
    # The core values of blackwell/attention.bf16 are what fit_attention_core gets from mla_core.csv now.
    from afdscope.calibration.fit import CORE_FITTED, fit_attention_core

    values, stats, measured_on = fit_attention_core("blackwell", "bf16")
    shipped = load_profile("blackwell")["attention"]["bf16"]
    for key in (*CORE_FITTED, "kv_repass_share", "kv_pass_heads", "kv_pass_max_heads"):
        assert shipped[key] == pytest.approx(values[key], rel=2e-3), key
    assert shipped["core_measured_on"] == measured_on
    assert stats["held_out"]["median_abs_error"] <= 0.10
