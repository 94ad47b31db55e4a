"""Pieces of a decode step shared by both deployments: per-step work outside the layer pipeline, and
the search for the largest batch that meets a TPOT SLO."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from afdscope.deploy.calibration import Calibration
from afdscope.deploy.result import Evaluation
from afdscope.errors import AfdscopeError
from afdscope.ops.experts import gemm_time_s, mlp_time_s
from afdscope.ops.memory import kv_bytes_per_request
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision, Scenario
from afdscope.specs.skew import BALANCED, RoutingSkew

# Embeddings and the LM head stay BF16 in FP8 checkpoints (DeepSeek-V3's quantization_config).
_HEAD_PRECISION = Precision(weights="bf16")


def head_and_mtp_s(
    model: MoEModel,
    hw: Hardware,
    requests,
    scenario: Scenario,
    calibration,
    mean_layer_s,
):
    """LM head over every query position, plus the MTP draft passes on the GPU that holds the head, as
    SGLang's EAGLE-style MTP runs them (speculative_num_steps = n): after the target model verifies 1 + n
    positions, one draft-extend pass over the accepted tokens (1 + accepted per request on average, the
    step's tokens per request) produces the first draft, then n − 1 single-position draft passes. A draft
    pass is one decoder layer (the mean layer scaled by its positions) and an LM head over its rows."""
    if not calibration.model_head_and_mtp:
        return np.zeros_like(np.asarray(mean_layer_s, dtype=float))
    requests = np.asarray(requests, dtype=float)
    rows = requests * scenario.query_positions
    head = gemm_time_s(hw, rows, model.hidden_size, model.vocab_size, _HEAD_PRECISION, calibration.gemm)
    drafts = scenario.mtp_draft_tokens
    if drafts == 0:
        return head
    q, accepted = scenario.query_positions, scenario.tokens_per_step
    per_position = np.asarray(mean_layer_s) / q

    def draft_pass(positions):
        r = requests * positions
        return per_position * positions + gemm_time_s(
            hw, r, model.hidden_size, model.vocab_size, _HEAD_PRECISION, calibration.gemm
        )

    return head + draft_pass(accepted) + (drafts - 1) * draft_pass(1.0)


def kv_bytes_per_gpu_request(model: MoEModel, context_tokens, scenario: Scenario, attention_tp: int):
    """KV bytes of one request over its attention TP group: its cache (the MTP layers' too when drafting)
    × TP size × the share a TP rank keeps (TP groups replicate what cannot split). EP and AFD alike."""
    mtp_layers = model.mtp_layers if scenario.mtp_draft_tokens else 0
    kv = kv_bytes_per_request(model, context_tokens, scenario.precision, mtp_layers=mtp_layers)
    return kv * (attention_tp * model.attention.kv_share(attention_tp))


def routes_balanced(skew, calibration) -> bool:
    """Whether an evaluation routes tokens evenly: skew "balanced", a balanced RoutingSkew, or none given
    under a calibration whose default is balanced (the paper's)."""
    if isinstance(skew, RoutingSkew):
        return skew.is_balanced
    return (calibration.default_skew if skew is None else skew) == "balanced"


def placed(deployment, skew, calibration):
    """The deployment with its EPLB slots settled: replicas only pay off under skewed routing, so a
    deployment that names none gets none when routing is balanced (the usual ones otherwise)."""
    if deployment.redundant_experts is None and routes_balanced(skew, calibration):
        return deployment.replace(redundant_experts=0)
    return deployment


def resolve_skew(
    skew,
    calibration,
    model: MoEModel,
    deployment,
    tokens_per_micro_batch,
    query_positions,
    attention_gpus=None,
):
    """The RoutingSkew an evaluation applies: the one given, or — for None, "modelled" or "balanced" —
    the calibration's default, afdscope's imbalance model (EPLB over the deployment's redundant slots,
    the usual ones when it names none) or none. `attention_gpus` (AFD): the attention GPUs one
    micro-batch spans, when not the deployment's own count (an array sweeps it)."""
    if isinstance(skew, RoutingSkew):
        return skew
    kind = calibration.default_skew if skew is None else skew
    if kind == "balanced":
        return BALANCED
    if kind != "modelled":
        raise AfdscopeError(f"skew = {skew!r}: give a RoutingSkew, 'modelled' or 'balanced'")
    from afdscope.routing.defaults import modelled_skew

    return modelled_skew(
        model,
        deployment,
        tokens_per_micro_batch,
        eplb=deployment.redundant_for(model),
        attention_gpus=attention_gpus,
        query_positions=query_positions,
    )


def shared_experts_s(
    model: MoEModel, hw: Hardware, tokens, scenario: Scenario, calibration: Calibration, tp: int = 1
):
    """The shared experts of one MoE layer over `tokens` rows on `hw` (0 for models without them); `tp`
    GPUs each holding 1/tp of the intermediate width (tensor parallel, every GPU all the rows)."""
    if not model.n_shared_experts:
        return np.zeros_like(np.asarray(tokens, dtype=float))
    width = math.ceil(model.n_shared_experts * model.shared_intermediate_size / tp)
    return mlp_time_s(hw, tokens, model.hidden_size, width, scenario.precision, calibration.gemm)


def check_slo(tpot_slo_s: float, calibration: Calibration, tokens_per_step: float) -> None:
    if tpot_slo_s <= 0:
        raise AfdscopeError(f"TPOT SLO {tpot_slo_s * 1e3:g} ms: give a positive SLO")
    floor = calibration.step_overhead_s / tokens_per_step
    if tpot_slo_s <= floor:
        raise AfdscopeError(
            f"TPOT SLO {tpot_slo_s * 1e3:g} ms is below the fixed per-step overhead "
            f"({calibration.step_overhead_s * 1e3:g} ms / {tokens_per_step:g} tokens per step "
            f"= {floor * 1e3:.3g} ms); raise the SLO"
        )


def point_at_batch_or_slo(evaluate, batch_per_gpu, tpot_slo_s, calibration, tokens_per_step, step, per):
    """One result from `evaluate(batches)`: at `batch_per_gpu`, or at the largest multiple of `step` that
    meets `tpot_slo_s` (infeasible at the smallest batch, with the reason, when none does). `per` words
    the batch unit in that reason ("GPU", "attention GPU")."""
    if (batch_per_gpu is None) == (tpot_slo_s is None):
        raise AfdscopeError("give exactly one of a batch per GPU or a TPOT SLO")
    if batch_per_gpu is not None:
        if batch_per_gpu < 1:
            raise AfdscopeError(f"batch per GPU = {batch_per_gpu}: give at least 1 request")
        return evaluate(batch_per_gpu).point()
    check_slo(tpot_slo_s, calibration, tokens_per_step)
    cap = int(evaluate(step).max_batch_per_gpu)
    ev, i = largest_batch_meeting_slo(evaluate, tpot_slo_s, step, cap)
    tpot = float(ev.tpot_s[i])
    extra = ()
    if tpot > tpot_slo_s:
        extra = (
            f"TPOT {tpot * 1e3:.1f} ms at the smallest batch ({int(ev.batch_per_gpu[i])} per {per}) "
            f"exceeds the SLO of {tpot_slo_s * 1e3:g} ms",
        )
    return ev.point(i, extra)


def largest_batch_meeting_slo(
    evaluate: Callable[[np.ndarray], Evaluation], tpot_slo_s: float, step: int, cap: int
) -> tuple[Evaluation, int]:
    """Evaluate batches step, 2·step, … up to `cap` in one vectorised call; return the evaluation and the
    index of the highest-throughput batch that fits in memory and meets the SLO (or of the smallest
    batch, when none does — the caller reports it as infeasible)."""
    cap = max(step, min(int(cap), 1 << 16))
    batches = np.arange(step, cap + 1, step, dtype=float)
    ev = evaluate(batches)
    ok = ev.meets(tpot_slo_s)
    if not ok.any():
        return ev, 0
    score = np.where(ok, ev.tokens_per_s_per_gpu, -np.inf)
    return ev, int(np.argmax(score))
