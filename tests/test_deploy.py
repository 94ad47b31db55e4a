"""Deployment evaluators: paper consistency, hand-checked pipelines, memory, SLO mode, monotonicity."""

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import eval_afd, evaluate_afd
from afdscope.deploy.calibration import named_calibration
from afdscope.deploy.ep import eval_ep, evaluate_ep
from afdscope.errors import AfdscopeError
from afdscope.paper.ffn_rank import RankProblem, rank_curve
from afdscope.paper.options import PaperOptions
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew

V3 = load_model("deepseek-v3")
H800 = load_hardware("h800")
H800_PAPER = load_hardware("h800", "paper")
PAPER = named_calibration("paper")
CTX = Scenario(context_tokens=4096)


def _ep(hw, gpus, **kw):
    return EpDeployment(hardware=hw, gpus=gpus, **kw)


def _afd(attention_hw, ffn_hw, attention_gpus, ffn_gpus, micro_batches, **kw):
    return AfdDeployment(
        attention_hardware=attention_hw,
        ffn_hardware=ffn_hw,
        attention_gpus=attention_gpus,
        ffn_gpus=ffn_gpus,
        micro_batches=micro_batches,
        **kw,
    )


def test_afd_ffn_hfu_equals_the_paper_model_at_the_same_n_f_and_t_b():
    t_b = (0.045 * 1.7 - 0.015) / (3 * 61)
    # Batch that makes the FFN NIC's dispatch + combine take exactly t_B (scale-out binds at N_F = 4):
    # tokens per NIC = 𝓑_out·t_B/(3H); a node receives every token once (N_F ≤ K) over its 8 NICs.
    n_a, n_f = 128, 32
    per_attention_gpu = 50e9 * t_b / (3 * 7168) * 8 / n_a
    dep = _afd(H800_PAPER, H800_PAPER, n_a, n_f, 3)
    ev = evaluate_afd(V3, dep, Scenario(context_tokens=2048), 3 * per_attention_gpu, PAPER)
    assert float(ev.stage_s) == pytest.approx(t_b)
    paper = rank_curve(RankProblem.single(V3, H800_PAPER), np.array([4]), PaperOptions())
    assert float(ev.hfu_ffn) == pytest.approx(float(paper.hfu[0]))
    assert float(paper.hfu[0]) == pytest.approx(2 * 2048 * 100e9 / 1979e12)  # 𝓑_out·K/N_F = 100 GB/s


def test_afd_pipeline_by_hand():
    ev = evaluate_afd(V3, _afd(H800, H800, 32, 16, 3), CTX, 96)
    t_a, t_f = float(ev.attention_s), float(ev.ffn_s)
    d, c = float(ev.dispatch_s), float(ev.combine_s)
    stage = max(t_a, t_f, max(d, c))  # default comm is full duplex
    layer = max(3 * stage, t_a + d + t_f + c)
    assert float(ev.layer_s) == pytest.approx(layer)
    # One step: overhead + MoE layers + dense layers + fill + LM head; TPOT = step (no MTP).
    assert float(ev.tpot_s) == pytest.approx(float(ev.step_s))
    assert float(ev.step_s) > 58 * layer + 2e-3
    # Tokens per GPU per second count the FFN GPUs too.
    assert float(ev.tokens_per_s_per_gpu) == pytest.approx(96 * 32 / float(ev.step_s) / 48)


def test_two_micro_batches_bubble_when_the_round_trip_is_longer_than_two_stages():
    ev2 = evaluate_afd(V3, _afd(H800, H800, 32, 16, 2), CTX, 64)
    rt = float(ev2.attention_s + ev2.dispatch_s + ev2.ffn_s + ev2.combine_s)
    stage = max(float(ev2.attention_s), float(ev2.ffn_s), float(np.maximum(ev2.dispatch_s, ev2.combine_s)))
    assert rt > 2 * stage  # comparable stages: 2 micro-batches cannot hide the round trip
    assert float(ev2.layer_s) == pytest.approx(rt)
    assert ev2.point().bottleneck == "communication"


def test_ep_two_batch_overlap_by_hand():
    ev = evaluate_ep(V3, _ep(H800, 144), CTX, 128)
    p = ev.phases
    a1, a2, sh, ex = (float(x) for x in (p.attn1, p.attn2, p.shared, p.experts))
    d, k = float(ev.dispatch_s), float(ev.combine_s)
    assert a1 + a2 == pytest.approx(float(ev.attention_s)) and sh + ex == pytest.approx(float(ev.ffn_s))
    # The stream runs both micro-batches' compute and the comm kernels' share (0.42 d + 0.17 k); the
    # combine hides behind the other micro-batch's second attention half (core, W_UV, o_proj) and its
    # dispatch kernel, the dispatch behind its own shared expert and the other's first attention half;
    # a short window stalls.
    stall = max(0.0, k - a2 - 0.42 * d, d - a1 - sh)
    assert float(ev.layer_s) == pytest.approx(2 * (a1 + a2 + sh + ex + 0.42 * d + 0.17 * k + stall))
    nbo = evaluate_ep(V3, _ep(H800, 144, overlap="nbo"), CTX, 128)
    assert float(nbo.layer_s) == pytest.approx(
        float(nbo.attention_s + nbo.ffn_s + nbo.dispatch_s + nbo.combine_s)
    )
    sbo = evaluate_ep(V3, _ep(H800, 144, overlap="sbo"), CTX, 128)
    ps = sbo.phases
    hidden = min(float(ps.shared), float(sbo.dispatch_s)) + min(float(ps.experts_down), float(sbo.combine_s))
    serial = float(sbo.attention_s + sbo.ffn_s + sbo.dispatch_s + sbo.combine_s)
    assert float(sbo.layer_s) == pytest.approx(serial - hidden)


def test_mtp_tokens_per_step_and_tpot():
    s = Scenario(context_tokens=4096, mtp_draft_tokens=1, mtp_acceptance=0.8)
    assert s.tokens_per_step == pytest.approx(1.8) and s.query_positions == 2
    r = eval_ep(V3, _ep(H800, 144), s, batch_per_gpu=64)
    assert r.tpot_ms == pytest.approx(r.step_ms / 1.8)
    assert r.tokens_per_s_per_user == pytest.approx(1.8 / r.step_ms * 1e3)
    assert Scenario(context_tokens=1, mtp_draft_tokens=2, mtp_acceptance=0.5).tokens_per_step == 1.75


def test_memory_infeasible_with_reason():
    r = eval_ep(V3, _ep(load_hardware("h100"), 8), CTX, batch_per_gpu=8)
    assert not r.feasible and r.bottleneck == "memory"
    # EPLB's usual 1/8 replicas: 288 slots over 8 GPUs, 36 experts × 58 layers × 3·7168·2048 B = 92.0 GB
    # of routed experts per GPU, more than the 81,559 MiB (nvidia-smi) = 85.52 GB of the device.
    assert round(36 * 58 * 3 * 7168 * 2048 / 1e9, 1) == 92.0
    # The experts alone exceed the whole device, and the message says so.
    assert any("92.0 GB" in x and "85.5 GB on the device" in x for x in r.reasons)


def test_kv_capacity_limits_the_batch():
    r = eval_ep(V3, _ep(H800, 16), Scenario(context_tokens=32768), batch_per_gpu=4096)
    assert not r.feasible and any("KV cache" in x for x in r.reasons)


def test_slo_mode_returns_the_largest_batch_meeting_it():
    r = eval_ep(V3, _ep(H800, 144), CTX, tpot_slo_s=0.05)
    assert r.feasible and r.tpot_ms <= 50
    bigger = eval_ep(V3, _ep(H800, 144), CTX, batch_per_gpu=r.batch_per_gpu + 2)
    assert bigger.tpot_ms > 50 or not bigger.feasible
    a = eval_afd(V3, _afd(H800, H800, 32, 16, 3), CTX, tpot_slo_s=0.05)
    assert a.feasible and a.tpot_ms <= 50 and a.batch_per_gpu % 3 == 0


def test_slo_below_overhead_is_an_error():
    with pytest.raises(AfdscopeError, match="overhead"):
        eval_ep(V3, _ep(H800, 144), CTX, tpot_slo_s=0.001)


def test_impossible_slo_is_infeasible_not_an_error():
    r = eval_ep(V3, _ep(H800, 16), Scenario(context_tokens=131072), tpot_slo_s=0.004)
    assert not r.feasible and any("exceeds the SLO" in x for x in r.reasons)


def test_heterogeneous_afd_memory_per_role():
    h20 = load_hardware("h20")
    r = eval_afd(V3, _afd(h20, H800, 32, 32, 3), CTX, batch_per_gpu=60)
    assert r.config["attention_hardware"] == "h20" and r.config["ffn_hardware"] == "h800"
    assert r.memory_gb_per_gpu["attention"]["routed_experts"] == 0
    # 256 experts + the usual 32 EPLB replicas over 32 FFN GPUs: 9 per layer × 58 layers × 3·7168·2048 B
    assert r.config["redundant_experts"] == 32
    assert r.memory_gb_per_gpu["ffn"]["routed_experts"] == pytest.approx(9 * 58 * 3 * 7168 * 2048 / 1e9)


def test_sub_node_needs_a_flag():
    with pytest.raises(AfdscopeError, match="whole number"):
        eval_afd(V3, _afd(H800, H800, 12, 16, 3), CTX, batch_per_gpu=30)
    assert (
        eval_afd(V3, _afd(H800, H800, 12, 16, 3, whole_nodes=False), CTX, batch_per_gpu=30).total_gpus == 28
    )


@pytest.mark.parametrize("field", ["scale_out_bandwidth", "scale_up_bandwidth", "hbm_bandwidth", "fp8_flops"])
def test_more_hardware_never_lowers_throughput_under_an_slo(field):
    faster = H800.model_copy(update={field: getattr(H800, field) * 2})
    for fn in (
        lambda hw: eval_ep(V3, _ep(hw, 144), CTX, tpot_slo_s=0.05),
        lambda hw: eval_afd(V3, _afd(hw, hw, 32, 16, 3), CTX, tpot_slo_s=0.05),
    ):
        assert fn(faster).tokens_per_s_per_gpu >= fn(H800).tokens_per_s_per_gpu * (1 - 1e-9)


def test_a_longer_slo_never_lowers_throughput():
    slos = [0.03, 0.05, 0.08, 0.12]
    ep = [eval_ep(V3, _ep(H800, 144), CTX, tpot_slo_s=s).tokens_per_s_per_gpu for s in slos]
    afd = [eval_afd(V3, _afd(H800, H800, 32, 16, 3), CTX, tpot_slo_s=s).tokens_per_s_per_gpu for s in slos]
    assert ep == sorted(ep) and afd == sorted(afd)


def test_outputs_are_finite_and_non_negative_over_a_grid():
    b = np.arange(1, 513, 7)[:, None]
    ctx = np.array([128, 4096, 65536])[None, :]
    for ev in (
        evaluate_ep(V3, _ep(H800, 64), CTX, b, context_tokens=ctx),
        evaluate_afd(V3, _afd(H800, H800, 32, 16, 3), CTX, b, context_tokens=ctx),
    ):
        for x in (ev.tokens_per_s_per_gpu, ev.tpot_s, ev.hfu_ffn, ev.step_s):
            assert x.shape == (len(b), 3)
            assert np.all(np.isfinite(x)) and np.all(x >= 0)
        assert np.all(ev.hfu_ffn <= 1 + 1e-9)


def test_attention_tp_splits_gqa_kv_but_replicates_mla():
    from afdscope.ops.attention import attention_layer_parts
    from afdscope.specs.scenario import Precision

    qwen = load_model("qwen3-235b")  # 4 KV heads
    p = Precision()
    dp = attention_layer_parts(qwen, H800, 32, 4096, p)
    tp2 = attention_layer_parts(qwen, H800, 32, 4096, p, tp=2)
    assert float(tp2.kv_bytes) == pytest.approx(float(dp.kv_bytes))  # 2 of 4 KV heads for 2× the requests
    assert float(tp2.projection_weight_bytes) == pytest.approx(float(dp.projection_weight_bytes) / 2)
    mla_dp = attention_layer_parts(V3, H800, 32, 4096, p)
    mla_tp2 = attention_layer_parts(V3, H800, 32, 4096, p, tp=2)
    assert float(mla_tp2.kv_bytes) == pytest.approx(2 * float(mla_dp.kv_bytes))  # the latent replicates
    # MLA projections: q_a and kv_a stay whole (7168·1536 + 7168·576), the rest halves.
    rep = 7168 * 1536 + 7168 * 576
    assert V3.attention.params_per_gpu(7168, 2) == pytest.approx(rep + (V3.attention.params(7168) - rep) / 2)


def test_attention_tp_memory_and_kv_capacity():
    qwen = load_model("qwen3-235b")
    dp = evaluate_ep(qwen, _ep(H800, 64), CTX, 32)
    tp4 = evaluate_ep(qwen, _ep(H800, 64, attention_tp=4), CTX, 32)
    assert tp4.memory_gb_per_gpu["ep"]["attention"] == pytest.approx(
        dp.memory_gb_per_gpu["ep"]["attention"] / 4
    )
    assert float(tp4.max_batch_per_gpu) >= float(dp.max_batch_per_gpu)
    mla = evaluate_ep(V3, _ep(H800, 64, attention_tp=2), CTX, 32)
    assert float(mla.max_batch_per_gpu) < float(evaluate_ep(V3, _ep(H800, 64), CTX, 32).max_batch_per_gpu)


def test_expert_tp_conserves_flops_and_shards_weights():
    step3 = load_model("step3")
    base = evaluate_afd(step3, _afd(H800, H800, 64, 64, 3, whole_nodes=False), CTX, 60)
    etp4 = evaluate_afd(step3, _afd(H800, H800, 64, 64, 3, whole_nodes=False, expert_tp=4), CTX, 60)
    # Same FLOPs over the FFN side: 64 GPUs × FLOPs per GPU per stage.
    assert float(etp4.ffn_flops_per_stage) == pytest.approx(float(base.ffn_flops_per_stage))
    # 48 experts + the usual replicas: 54 slots rounded up over the 16 shard groups of 4 GPUs → 64 slots,
    # 4 shards of M/4 per GPU; without expert TP 64 slots over 64 GPUs, 1 whole expert each.
    per_shard = 56 * 3 * 7168 * (5120 / 4) / 1e9
    assert etp4.memory_gb_per_gpu["ffn"]["routed_experts"] == pytest.approx(4 * per_shard)
    assert base.memory_gb_per_gpu["ffn"]["routed_experts"] == pytest.approx(56 * 3 * 7168 * 5120 / 1e9)
    with pytest.raises(AfdscopeError, match="expert TP"):
        evaluate_afd(step3, _afd(H800, H800, 64, 64, 3, whole_nodes=False, expert_tp=3), CTX, 60)


def test_load_factors_slow_the_busiest_rank_only_where_it_binds():
    from afdscope.ops.experts import expert_layer_time_s
    from afdscope.specs.scenario import Precision

    skew = RoutingSkew(expert_load_factor=1.5, comm_load_factor=1.25)
    base = evaluate_ep(V3, _ep(H800, 144), CTX, 256, skew="balanced")
    slow = evaluate_ep(V3, _ep(H800, 144), CTX, 256, skew=skew)
    # Experts: the busiest GPU gets 1.5× the mean assignments (128 tokens × 8 per micro-batch).
    shared = float(base.ffn_s) - float(expert_layer_time_s(H800, 128 * 8, 2, 7168, 2048, Precision()))
    expected = float(expert_layer_time_s(H800, 1.5 * 128 * 8, 2, 7168, 2048, Precision())) + shared
    assert float(slow.ffn_s) == pytest.approx(expected)
    assert float(slow.dispatch_s) > float(base.dispatch_s)
    # Useful FLOPs stay the mean: HFU falls when the busiest rank sets the pace.
    assert float(slow.ffn_flops_per_stage) == pytest.approx(float(base.ffn_flops_per_stage))
    assert float(slow.tokens_per_s_per_gpu) < float(base.tokens_per_s_per_gpu)
    with pytest.raises(AfdscopeError, match="max/mean"):
        RoutingSkew(expert_load_factor=0.8)


def test_attention_tp_all_reduce_term_by_hand():
    from afdscope.ops.attention import attention_layer_parts
    from afdscope.ops.comm import TP_ALLREDUCE_LATENCY_S
    from afdscope.specs.scenario import Precision

    qwen = load_model("qwen3-235b")
    dp = attention_layer_parts(qwen, H800, 32, 4096, Precision())
    tp4 = attention_layer_parts(qwen, H800, 32, 4096, Precision(), tp=4)
    # All-reduce of the group's BF16 outputs, B = 4 × 32 rows × 4096 × 2 B = 1 MiB, at Hopper's fitted
    # custom all-reduce (profile comm.all_reduce): two-shot 5.8456 µs + 3 peers × 0.2729 µs + 2·3/4 · B
    # over 0.7032 × 200 GB/s beats one-shot (2.1841 µs + the same peers + 3 · B).
    b = 4 * 32 * 4096 * 2
    two = 5.8456e-6 + 3 * 0.2729e-6 + 1.5 * b / (0.7032 * 200e9)
    one = 2.1841e-6 + 3 * 0.2729e-6 + 3 * b / (0.7032 * 200e9)
    assert two < one
    assert float(tp4.overhead_s) - float(dp.overhead_s) == pytest.approx(two, rel=1e-3)
    # Without the profile (the ideal calibrations' path): a ring with the fixed 10 µs, at 0.8 × 200 GB/s.
    from afdscope.ops.comm import tp_all_reduce_s

    assert TP_ALLREDUCE_LATENCY_S == 10e-6
    ring = 10e-6 + 2 * 3 / 4 * b / 160e9
    assert float(tp_all_reduce_s(H800, b, 4, from_profile=False)) == pytest.approx(ring)


def test_one_tp_group_over_every_gpu_has_no_dispatch_and_one_all_reduce():
    # TP8 attention over EP8 (TRT-LLM / vLLM without attention DP): after the attention all-reduce every
    # GPU holds the group's 8 × 2 = 16 tokens, so nothing is dispatched; the combine is one all-reduce of
    # 16 × 7168 BF16 values (the TP all-reduce, tp_all_reduce_s).
    from afdscope.deploy.step import shared_experts_s
    from afdscope.ops.comm import tp_all_reduce_s
    from afdscope.ops.experts import mlp_time_s
    from afdscope.specs.scenario import Precision

    tp8 = evaluate_ep(V3, _ep(H800, 8, overlap="nbo", attention_tp=8), CTX, 2, skew="balanced")
    assert float(tp8.dispatch_s) == 0
    assert float(tp8.combine_s) == pytest.approx(float(tp_all_reduce_s(H800, 16 * 7168 * 2, 8)))
    # 229 KB on H800's 200 GB/s links: two-shot, 5.8456 µs + 7 peers × 0.2729 µs + 2·7/8 · B over
    # 0.7032 × 200 GB/s (Hopper's fit)
    two = 5.8456e-6 + 7 * 0.2729e-6 + 1.75 * (16 * 7168 * 2) / (0.7032 * 200e9)
    assert float(tp8.combine_s) == pytest.approx(two, rel=1e-3)
    # The shared expert (2,048 wide) splits by TP: 256 columns per GPU over all 16 rows.
    assert float(tp8.phases.shared) == pytest.approx(float(mlp_time_s(H800, 16, 7168, 256, Precision())))
    default = named_calibration("default")
    assert float(tp8.phases.shared) == pytest.approx(float(shared_experts_s(V3, H800, 16, CTX, default, 8)))
    # Its weights too: 1/8 of the shared experts' bytes per GPU.
    dp = evaluate_ep(V3, _ep(H800, 8, overlap="nbo", attention_tp=1), CTX, 2, skew="balanced")
    shared_bytes = 58 * 3 * 7168 * 2048 * 1.0  # 58 MoE layers, gate/up/down, FP8
    saved = dp.memory_gb_per_gpu["ep"]["shared_experts"] - tp8.memory_gb_per_gpu["ep"]["shared_experts"]
    assert saved * 1e9 == pytest.approx(shared_bytes * 7 / 8, rel=1e-6)
    # Smaller TP inside DP groups keeps the all-to-all.
    tp4 = evaluate_ep(V3, _ep(H800, 8, overlap="nbo", attention_tp=4), CTX, 2, skew="balanced")
    assert float(tp4.dispatch_s) > 0


def test_all_reduce_across_nodes_runs_at_scale_out():
    from afdscope.ops.comm import tp_all_reduce_s

    h100 = load_hardware("h100")
    # 16 GPUs over two 8-GPU nodes: the ring's slowest links are the 0.9 × 50 GB/s NICs.
    b = 1e6
    assert float(tp_all_reduce_s(h100, b, 16)) == pytest.approx(10e-6 + 2 * 15 / 16 * b / 45e9)
    assert float(tp_all_reduce_s(h100, b, 1)) == 0
