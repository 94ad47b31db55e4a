"""The Python entry points a user calls: catalog names or specs alike, SI units with the unit in every
argument's name where it is not SI-obvious, one `AfdscopeError` for every bad input.

    >>> import afdscope
    >>> r = afdscope.eval_ep("deepseek-v3", "h800", gpus=128, context_tokens=4096, tpot_slo_s=0.050)
    >>> r.feasible, round(r.tokens_per_s_per_gpu) > 0
    (True, True)

Units: times in seconds (`tpot_slo_s=0.050` is 50 ms), token counts in tokens, batches in requests per
(attention) GPU, prices in USD per GPU-hour. A TPOT SLO above `MAX_PLAUSIBLE_TPOT_S` is taken as a unit
slip (milliseconds given as seconds) and refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import eval_afd as _eval_afd
from afdscope.deploy.calibration import Calibration, named_calibration
from afdscope.deploy.ep import eval_ep as _eval_ep
from afdscope.deploy.result import DeploymentResult
from afdscope.errors import AfdscopeError
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Precision, Scenario

MAX_PLAUSIBLE_TPOT_S = 2.0  # no decode SLO is seconds per token; 50 here almost surely meant 50 ms


def check_tpot_s(tpot_slo_s: float | None) -> None:
    """Refuse a TPOT SLO that is not a positive number of seconds, or that reads like milliseconds."""
    if tpot_slo_s is None:
        return
    if not isinstance(tpot_slo_s, int | float) or not math.isfinite(tpot_slo_s) or tpot_slo_s <= 0:
        raise AfdscopeError(f"tpot_slo_s = {tpot_slo_s!r}: give a positive number of seconds (50 ms = 0.05)")
    if tpot_slo_s > MAX_PLAUSIBLE_TPOT_S:
        raise AfdscopeError(
            f"tpot_slo_s = {tpot_slo_s:g}: the TPOT SLO is in seconds; {tpot_slo_s:g} s per token is "
            f"implausible — did you mean {tpot_slo_s:g} ms, tpot_slo_s={tpot_slo_s / 1e3:g}?"
        )


def scenario(
    context_tokens: int,
    *,
    weights: str = "fp8",
    expert_weights: str | None = None,
    kv: str = "bf16",
    attention: str = "bf16",
    mtp_draft_tokens: int = 0,
    mtp_acceptance: float = 0.0,
) -> Scenario:
    """What is served: mean KV length per request during decode (tokens), numeric formats, MTP."""
    if isinstance(context_tokens, bool) or not isinstance(context_tokens, int):
        raise AfdscopeError(f"context_tokens = {context_tokens!r}: give a whole number of tokens")
    return Scenario(
        context_tokens=context_tokens,
        precision=Precision(weights=weights, expert_weights=expert_weights, kv=kv, attention=attention),
        mtp_draft_tokens=mtp_draft_tokens,
        mtp_acceptance=mtp_acceptance,
    )


def _calibration(calibration: str | Calibration) -> Calibration:
    return calibration if isinstance(calibration, Calibration) else named_calibration(calibration)


def eval_ep(
    model,
    hardware,
    gpus: int,
    *,
    context_tokens: int,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    overlap: str = "2bo",
    attention_tp: int = 1,
    redundant_experts: int | None = None,
    shared_expert_gpus: int = 0,
    calibration: str | Calibration = "default",
    skew=None,
    **formats,
) -> DeploymentResult:
    """Large-scale EP on `gpus` GPUs of `hardware` (name, YAML path or `Hardware`) serving `model` (name,
    Hugging Face id, config path or `MoEModel`): at `batch_per_gpu` requests per GPU, or at the largest
    batch whose TPOT meets `tpot_slo_s` (seconds). `formats`: weights, expert_weights, kv, attention,
    mtp_draft_tokens, mtp_acceptance (see `scenario`). `skew`: None (the calibration's default, modelled),
    "balanced", or a `RoutingSkew`. Returns a `DeploymentResult` (tokens/s per GPU, TPOT in ms, …)."""
    check_tpot_s(tpot_slo_s)
    dep = EpDeployment(
        hardware=load_hardware(hardware),
        gpus=gpus,
        overlap=overlap,
        attention_tp=attention_tp,
        redundant_experts=redundant_experts,
        shared_expert_gpus=shared_expert_gpus,
    )
    s = scenario(context_tokens, **formats)
    return _eval_ep(load_model(model), dep, s, batch_per_gpu, tpot_slo_s, _calibration(calibration), skew)


def eval_afd(
    model,
    hardware=None,
    *,
    attention_gpus: int,
    ffn_gpus: int,
    context_tokens: int,
    attention_hardware=None,
    ffn_hardware=None,
    micro_batches: int = 3,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    attention_tp: int = 1,
    expert_tp: int = 1,
    shared_experts_on: str = "attention",
    shared_expert_gpus: int = 0,
    attention_domains: int = 1,
    whole_nodes: bool = True,
    redundant_experts: int | None = None,
    calibration: str | Calibration = "default",
    skew=None,
    **formats,
) -> DeploymentResult:
    """Attention-FFN disaggregation: `attention_gpus` of `attention_hardware` (default `hardware`) and
    `ffn_gpus` of `ffn_hardware` (default `hardware`) with `micro_batches` in flight; `batch_per_gpu` is
    per attention GPU; `tpot_slo_s` in seconds. Other arguments as `eval_ep` and `AfdDeployment`."""
    check_tpot_s(tpot_slo_s)
    a_hw, f_hw = attention_hardware or hardware, ffn_hardware or hardware
    if a_hw is None or f_hw is None:
        raise AfdscopeError("give hardware, or both attention_hardware and ffn_hardware")
    dep = AfdDeployment(
        attention_hardware=load_hardware(a_hw),
        ffn_hardware=load_hardware(f_hw),
        attention_gpus=attention_gpus,
        ffn_gpus=ffn_gpus,
        micro_batches=micro_batches,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
        shared_experts_on=shared_experts_on,
        shared_expert_gpus=shared_expert_gpus,
        attention_domains=attention_domains,
        whole_nodes=whole_nodes,
        redundant_experts=redundant_experts,
    )
    s = scenario(context_tokens, **formats)
    return _eval_afd(load_model(model), dep, s, batch_per_gpu, tpot_slo_s, _calibration(calibration), skew)


def search(
    model,
    hardware: Sequence,
    *,
    context_tokens: int,
    tpot_slo_s: float,
    attention_hardware: Sequence | None = None,
    ffn_hardware: Sequence | None = None,
    max_gpus: int = 256,
    balanced: bool = False,
    **formats,
):
    """The best EP and AFD deployments of `model` over candidate `hardware` (names or specs) under a TPOT
    SLO in seconds, their Pareto fronts and a verdict on both throughput and cost (`SearchResult`)."""
    from afdscope.search import Constraint, SearchSpace
    from afdscope.search import search as _search

    check_tpot_s(tpot_slo_s)
    if isinstance(hardware, str):
        hardware = [hardware]
    hws = [load_hardware(h) for h in hardware]
    return _search(
        load_model(model),
        scenario(context_tokens, **formats),
        Constraint(tpot_slo_s=tpot_slo_s),
        hws,
        attention_hardware=[load_hardware(h) for h in attention_hardware] if attention_hardware else None,
        ffn_hardware=[load_hardware(h) for h in ffn_hardware] if ffn_hardware else None,
        space=SearchSpace(max_gpus=max_gpus),
        skew="balanced" if balanced else None,
    )


def validate() -> dict:
    """Every shipped published deployment predicted: {"rows": [...], "summary": {...}} as `afdscope
    validate -f json` prints it."""
    from afdscope.validation import load_cases, validate_cases
    from afdscope.validation.summary import summarise

    rows = validate_cases(load_cases())
    return {"rows": rows, "summary": summarise(rows)}


def report(model, hardware: Sequence, *, context_tokens: int, tpot_slo_s: float, max_gpus: int = 256) -> str:
    """The one-page HTML report (a string) for `model` on candidate `hardware` under a TPOT SLO (s)."""
    from afdscope.report.deployment_report import build_report
    from afdscope.report.html import render_report

    check_tpot_s(tpot_slo_s)
    names = [hardware] if isinstance(hardware, str) else list(hardware)
    m = model if isinstance(model, str) else model.name
    data = build_report(
        model=m, context=context_tokens, tpot_slo_ms=tpot_slo_s * 1e3, hardware=names, max_gpus=max_gpus
    )
    return render_report(data)
