"""Layouts beyond the plain ones: AFD attention domains, dedicated shared-expert GPUs, MTP draft passes."""

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.calibration import DEFAULT_CALIBRATION
from afdscope.deploy.ep import evaluate_ep
from afdscope.deploy.step import _HEAD_PRECISION, head_and_mtp_s
from afdscope.errors import AfdscopeError
from afdscope.ops.experts import gemm_time_s
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Scenario

H800 = load_hardware("h800")
V3 = load_model("deepseek-v3")
CTX = Scenario(context_tokens=4096)


def _afd(**kw):
    base = dict(attention_hardware=H800, ffn_hardware=H800, attention_gpus=32, ffn_gpus=16)
    return AfdDeployment(**(base | kw))


def test_attention_domains_take_turns_on_the_ffn_pool():
    one = evaluate_afd(V3, _afd(), CTX, 96.0)
    two = evaluate_afd(V3, _afd(attention_gpus=64, attention_domains=2), CTX, 96.0)
    # A micro-batch of one domain brings the same tokens as a micro-batch of the single 32-GPU pool.
    assert float(two.ffn_s) == pytest.approx(float(one.ffn_s))
    assert float(two.dispatch_s) == pytest.approx(float(one.dispatch_s))
    t_a, t_f = float(two.attention_s), float(two.ffn_s)
    link = max(float(two.dispatch_s), float(two.combine_s))  # full duplex
    round_trip = t_a + float(two.dispatch_s) + t_f + float(two.combine_s)
    # Per attention stage the FFN pool serves both domains' micro-batches.
    assert float(two.layer_s) == pytest.approx(max(3 * max(t_a, 2 * max(t_f, link)), round_trip))
    assert int(two.point().total_gpus) == 80 and two.point().config["attention_domains"] == 2


def test_domains_must_divide_the_attention_gpus():
    with pytest.raises(AfdscopeError, match="3 attention domains do not divide 32"):
        _afd(attention_domains=3)


def test_dedicated_shared_expert_gpus_under_afd():
    with pytest.raises(AfdscopeError, match="shared_expert_gpus"):
        _afd(shared_experts_on="dedicated")
    base = evaluate_afd(V3, _afd(shared_experts_on="ffn"), CTX, 96.0)
    ded = evaluate_afd(V3, _afd(shared_experts_on="dedicated", shared_expert_gpus=8), CTX, 96.0)
    r = ded.point()
    assert r.total_gpus == 32 + 16 + 8
    assert r.memory_gb_per_gpu["attention"]["shared_experts"] == 0
    assert r.memory_gb_per_gpu["ffn"]["shared_experts"] == 0
    # The FFN GPUs no longer run the shared expert.
    assert float(ded.ffn_s) < float(base.ffn_s)


def test_dedicated_shared_expert_gpus_under_ep():
    plain = evaluate_ep(V3, EpDeployment(hardware=H800, gpus=64), CTX, 128.0)
    ded = evaluate_ep(V3, EpDeployment(hardware=H800, gpus=64, shared_expert_gpus=8), CTX, 128.0)
    assert float(ded.phases.shared) == 0 and float(plain.phases.shared) > 0
    r = ded.point()
    assert r.total_gpus == 72 and r.memory_gb_per_gpu["ep"]["shared_experts"] == 0
    # 64 GPUs' tokens per micro-batch (64 · 64) over 8 GPUs: each shared-expert GPU runs 512 rows.
    from afdscope.deploy.step import shared_experts_s

    t_sh = float(shared_experts_s(V3, H800, 64 * 64 / 8, CTX, DEFAULT_CALIBRATION))
    assert float(ded.layer_s) >= 2 * t_sh - 1e-15


def test_mtp_draft_passes_as_sglang_runs_them():
    s = Scenario(context_tokens=4096, mtp_draft_tokens=2, mtp_acceptance=0.5)
    batch, layer = 64.0, 300e-6
    got = float(head_and_mtp_s(V3, H800, batch, s, DEFAULT_CALIBRATION, layer))

    def head(rows):
        return float(
            gemm_time_s(H800, rows, V3.hidden_size, V3.vocab_size, _HEAD_PRECISION, DEFAULT_CALIBRATION.gemm)
        )

    # Verify 3 positions; one draft-extend pass over 1 + 0.5 + 0.25 = 1.75 accepted tokens; one more
    # single-position draft pass; each pass a layer (300 µs per 3 positions) and an LM head.
    per_position = layer / 3
    expect = head(64 * 3) + (1.75 * per_position + head(64 * 1.75)) + (per_position + head(64))
    assert got == pytest.approx(expect)
    none = Scenario(context_tokens=4096)
    assert float(head_and_mtp_s(V3, H800, batch, none, DEFAULT_CALIBRATION, layer)) == pytest.approx(head(64))


def test_layout_sweeps_stay_vectorised():
    ev = evaluate_afd(V3, _afd(attention_gpus=64, attention_domains=2), CTX, np.array([48.0, 96.0]))
    assert ev.step_s.shape == (2,) and np.all(np.diff(ev.step_s) > 0)


def test_eplb_replicas_only_where_routing_is_skewed():
    from afdscope.deploy.calibration import named_calibration
    from afdscope.deploy.ep import evaluate_ep

    dep = EpDeployment(hardware=H800, gpus=128)  # names no replicas
    modelled = evaluate_ep(V3, dep, CTX, 64.0)
    balanced = evaluate_ep(V3, dep, CTX, 64.0, skew="balanced")
    paper = evaluate_ep(V3, dep, CTX, 64.0, named_calibration("paper"))
    # Skewed: the usual 1/8 replicas, 288 slots rounded up to 384 on 128 GPUs; balanced: none.
    assert modelled.config["redundant_experts"] == 128 and modelled.config["experts_per_gpu"] == 3
    assert balanced.config["redundant_experts"] == 0 == paper.config["redundant_experts"]
    given = evaluate_ep(V3, dep.replace(redundant_experts=32), CTX, 64.0, skew="balanced")
    assert given.config["redundant_experts"] == 32  # given by hand: kept
