"""Invariants of the deployment evaluators over random but valid hardware and scenarios (Hypothesis)."""

import math
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import eval_afd, evaluate_afd
from afdscope.deploy.ep import eval_ep, evaluate_ep
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.hardware import Hardware
from afdscope.specs.scenario import Precision, Scenario

PROFILE = settings(max_examples=int(os.environ.get("AFDSCOPE_PROPERTY_EXAMPLES", "30")), deadline=None)
MODELS = {n: load_model(n) for n in ("deepseek-v3", "step3", "qwen3-235b", "gpt-oss-120b")}
BASE = load_hardware("h800")

hardware_st = st.builds(
    lambda fp8, hbm_bw, hbm_cap, up, out: BASE.model_copy(
        update={
            "fp8_flops": fp8,
            "bf16_flops": fp8 / 2,
            "hbm_bandwidth": hbm_bw,
            "hbm_capacity": hbm_cap,
            "scale_up_bandwidth": up,
            "scale_out_bandwidth": out,
        }
    ),
    st.floats(200e12, 10e15),
    st.floats(1e12, 16e12),
    st.floats(48e9, 300e9),
    st.floats(50e9, 1.8e12),
    st.floats(10e9, 400e9),
)
scenario_st = st.builds(
    lambda ctx, drafts, accept, kv: Scenario(
        context_tokens=ctx,
        mtp_draft_tokens=drafts,
        mtp_acceptance=accept if drafts else 0.0,
        precision=Precision(kv=kv),
    ),
    st.integers(128, 131072),
    st.integers(0, 2),
    st.floats(0.0, 1.0),
    st.sampled_from(["fp8", "bf16"]),
)


def _ep(hw, gpus=64):
    return EpDeployment(hardware=hw, gpus=gpus)


def _afd(attention_hw, ffn_hw, attention_gpus=32, ffn_gpus=16, micro_batches=3):
    return AfdDeployment(
        attention_hardware=attention_hw,
        ffn_hardware=ffn_hw,
        attention_gpus=attention_gpus,
        ffn_gpus=ffn_gpus,
        micro_batches=micro_batches,
    )


def _finite_non_negative(*values) -> bool:
    return all(np.all(np.isfinite(v)) and np.all(np.asarray(v) >= 0) for v in values)


@PROFILE
@given(hardware_st, st.sampled_from(sorted(MODELS)), scenario_st, st.integers(1, 512))
def test_evaluations_are_finite_and_non_negative(hw, name, scenario, batch):
    m = MODELS[name]
    for ev in (
        evaluate_ep(m, _ep(hw, 64), scenario, batch),
        evaluate_afd(m, _afd(hw, hw, 32, 16, 3), scenario, batch),
    ):
        assert _finite_non_negative(
            ev.tokens_per_s_per_gpu, ev.tpot_s, ev.step_s, ev.hfu_ffn, ev.max_batch_per_gpu
        )
        assert np.all(ev.hfu_ffn <= 1 + 1e-9)


@PROFILE
@given(
    hardware_st,
    st.sampled_from(sorted(MODELS)),
    st.sampled_from(
        ["scale_out_bandwidth", "scale_up_bandwidth", "hbm_bandwidth", "fp8_flops", "hbm_capacity"]
    ),
    st.floats(1.0, 4.0),
)
def test_more_hardware_never_lowers_throughput(hw, name, field, factor):
    m, s = MODELS[name], Scenario(context_tokens=4096)
    better = hw.model_copy(update={field: getattr(hw, field) * factor})
    for fn in (
        lambda h: eval_ep(m, _ep(h, 64), s, tpot_slo_s=0.06),
        lambda h: eval_afd(m, _afd(h, h, 32, 16, 3), s, tpot_slo_s=0.06),
    ):
        a, b = fn(hw), fn(better)
        if a.feasible:
            assert b.feasible and b.tokens_per_s_per_gpu >= a.tokens_per_s_per_gpu * (1 - 1e-9)


@PROFILE
@given(hardware_st, st.sampled_from(sorted(MODELS)), st.floats(0.01, 0.2), st.floats(1.0, 3.0))
def test_a_longer_slo_never_lowers_throughput(hw, name, slo, factor):
    m, s = MODELS[name], Scenario(context_tokens=4096)
    a = eval_ep(m, _ep(hw, 64), s, tpot_slo_s=slo)
    b = eval_ep(m, _ep(hw, 64), s, tpot_slo_s=slo * factor)
    if a.feasible:
        assert b.feasible and b.tokens_per_s_per_gpu >= a.tokens_per_s_per_gpu * (1 - 1e-9)


@PROFILE
@given(hardware_st, st.sampled_from(sorted(MODELS)), st.integers(1, 256))
def test_deterministic_and_round_trips_through_json(hw, name, batch):
    m, s = MODELS[name], Scenario(context_tokens=8192)
    again_hw = Hardware.model_validate_json(hw.model_dump_json())
    again_model = type(m).model_validate_json(m.model_dump_json())
    again_s = Scenario.model_validate_json(s.model_dump_json())
    first = eval_afd(m, _afd(hw, hw, 32, 16, 3), s, batch_per_gpu=batch)
    assert first == eval_afd(m, _afd(hw, hw, 32, 16, 3), s, batch_per_gpu=batch)
    second = eval_afd(again_model, _afd(again_hw, again_hw, 32, 16, 3), again_s, batch_per_gpu=batch)
    assert math.isclose(first.tokens_per_s_per_gpu, second.tokens_per_s_per_gpu, rel_tol=1e-12)
    assert first.reasons == second.reasons
