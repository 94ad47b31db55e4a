"""The typed values an evaluation is built from: deployments, calibration, routing skew."""

import numpy as np
import pytest
from pydantic import ValidationError

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import eval_afd
from afdscope.deploy.calibration import CALIBRATIONS, named_calibration
from afdscope.deploy.ep import eval_ep, evaluate_ep
from afdscope.errors import AfdscopeError
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import BALANCED, RoutingSkew

H800 = load_hardware("h800")
V3 = load_model("deepseek-v3")
CTX = Scenario(context_tokens=4096)


def test_ep_micro_batches_follow_the_overlap():
    assert EpDeployment(hardware=H800, gpus=8).micro_batches == 2
    assert EpDeployment(hardware=H800, gpus=8, overlap="sbo").micro_batches == 1
    assert EpDeployment(hardware=H800, gpus=8, overlap="nbo").micro_batches == 1


def test_experts_per_gpu_count_eplb_slots():
    # (256 + 32) / 72 = 4 slots per GPU; AFD: (256 + 0) · 2 shards / 16 GPUs = 32.
    assert EpDeployment(hardware=H800, gpus=72, redundant_experts=32).experts_per_gpu(V3) == 4
    afd = AfdDeployment(
        attention_hardware=H800,
        ffn_hardware=H800,
        attention_gpus=32,
        ffn_gpus=16,
        expert_tp=2,
        redundant_experts=0,
    )
    assert afd.experts_per_gpu(V3) == 32
    # Named none: EPLB's usual 1/8 replicas, rounded up to fill every rank — 288 slots over 8 shard groups
    # (36 shards per GPU); EP128: 288 → 384 slots, 128 replicas, 3 per GPU.
    assert afd.replace(redundant_experts=None).experts_per_gpu(V3) == 36
    assert EpDeployment(hardware=H800, gpus=128).redundant_for(V3) == 128
    assert afd.total_gpus == 48


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"gpus": 0}, "at least 1 GPU"),
        ({"gpus": 12, "attention_tp": 8}, "does not divide 12 GPUs"),
        ({"gpus": 8, "overlap": "3bo"}, "EpDeployment.overlap"),
        ({"gpus": 8, "redundant_experts": -1}, "redundant_experts"),
        ({"gpus": 8, "spare": 1}, "spare"),
    ],
)
def test_bad_ep_deployments_raise_one_named_error(kwargs, words):
    with pytest.raises(AfdscopeError, match=words):
        EpDeployment(hardware=H800, **kwargs)


def test_bad_afd_micro_batches():
    with pytest.raises(AfdscopeError, match="2, 3 or 4"):
        AfdDeployment(
            attention_hardware=H800, ffn_hardware=H800, attention_gpus=8, ffn_gpus=8, micro_batches=5
        )


def test_deployments_are_frozen_and_replace_revalidates():
    dep = EpDeployment(hardware=H800, gpus=16)
    with pytest.raises(ValidationError, match="frozen"):
        dep.gpus = 8
    assert dep.replace(gpus=32).gpus == 32 and dep.gpus == 16
    with pytest.raises(AfdscopeError, match="at least 1 GPU"):
        dep.replace(gpus=0)


def test_skew_accepts_scalars_and_draws_and_rejects_below_one():
    assert BALANCED.is_balanced
    drawn = RoutingSkew(expert_load_factor=np.array([1.0, 1.5]))
    assert not drawn.is_balanced
    assert np.allclose(drawn.times(2.0, 1.0).expert_load_factor, [2.0, 3.0])
    with pytest.raises(AfdscopeError, match="comm_load_factor"):
        RoutingSkew(comm_load_factor=0.9)


def test_named_calibrations():
    assert set(CALIBRATIONS) >= {"default", "paper"}
    paper = named_calibration("paper")
    assert paper.step_overhead_s == 15e-3 and not paper.pipeline_fill and paper.dedup == "paper"
    assert named_calibration("default", step_overhead_s=0.0).step_overhead_s == 0.0
    with pytest.raises(AfdscopeError, match="choose one of: default, paper"):
        named_calibration("fast")


def test_results_carry_the_deployment():
    dep = EpDeployment(hardware=H800, gpus=128, redundant_experts=32)
    skew = RoutingSkew(expert_load_factor=1.2)
    new = eval_ep(V3, dep, CTX, batch_per_gpu=64, skew=skew)
    assert new.deployment == dep and "deployment" not in new.as_dict()
    # Skew slows the busiest GPU: 1.2× the routed-expert work, never faster.
    ideal = eval_ep(V3, dep, CTX, batch_per_gpu=64, skew="balanced")
    assert new.per_layer_us["ffn"] > ideal.per_layer_us["ffn"]


def test_afd_sweep_point_carries_its_own_attention_count():
    dep = AfdDeployment(attention_hardware=H800, ffn_hardware=H800, attention_gpus=32, ffn_gpus=16)
    r = eval_afd(V3, dep, CTX, batch_per_gpu=30)
    assert r.deployment.attention_gpus == 32 and r.config["attention_gpus"] == 32
    from afdscope.deploy.afd import evaluate_afd

    ev = evaluate_afd(V3, dep, CTX, 30.0, attention_gpus=np.array([16.0, 32.0, 64.0]))
    assert ev.point(2).deployment.attention_gpus == 64 and ev.point(2).total_gpus == 80


def test_evaluate_ep_vectorises_over_batches():
    ev = evaluate_ep(V3, EpDeployment(hardware=H800, gpus=64), CTX, np.array([8.0, 16.0, 32.0]))
    assert ev.step_s.shape == (3,) and np.all(np.diff(ev.step_s) > 0)
