"""Large-scale EP: data-parallel attention and expert-parallel MoE over the same `gpus` GPUs.

Per MoE layer and micro-batch a GPU runs attention, the shared expert and its routed experts, and takes
part in a dispatch and a combine all-to-all. The overlap scheme (paper Table 2) decides how much of the
communication hides behind compute:

the schedules and their closed forms are in deploy/schedules.py (NBO, SBO, 2BO).

Step = per-step overhead + Σ layers + LM head / MTP (+ the trailing combine under 2BO);
TPOT = step / tokens per step (spec beyond.md §D).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.result import BOTTLENECKS, DeploymentResult, Evaluation
from afdscope.deploy.schedules import EpPhases, ep_schedule
from afdscope.deploy.step import (
    head_and_mtp_s,
    kv_bytes_per_gpu_request,
    placed,
    point_at_batch_or_slo,
    resolve_skew,
    shared_experts_s,
)
from afdscope.ops.attention import attention_layer_parts
from afdscope.ops.comm import ep_comm, replicated_moe_comm, tp_all_reduce_s
from afdscope.ops.experts import expert_layer_parts, gemm_peak_flops, mlp_time_s
from afdscope.ops.memory import (
    ep_overheads,
    ep_weights_per_gpu,
    max_batch_per_gpu,
    memory_breakdown,
    memory_reasons,
)
from afdscope.ops.small_ops import small_ops_time_s
from afdscope.specs.deployment import EpDeployment
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew


def evaluate_ep(
    model: MoEModel,
    deployment: EpDeployment,
    scenario: Scenario,
    batch_per_gpu,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
    context_tokens=None,
) -> Evaluation:
    """Evaluate `deployment` for every batch per GPU (and context) in the broadcast arrays."""
    deployment = placed(deployment, skew, calibration)
    hw, gpus, attention_tp = deployment.hardware, deployment.gpus, deployment.attention_tp
    cal = calibration
    memory = replace(cal.memory, redundant_experts=deployment.redundant_for(model))
    prec = scenario.precision
    q = scenario.query_positions
    mb = deployment.micro_batches
    batch = np.asarray(batch_per_gpu, dtype=float)
    ctx = np.asarray(scenario.context_tokens if context_tokens is None else context_tokens, dtype=float)
    requests = batch / mb  # per micro-batch
    tokens = requests * q
    h, k = model.hidden_size, model.top_k

    skew = resolve_skew(skew, cal, model, deployment, tokens, q)
    parts = attention_layer_parts(model, hw, requests, ctx, prec, q, cal.attention, attention_tp)
    # The slowest attention-DP rank (the most KV) sets the pace of its core attention.
    core = parts.core_s * skew.attention_factor
    # One TP attention group over every GPU: each holds the group's tokens (no dispatch), splits the
    # shared experts and dense MLPs by TP and routes every token itself (ops.comm.replicated_moe_comm).
    replicated = deployment.replicated_moe
    tp_rows = tokens * attention_tp if replicated else tokens
    mlp_tp = attention_tp if replicated else 1
    # Attention-side small kernels are inside the attention parts; the router, top-k, the post-attention
    # norm and the dispatch quantisation (the "ffn" side of ops.small_ops) run before the dispatch.
    small_ffn = small_ops_time_s(model, hw, tp_rows, prec, cal.small_ops, side="ffn")
    t_attn = parts.total_s - parts.core_s + core + small_ffn
    experts_per_gpu = deployment.experts_per_gpu(model)
    assignments = tokens * k
    # The busiest GPU sets the layer's pace under skewed routing.
    experts = expert_layer_parts(
        hw,
        assignments * skew.expert_load_factor,
        experts_per_gpu,
        h,
        model.moe_intermediate_size,
        prec,
        cal.gemm,
    )
    t_experts = experts.time_s
    n_shared = deployment.shared_expert_gpus
    if n_shared:
        # Dedicated shared-expert GPUs take every token of the group; the EP GPUs run none.
        t_shared_ded = shared_experts_s(model, hw, tokens * gpus / n_shared, scenario, cal)
        t_shared = np.zeros_like(np.asarray(t_shared_ded, dtype=float))
    else:
        t_shared = shared_experts_s(model, hw, tp_rows, scenario, cal, mlp_tp)
    if replicated:
        comm = replicated_moe_comm(model, hw, tokens, attention_tp, cal.comm.nvlink_from_profile)
        dispatch, combine = comm.dispatch_s, comm.combine_s
    else:
        comm = ep_comm(model, hw, tokens, gpus, cal.comm, skew.comm_load_factor, prec)
        # A collective ends with its slowest rank.
        dispatch, combine = comm.dispatch_s * skew.comm_straggler, comm.combine_s * skew.comm_straggler
    share_d, share_k = cal.comm_stream_share
    phases = EpPhases(
        attn1=parts.total_s - parts.core_s - parts.after_core_s,
        # o_proj (with W_UV, the TP all-reduce), the router and the dispatch quantisation follow the core
        attn2=core + parts.after_core_s + small_ffn,
        shared=t_shared,
        experts=t_experts,
        experts_down=experts.down_s,
        dispatch=dispatch,
        combine=combine,
        dispatch_stream=share_d * dispatch,
        combine_stream=share_k * combine,
    )
    sched = ep_schedule(deployment.overlap, phases, cal.pipeline_fill)
    layer, drain = sched.layer_s, sched.drain_s
    if n_shared:
        # The shared-expert GPUs serve every micro-batch of the layer; their results travel with the
        # combine, so the layer is at least their busy time.
        layer = np.maximum(layer, mb * t_shared_ded)
    dense = 0.0
    if model.n_dense_layers:
        width = math.ceil(model.dense_intermediate_size / mlp_tp)
        t_dense = mlp_time_s(hw, tp_rows, h, width, prec, cal.gemm)
        if replicated:  # the TP-split dense MLP ends with its own all-reduce
            t_dense = t_dense + tp_all_reduce_s(
                hw, tp_rows * h * 2.0, attention_tp, cal.comm.nvlink_from_profile
            )
        dense = mb * (t_attn + t_dense)
    mean_layer = (model.n_moe_layers * layer + model.n_dense_layers * dense) / model.num_layers
    serial = cal.step_overhead_s + head_and_mtp_s(model, hw, batch, scenario, cal, mean_layer)
    step = serial + model.n_moe_layers * layer + model.n_dense_layers * dense + drain

    # What the stream spends most on: communication (stalls and comm kernels), attention or the FFN.
    exposed = sched.exposed_comm_s / mb
    bottleneck = np.where(
        (exposed > t_attn) & (exposed > t_shared + t_experts),
        BOTTLENECKS.index("communication"),
        np.where(t_attn > t_shared + t_experts, BOTTLENECKS.index("attention"), BOTTLENECKS.index("ffn")),
    )

    weights = ep_weights_per_gpu(
        model, gpus, prec, memory, attention_tp, shared_on_ep_gpus=not n_shared, mlp_tp=mlp_tp
    )
    overheads = ep_overheads(model, gpus, prec, memory)
    kv = kv_bytes_per_gpu_request(model, ctx, scenario, attention_tp)
    shape = np.broadcast_shapes(batch.shape, ctx.shape, np.shape(step))

    def b(x):
        return np.broadcast_to(np.asarray(x, dtype=float), shape)

    return Evaluation(
        mode="ep",
        batch_per_gpu=b(batch),
        context_tokens=b(ctx),
        total_gpus=b(deployment.total_gpus),
        attention_gpus=b(gpus),
        micro_batches=mb,
        attention_s=b(t_attn),
        ffn_s=b(t_shared + t_experts),
        dispatch_s=b(dispatch),
        combine_s=b(combine),
        layer_s=b(layer),
        step_s=b(step),
        tokens_per_step=scenario.tokens_per_step,
        ffn_flops_per_stage=b(6.0 * assignments * h * model.moe_intermediate_size),
        ffn_peak_flops=gemm_peak_flops(hw, prec),
        stage_s=b(layer / mb),
        bottleneck=np.broadcast_to(bottleneck, shape),
        max_batch_per_gpu=b(max_batch_per_gpu(hw, weights, kv, memory, overheads)),
        memory_reasons=tuple(memory_reasons(hw, weights, 1.0, 0, memory, role="ep", overheads=overheads)),
        memory_gb_per_gpu={"ep": memory_breakdown(hw, weights, options=memory, overheads=overheads)},
        dense_layer_s=b(dense),
        serial_s=b(serial),
        phases=phases,
        usd_per_hour_by_role={}
        if hw.price_usd_per_gpu_hour is None
        else {"ep": deployment.total_gpus * hw.price_usd_per_gpu_hour},
        config={
            "mode": "ep",
            "model": model.name,
            "hardware": hw.name,
            "gpus": gpus,
            "overlap": deployment.overlap,
            "attention_tp": attention_tp,
            "experts_per_gpu": experts_per_gpu,
            "redundant_experts": deployment.redundant_for(model),
            "shared_expert_gpus": n_shared,
            "context_tokens": scenario.context_tokens,
            "mtp_draft_tokens": scenario.mtp_draft_tokens,
            "weights": prec.weights,
            "kv_dtype": prec.kv,
        },
        deployment=deployment,
        calibration=cal,
        skew=skew,
    )


def eval_ep(
    model: MoEModel,
    deployment: EpDeployment,
    scenario: Scenario,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
) -> DeploymentResult:
    """One EP deployment: at a fixed batch per GPU, or at the largest batch that meets a TPOT SLO."""

    def evaluate(b):
        return evaluate_ep(model, deployment, scenario, b, calibration, skew)

    step, tokens = deployment.micro_batches, scenario.tokens_per_step
    return point_at_batch_or_slo(evaluate, batch_per_gpu, tpot_slo_s, calibration, tokens, step, "GPU")
