"""Predicted per-layer terms against published per-layer kernel times (µs per MoE layer, summed over the
micro-batches of that layer, as the sources chart them).

Mapping of the published components (m = micro-batches of the case: 2 under 2BO, else 1):

    overall                     ↔ the evaluator's MoE layer time (all micro-batches, after overlap)
    attention_core              ↔ m · core attention (FlashMLA-style KV read / MMA, `core_s`)
    gemm_other + other_kernels  ↔ m · (everything of attention but the core — projections, module term,
                                  norms, RoPE, KV append, quantisation, router and top-k — + shared experts)
    routed_experts              ↔ m · routed experts (both GEMMs and the activation between them)
    dispatch, combine           ↔ NBO/SBO: m · transfer; 2BO: m · the kernels' stream share + the stall
                                  of the binding window (the sources chart time on the compute stream)
    launch                      ↔ not a per-layer term in afdscope (its per-step overhead is serial work)

Only EP cases have published breakdowns; an AFD id gets a reason instead of numbers.
"""

from __future__ import annotations

from afdscope.ops.attention import attention_layer_parts
from afdscope.validation.cases import Case, LayerTime
from afdscope.validation.evaluate import case_inputs, relative_error

# Compared quantity -> published components summed into it.
COMPARED: dict[str, tuple[str, ...]] = {
    "overall": ("overall",),
    "attention_core": ("attention_core",),
    "gemm_other+other_kernels": ("gemm_other", "other_kernels"),
    "routed_experts": ("routed_experts",),
    "dispatch": ("dispatch",),
    "combine": ("combine",),
    "launch": ("launch",),
}

PREDICTED_TERMS = {
    "overall": "MoE layer time, all micro-batches",
    "attention_core": "m × core attention",
    "gemm_other+other_kernels": "m × (attention less its core + shared experts)",
    "routed_experts": "m × routed experts",
    "dispatch": "m × dispatch (2BO: stream share + stall)",
    "combine": "m × combine (2BO: stream share + stall)",
    "launch": "not modelled per layer",
}


def _predicted_terms(case: Case, row: dict) -> dict[str, float | None]:
    model, hw, _, scenario, calibration, _, _ = case_inputs(case)
    m = row["micro_batches"]
    requests = row["batch_per_gpu"] / m
    q = scenario.query_positions
    parts = attention_layer_parts(
        model, hw, requests, case.context_tokens, scenario.precision, q, calibration.attention
    )
    core_us = float(parts.core_s) * 1e6
    p = row["phases_us"]
    dispatch, combine = m * p["dispatch"], m * p["combine"]
    if m == 2:
        # Under 2BO the sources chart the comm kernels' time on the compute stream: their share plus the
        # stall of whichever window binds (deploy/schedules.py).
        stall_k = max(0.0, p["combine"] - p["attn2"] - p["dispatch_stream"])
        stall_d = max(0.0, p["dispatch"] - p["attn1"] - p["shared"])
        dispatch = m * (p["dispatch_stream"] + (stall_d if stall_d > stall_k else 0.0))
        combine = m * (p["combine_stream"] + (stall_k if stall_k >= stall_d else 0.0))
    return {
        "overall": row["layer_us"],
        "attention_core": m * core_us,
        "gemm_other+other_kernels": m * (row["attention_us"] - core_us + p["shared"]),
        "routed_experts": m * p["experts"],
        "dispatch": dispatch,
        "combine": combine,
        "launch": None,
    }


def layer_comparison(cases: list[Case], rows: list[dict], layer_times: list[LayerTime]) -> list[dict]:
    """One row per (id, compared quantity) whose published components are all present."""
    by_id = {c.id: c for c in cases}
    row_of = {r["id"]: r for r in rows}
    published: dict[str, dict[str, float]] = {}
    for t in layer_times:
        published.setdefault(t.id, {})[t.component] = t.us_per_layer
    out = []
    for case_id, comps in published.items():
        case, row = by_id.get(case_id), row_of.get(case_id)
        reason = None
        if case is None or row is None:
            reason = "no such case in the deployments set"
        elif case.mode != "ep":
            reason = "per-layer mapping is defined for EP cases only"
        elif row["layer_us"] is None:
            reason = row["reason"]
        predicted = {} if reason else _predicted_terms(case, row)
        for name, parts in COMPARED.items():
            if not all(p in comps for p in parts):
                continue
            pub = sum(comps[p] for p in parts)
            pred = predicted.get(name)
            out.append(
                {
                    "id": case_id,
                    "component": name,
                    "published_us": pub,
                    "predicted_us": pred,
                    "error": None if pred is None else float(relative_error(pred, pub)),
                    "predicted_terms": PREDICTED_TERMS[name],
                    "reason": reason,
                }
            )
    return out
