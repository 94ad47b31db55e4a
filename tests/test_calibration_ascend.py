"""The ascend profile set from public kernel-level figures (calibration/public/ascend_kernels.csv)."""

import math

import pytest

from afdscope.calibration.fit import ascend_kernel_rows, fit_ascend
from afdscope.calibration.profiles import attention_entry, gemm_kernel, load_profile, small_ops_entry
from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.ops.attention import attention_layer_parts
from afdscope.specs.scenario import Precision


def test_every_figure_has_a_source_and_a_known_use():
    rows = ascend_kernel_rows()
    assert len(rows) == 6
    for r in rows:
        assert r["source"].strip()
        assert r["used_for"] in ("-", "attention.bf16.compute_efficiency")
    # exactly one figure sets an entry; the others are recorded only
    assert [r["kernel"] for r in rows if r["used_for"] != "-"] == ["mla_decode_amla"]


def test_amla_figures_are_consistent_with_each_other():
    # AMLA: 614 TFLOPS = 86.8 % of its theoretical peak -> 614 / 0.868 = 707.4 TFLOPS, 5.9 % below the
    # catalog's 752 (the entry's stated uncertainty).
    rows = [r for r in ascend_kernel_rows() if r["kernel"] == "mla_decode_amla"]
    amla = {r["quantity"]: float(r["value"]) for r in rows}
    assert amla["achieved_tflops"] / amla["utilisation"] == pytest.approx(707.4, abs=0.1)
    peak = load_hardware("ascend-910c", "datasheet").peak_flops("bf16")
    assert peak == pytest.approx(752e12)
    assert 1 - 707.4e12 / peak == pytest.approx(0.059, abs=0.001)


def test_fit_reproduces_the_hand_value():
    # compute_efficiency = 614 TFLOPS / 752 TFLOPS (ascend-910c bf16_dense_tflops) = 0.81649 -> 0.8165
    values, stats, measured_on = fit_ascend()[("attention", "bf16")]
    assert values["compute_efficiency"] == pytest.approx(0.8165, abs=5e-5)
    assert stats["fitted"] == ["compute_efficiency"]
    assert stats["train"] == {"n": 1, "median_abs_error": 0.0, "max_abs_error": 0.0}
    assert measured_on == ["ascend-910c"]


def test_shipped_profile_matches_the_fit_and_copies_hopper_elsewhere():
    shipped = load_profile("ascend")["attention"]["bf16"]
    hopper = load_profile("hopper")["attention"]["bf16"]
    assert shipped["compute_efficiency"] == pytest.approx(0.8165, abs=5e-5)
    # the values no Ascend figure measures are hopper's (refitting hopper must refresh them: fit_ascend)
    for key in ("hbm_efficiency", "projection_efficiency", "overhead_us"):
        assert shipped[key] == hopper[key], key
    inherited = ["hbm_efficiency", "projection_efficiency", "overhead_us"]
    assert shipped["fit"]["inherited_from_hopper"] == inherited


def test_status_measured_for_attention_inherited_for_gemms():
    assert attention_entry("ascend", "bf16", "ascend-910c")[1].status == "measured"
    assert attention_entry("ascend", "bf16", "ascend-910c")[1].profile == "ascend/attention.bf16"
    for kernel in ("grouped", "dense"):
        for fmt in ("int8", "bf16"):
            use = gemm_kernel("ascend", kernel, fmt, "ascend-910c")[1]
            assert use.status == "inherited" and use.profile.startswith("hopper/"), (kernel, fmt)
    assert small_ops_entry("ascend", "ascend-910c")[1].status == "inherited"
    not_measured = {"gemm.grouped", "gemm.dense", "attention.fp8", "small_ops"}
    assert set(load_profile("ascend")["not_measured"]) == not_measured


def test_operator_reaches_amlas_rate_at_a_cube_bound_shape():
    # DeepSeek-V3 absorbed MLA: 2 · 128 heads · (576 + 512) FLOPs per attended token per query row.
    # 8 query rows per request (MTP 7): 1024 rows per KV head -> no head-tile padding. The core MMA term
    # alone must run at 0.8165 · 752 = 614 TFLOPS.
    v3, hw = load_model("deepseek-v3"), load_hardware("ascend-910c", "datasheet")
    batch, context, q = 16, 4096, 8
    prec = Precision(weights="int8", kv="bf16", attention="bf16")
    p = attention_layer_parts(v3, hw, batch, context, prec, q)
    attended = v3.attended_tokens(context) / v3.num_layers
    flops = batch * q * float(attended) * 2 * 128 * (576 + 512)
    assert flops / float(p.core_math_s) == pytest.approx(614e12, rel=1e-3)
    assert p.profile.status == "measured"
    assert math.isfinite(float(p.kv_read_s))


def test_shipped_ub_all_to_all_is_the_fit_of_its_rows():
    from afdscope.calibration.fit import fit_ascend_comm

    values, stats, _ = fit_ascend_comm()
    shipped = load_profile("ascend")["comm"]["ll_nvlink"]
    assert shipped["alpha_us"] == pytest.approx(values["alpha_us"], rel=1e-3)
    assert shipped["e_bw"] == pytest.approx(values["e_bw"], rel=1e-3)
    assert stats["train"]["median_abs_error"] < 0.10
