"""Attention-FFN disaggregation: `attention_gpus` run attention (and the dense layers, LM head, MTP and,
by default, the shared experts); `ffn_gpus` hold the routed experts. Each may be a different device.

m micro-batches ping-pong between the sides. Per MoE layer and micro-batch the stages are attention
t_a, FFN t_f, and the link occupancy t_c (dispatch + combine on a half-duplex link, the larger of the two
on a full-duplex one). A layer of all m micro-batches takes

    layer = max(m · max(t_a, t_f, t_c), t_a + t_dispatch + t_f + t_combine)

— the second term is one micro-batch's round trip: when it exceeds m stages the pipeline has bubbles.
For m = 3 and t_c = t_dispatch + t_combine this is the paper's condition 2·t_a ≥ t_f + t_c (attention
never waits); MegaScale-Infer's m ≥ 2·(1 + T_c/T_f) is the same bound with T_a = T_f. The pipeline fill
adds min(round trip, m·stage) minus one stage per step.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.result import BOTTLENECKS, DeploymentResult, Evaluation
from afdscope.deploy.step import (
    head_and_mtp_s,
    kv_bytes_per_gpu_request,
    placed,
    point_at_batch_or_slo,
    resolve_skew,
    shared_experts_s,
)
from afdscope.errors import AfdscopeError
from afdscope.ops.attention import attention_layer_parts
from afdscope.ops.comm import afd_comm, same_scale_up_domain
from afdscope.ops.experts import expert_layer_time_s, gemm_peak_flops, mlp_time_s
from afdscope.ops.memory import (
    afd_weights_per_gpu,
    max_batch_per_gpu,
    memory_breakdown,
    memory_reasons,
)
from afdscope.ops.small_ops import small_ops_time_s
from afdscope.specs.deployment import AfdDeployment
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew


def _check_counts(attention_hw, ffn_hw, attention_gpus, ffn_gpus, micro_batches, whole_nodes) -> None:
    n_attn = np.asarray(attention_gpus)
    if np.any(n_attn < 1) or ffn_gpus < 1:
        raise AfdscopeError(
            f"attention GPUs = {attention_gpus}, FFN GPUs = {ffn_gpus}: AFD needs at least 1 of each"
        )
    if micro_batches not in (2, 3, 4):
        raise AfdscopeError(f"micro-batches = {micro_batches}: AFD pipelines use 2, 3 or 4")
    if not whole_nodes:
        return
    pod = same_scale_up_domain(attention_hw, ffn_hw, n_attn, ffn_gpus)
    for role, n, hw in (("attention", n_attn, attention_hw), ("FFN", np.asarray(ffn_gpus), ffn_hw)):
        bad = (n % hw.gpus_per_node != 0) & ~pod
        if np.any(bad):
            raise AfdscopeError(
                f"{role} GPUs = {int(np.broadcast_to(n, bad.shape)[bad].flat[0])} is not a whole number of "
                f"{hw.name} nodes ({hw.gpus_per_node} GPUs each); use a multiple of {hw.gpus_per_node}, "
                "or allow sub-node AFD"
            )


def _check_tp(model, attention_hw, ffn_hw, attention_gpus, ffn_gpus, attention_tp, expert_tp) -> None:
    if attention_tp < 1 or np.any(np.asarray(attention_gpus) % attention_tp):
        raise AfdscopeError(f"attention TP {attention_tp} must divide the attention GPU count")
    if expert_tp < 1 or ffn_hw.gpus_per_node % expert_tp or ffn_gpus % expert_tp:
        raise AfdscopeError(
            f"expert TP {expert_tp} must divide the FFN GPU count and the "
            f"{ffn_hw.gpus_per_node} GPUs of a node"
        )
    if model.moe_intermediate_size % expert_tp:
        raise AfdscopeError(
            f"expert TP {expert_tp} does not divide the expert size {model.moe_intermediate_size}"
        )


def evaluate_afd(
    model: MoEModel,
    deployment: AfdDeployment,
    scenario: Scenario,
    batch_per_gpu,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
    context_tokens=None,
    attention_gpus=None,
) -> Evaluation:
    """Evaluate `deployment` for every batch per attention GPU and context in the broadcast arrays, and
    for every attention GPU count in `attention_gpus` (an array sweeping the deployment's own count; the
    FFN side — its GPU count, hardware and expert placement — is fixed per call)."""
    dep, cal = placed(deployment, skew, calibration), calibration
    attention_hw, ffn_hw, ffn_gpus = dep.attention_hardware, dep.ffn_hardware, dep.ffn_gpus
    attention_tp, expert_tp, micro_batches = dep.attention_tp, dep.expert_tp, dep.micro_batches
    if attention_gpus is None:
        attention_gpus = dep.attention_gpus
    memory = replace(cal.memory, redundant_experts=dep.redundant_for(model))
    _check_tp(model, attention_hw, ffn_hw, attention_gpus, ffn_gpus, attention_tp, expert_tp)
    _check_counts(attention_hw, ffn_hw, attention_gpus, ffn_gpus, micro_batches, dep.whole_nodes)
    prec = scenario.precision
    q = scenario.query_positions
    m = micro_batches
    batch = np.asarray(batch_per_gpu, dtype=float)
    ctx = np.asarray(scenario.context_tokens if context_tokens is None else context_tokens, dtype=float)
    requests = batch / m
    tokens = requests * q  # per attention GPU and micro-batch
    h, k, mi = model.hidden_size, model.top_k, model.moe_intermediate_size

    domains, n_shared = dep.attention_domains, dep.shared_expert_gpus
    per_domain = np.asarray(attention_gpus, dtype=float) / domains  # attention GPUs one micro-batch spans
    skew = resolve_skew(skew, cal, model, dep, tokens, q, attention_gpus=per_domain)
    parts = attention_layer_parts(model, attention_hw, requests, ctx, prec, q, cal.attention, attention_tp)
    # The slowest attention-DP rank (the most KV) sets the pace of its core attention.
    t_core = parts.total_s + parts.core_s * (np.asarray(skew.attention_factor) - 1.0)
    # The router, top-k, post-attention norm and dispatch quantisation run on the attention side.
    t_a = t_core + small_ops_time_s(model, attention_hw, tokens, prec, cal.small_ops, side="ffn")
    ffn_tokens = tokens * per_domain / ffn_gpus  # tokens one FFN GPU serves, for its shared expert
    # Expert shards of M/expert_tp: each assignment is computed by expert_tp GPUs, 1/expert_tp each.
    assignments = tokens * per_domain * k * expert_tp / ffn_gpus
    experts_per_gpu = dep.experts_per_gpu(model)
    shard = mi / expert_tp
    # The busiest FFN GPU sets the stage under skewed routing.
    t_f = expert_layer_time_s(
        ffn_hw, assignments * skew.expert_load_factor, experts_per_gpu, h, shard, prec, cal.gemm
    )
    t_sh = 0.0  # dedicated shared-expert GPUs: every token of the micro-batch over `n_shared` GPUs
    if dep.shared_experts_on == "attention":
        t_a = t_a + shared_experts_s(model, attention_hw, tokens, scenario, cal)
    elif dep.shared_experts_on == "ffn":
        t_f = t_f + shared_experts_s(model, ffn_hw, ffn_tokens, scenario, cal)
    else:
        t_sh = shared_experts_s(model, ffn_hw, tokens * per_domain / n_shared, scenario, cal)

    comm = afd_comm(
        model,
        attention_hw,
        ffn_hw,
        tokens,
        per_domain,
        ffn_gpus,
        cal.comm,
        cal.dedup,
        expert_tp,
        skew.comm_load_factor,
        prec,
    )
    # A transfer ends with its slowest rank.
    comm = replace(
        comm,
        dispatch_s=comm.dispatch_s * skew.comm_straggler,
        combine_s=comm.combine_s * skew.comm_straggler,
    )
    t_c = comm.stage_s(cal.comm.full_duplex)
    # D domains take turns on the FFN pool (and its links): per attention stage the FFN side serves D
    # micro-batches. D = 1 is the plain ping-pong.
    ffn_stage = domains * np.maximum(np.maximum(t_f, t_sh), t_c)
    stage = np.maximum(t_a, ffn_stage)
    round_trip = t_a + comm.dispatch_s + np.maximum(t_f, t_sh) + comm.combine_s
    layer = np.maximum(m * stage, round_trip)
    dense = 0.0
    if model.n_dense_layers:
        t_dense = mlp_time_s(attention_hw, tokens, h, model.dense_intermediate_size, prec, cal.gemm)
        dense = m * (t_core + t_dense)
    # The last micro-batch leaves the pipeline one round trip after it entered, not one stage: the
    # step pays the difference once (capped at the m stages a bubbling layer already spans).
    fill = np.maximum(np.minimum(round_trip, m * stage) - stage, 0.0) if cal.pipeline_fill else 0.0
    mean_layer = (model.n_moe_layers * layer + model.n_dense_layers * dense) / model.num_layers
    serial = cal.step_overhead_s + head_and_mtp_s(model, attention_hw, batch, scenario, cal, mean_layer)
    step = serial + model.n_moe_layers * layer + model.n_dense_layers * dense + fill
    bottleneck = np.select(
        [m * stage < round_trip, (domains * t_c >= t_a) & (t_c >= t_f), t_a >= domains * t_f],
        [
            BOTTLENECKS.index("communication"),
            BOTTLENECKS.index("communication"),
            BOTTLENECKS.index("attention"),
        ],
        BOTTLENECKS.index("ffn"),
    )

    # Attention is data parallel: its per-GPU weights do not depend on how many attention GPUs there are.
    w_attn, w_ffn = afd_weights_per_gpu(
        model,
        1,
        ffn_gpus,
        prec,
        memory,
        shared_experts_on=dep.shared_experts_on,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
    )
    kv = kv_bytes_per_gpu_request(model, ctx, scenario, attention_tp)
    reasons = memory_reasons(attention_hw, w_attn, 1.0, 0, memory, role="attention")
    reasons += memory_reasons(ffn_hw, w_ffn, 1.0, 0, memory, role="ffn")
    n_attn = np.asarray(attention_gpus, dtype=float)
    shape = np.broadcast_shapes(batch.shape, ctx.shape, n_attn.shape, np.shape(step))
    fixed_gpus = ffn_gpus + n_shared

    def b(x):
        return np.broadcast_to(np.asarray(x, dtype=float), shape)

    return Evaluation(
        mode="afd",
        batch_per_gpu=b(batch),
        context_tokens=b(ctx),
        total_gpus=b(n_attn + fixed_gpus),
        attention_gpus=b(n_attn),
        micro_batches=m,
        attention_s=b(t_a),
        ffn_s=b(t_f),
        dispatch_s=b(comm.dispatch_s),
        combine_s=b(comm.combine_s),
        layer_s=b(layer),
        step_s=b(step),
        tokens_per_step=scenario.tokens_per_step,
        ffn_flops_per_stage=b(6.0 * assignments * h * shard),
        ffn_peak_flops=gemm_peak_flops(ffn_hw, prec),
        stage_s=b(layer / (m * domains)),  # one FFN micro-batch's share of the layer
        bottleneck=np.broadcast_to(bottleneck, shape),
        max_batch_per_gpu=b(max_batch_per_gpu(attention_hw, w_attn, kv, memory)),
        memory_reasons=tuple(reasons),
        memory_gb_per_gpu={
            "attention": memory_breakdown(attention_hw, w_attn, options=memory),
            "ffn": memory_breakdown(ffn_hw, w_ffn, options=memory),
        },
        dense_layer_s=b(dense),
        serial_s=b(serial),
        scale_up_only=np.broadcast_to(
            same_scale_up_domain(attention_hw, ffn_hw, per_domain, ffn_gpus), shape
        ),
        usd_per_hour_by_role=(
            {}
            if attention_hw.price_usd_per_gpu_hour is None or ffn_hw.price_usd_per_gpu_hour is None
            else {
                "attention": b(n_attn * attention_hw.price_usd_per_gpu_hour),
                "ffn": fixed_gpus * ffn_hw.price_usd_per_gpu_hour,
            }
        ),
        config={
            "mode": "afd",
            "model": model.name,
            "attention_hardware": attention_hw.name,
            "ffn_hardware": ffn_hw.name,
            "ffn_gpus": ffn_gpus,
            "micro_batches": m,
            "attention_tp": attention_tp,
            "expert_tp": expert_tp,
            # Where A↔F traffic runs: one Superpod's scale-up, or scale-out between nodes.
            "fabric": "scale-up"
            if attention_hw.name == ffn_hw.name and attention_hw.is_superpod
            else "scale-out",
            "experts_per_ffn_gpu": experts_per_gpu,
            "redundant_experts": dep.redundant_for(model),
            "shared_experts_on": dep.shared_experts_on,
            "attention_domains": domains,
            "shared_expert_gpus": n_shared,
            "context_tokens": scenario.context_tokens,
            "mtp_draft_tokens": scenario.mtp_draft_tokens,
            "weights": prec.weights,
            "kv_dtype": prec.kv,
        },
        deployment=dep,
        calibration=cal,
        skew=skew,
    )


def eval_afd(
    model: MoEModel,
    deployment: AfdDeployment,
    scenario: Scenario,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
) -> DeploymentResult:
    """One AFD deployment: at a fixed batch per attention GPU, or the largest batch meeting a TPOT SLO."""

    def evaluate(b):
        return evaluate_afd(model, deployment, scenario, b, calibration, skew)

    m, tokens = deployment.micro_batches, scenario.tokens_per_step
    return point_at_batch_or_slo(evaluate, batch_per_gpu, tpot_slo_s, calibration, tokens, m, "attention GPU")
