"""Numeric formats: weights / expert weights, INT8 rate, unsupported formats, all-to-all message bytes."""

import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.ops.comm import DEFAULT_COMM, IDEAL_COMM, ep_comm, payload_bytes
from afdscope.ops.memory import ep_weights_per_gpu
from afdscope.specs.scenario import Precision

H = 7168


def test_expert_weights_override_only_the_routed_experts():
    p = Precision(weights="fp8", expert_weights="fp4")
    assert (p.weight_bytes, p.expert_weight_bytes) == (1.0, 0.53125)
    assert (p.gemm_dtype, p.expert_gemm_dtype) == ("fp8", "fp4")
    assert Precision(weights="int8").expert_gemm_dtype == "int8"  # None = same as weights
    v3 = load_model("deepseek-v3")
    fp8 = ep_weights_per_gpu(v3, 128, Precision())
    mixed = ep_weights_per_gpu(v3, 128, p)
    # 2 experts x 58 layers x 3·7168·2048 params at 0.53125 B, the rest unchanged
    assert mixed.routed_experts == pytest.approx(2 * 58 * 3 * 7168 * 2048 * 0.53125)
    assert mixed.attention == fp8.attention and mixed.shared_experts == fp8.shared_experts


def test_int8_runs_at_the_int8_rate():
    assert load_hardware("ascend-910c").peak_flops("int8") == 1504e12
    assert load_hardware("a800").peak_flops("int8") == 624e12
    assert load_hardware("h800").peak_flops("int8") == 1979e12
    assert load_hardware("b200").peak_flops("int8") == 4500e12
    assert load_hardware("b300").peak_flops("int8") == 150e12  # Blackwell Ultra's reduced INT8
    assert load_hardware("mi355x").int8_flops is None


@pytest.mark.parametrize(
    ("hw", "dtype", "has"),
    [("h800", "fp4", "bf16, fp8, int8"), ("a800", "fp8", "bf16, int8"), ("ascend-910c", "fp8", "bf16, int8")],
)
def test_unsupported_format_is_an_error_naming_what_the_device_has(hw, dtype, has):
    with pytest.raises(AfdscopeError, match=rf"no dense {dtype.upper()} peak.*it has: {has}\)"):
        load_hardware(hw).runnable_dtype(dtype)


def test_dispatch_and_combine_bytes_per_format_by_hand():
    # FP8: H + H/128·4 scale bytes + 16 metadata = 7,408; NVFP4: H/2 + H/16 FP8 scales + 16 = 4,048;
    # INT8: H + one FP32 per token + 16 = 7,188; BF16: 2H + 16 = 14,352.
    for dtype, want in (("fp8", 7408), ("fp4", 4048), ("int8", 7188), ("bf16", 14352)):
        assert float(DEFAULT_COMM.dispatch_bytes(H, Precision(dispatch=dtype))) == want
        assert float(payload_bytes(H, dtype, 16.0)) == want
    for dtype, want in (("bf16", 14336), ("fp8", 7392), ("int8", 7172)):
        assert float(DEFAULT_COMM.combine_bytes(H, Precision(combine=dtype))) == want
    # the default precision keeps the earlier bytes; the paper's IDEAL_COMM keeps 1 B / 2 B whatever asked
    assert float(DEFAULT_COMM.dispatch_bytes(H, Precision())) == float(DEFAULT_COMM.dispatch_bytes(H))
    fp4 = Precision(dispatch="fp4", combine="fp8")
    assert float(IDEAL_COMM.dispatch_bytes(H, fp4)) == H and float(IDEAL_COMM.combine_bytes(H, fp4)) == 2 * H


def test_comm_time_follows_the_dispatch_format():
    v3, h800 = load_model("deepseek-v3"), load_hardware("h800")
    fp8 = ep_comm(v3, h800, 128, 64, precision=Precision())
    fp4 = ep_comm(v3, h800, 128, 64, precision=Precision(dispatch="fp4"))
    ratio = float(fp4.dispatch_scale_out_bytes) / float(fp8.dispatch_scale_out_bytes)
    assert ratio == pytest.approx(4048 / 7408)
    assert float(fp4.dispatch_s) < float(fp8.dispatch_s)
    with pytest.raises(AfdscopeError, match="unknown all-to-all format"):
        payload_bytes(H, "fp16")
