"""Evaluate each published case with the project's evaluators at its stated inputs.

The error of a case is on output tokens/s per GPU:  error = predicted / published − 1.
Tokens/s per GPU is what every case publishes (GB200 part I publishes nothing else) and what the
AFD-vs-EP verdict and $/token are made of. At a stated batch, tokens/s per GPU = batch · tokens per
step / step = batch / TPOT, so the TPOT error is the same number through x ↦ 1/(1 + x) − 1: a case
predicted 20 % too fast in throughput (+0.20) has a TPOT 1/1.2 − 1 = −16.7 % too short. Only the
throughput error is reported, to keep one sign convention (positive = afdscope is optimistic).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pydantic import ValidationError

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import eval_afd, evaluate_afd
from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.ep import eval_ep, evaluate_ep
from afdscope.errors import AfdscopeError
from afdscope.specs.deployment import AfdDeployment, Deployment, EpDeployment
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision, Scenario
from afdscope.validation.cases import Case


def family_of(hardware: str) -> str:
    """The calibration family of a catalog device (its YAML's `calibration_profile`: h800 → hopper),
    "other" for a name the catalog does not hold."""
    from afdscope.calibration.profiles import family_of as profile_family

    try:
        return profile_family(load_hardware(hardware.strip().lower()))
    except AfdscopeError:
        return "other"


def _allowed(field: str, value: str) -> bool:
    """Whether the current Precision accepts `value` for `field` (probed, so a Precision that learns
    int8 is used as soon as it does)."""
    try:
        Precision(**{field: value})
    except ValidationError:
        return False
    return True


def _dtype(stated: str, field: str, what: str, notes: list[str]) -> str:
    """The Precision value for a stated format; `int8` becomes `fp8` (same 1-byte storage and traffic)
    where Precision has no int8."""
    if stated != "int8" or _allowed(field, stated):
        return stated
    notes.append(f"{what} int8 taken as fp8 (1 byte per element)")
    return "fp8"


class CaseInputs(NamedTuple):
    model: MoEModel
    hardware: Hardware
    deployment: Deployment
    scenario: Scenario
    calibration: Calibration
    skew: str | None  # "balanced" for cases routed evenly, else None (the modelled default)
    notes: list[str]  # approximations made


def case_inputs(case: Case) -> CaseInputs:
    """What one case evaluates: its model, hardware, deployment, scenario, calibration and skew."""
    notes: list[str] = []
    weights = _dtype(case.weights, "weights", "weights", notes)
    experts = _dtype(case.expert_weights, "weights", "expert weights", [])
    kv = _dtype(case.kv_dtype, "kv", "KV", notes)
    attention = _dtype(case.attention_dtype, "attention", "attention", notes)
    fields = {"weights": weights, "kv": kv, "attention": attention}
    if experts != weights:
        if _allowed("expert_weights", experts):
            fields["expert_weights"] = experts
        else:
            notes.append(f"expert weights {case.expert_weights} not separable: all GEMMs at {weights}")
    precision = Precision(**fields)
    scenario = Scenario(
        context_tokens=case.context_tokens,
        precision=precision,
        mtp_draft_tokens=case.mtp_draft,
        mtp_acceptance=case.mtp_accept,
    )
    model = load_model(case.model)
    hw: Hardware = load_hardware(case.hardware)
    if case.weights == "int8" and weights == "fp8" and hw.fp8_flops is None:
        # Hardware.runnable_dtype: without an FP8 peak the GEMMs run at BF16, half the INT8 rate.
        notes.append(f"{hw.name} has no fp8/int8 peak in the catalog: int8 GEMMs run at the BF16 rate")
    if case.network_gb_s_per_gpu is not None:
        hw = hw.model_copy(update={"scale_out_bandwidth": case.network_gb_s_per_gpu * 1e9})
    if case.mode == "ep":
        dep = EpDeployment(
            hardware=hw, gpus=case.gpus, overlap=case.overlap, redundant_experts=case.redundant_experts
        )
    else:
        dep = AfdDeployment(
            attention_hardware=hw,
            ffn_hardware=hw,
            attention_gpus=case.attention_gpus,
            ffn_gpus=case.ffn_gpus,
            micro_batches=case.micro_batches,
            expert_tp=case.expert_tp,
            shared_experts_on=case.shared_experts_on or "attention",
            redundant_experts=case.redundant_experts,
        )
    skew = "balanced" if case.routing == "balanced" else None
    return CaseInputs(model, hw, dep, scenario, DEFAULT_CALIBRATION, skew, notes)


def _run(case: Case, inputs: CaseInputs):
    """(result, evaluation at the same batch, batch note) for one case."""
    model, dep, scenario, cal, skew = (
        inputs.model,
        inputs.deployment,
        inputs.scenario,
        inputs.calibration,
        inputs.skew,
    )
    evaluate, evaluate_one = (evaluate_ep, eval_ep) if case.mode == "ep" else (evaluate_afd, eval_afd)

    def sweep(b):
        return evaluate(model, dep, scenario, b, cal, skew)

    step = dep.micro_batches
    batch, note = case.batch_per_gpu, None
    if batch is None:
        cap = int(sweep(step).max_batch_per_gpu) // step * step
        if cap < step:
            raise AfdscopeError(f"no batch of {step} fits in memory (cap {cap}); the case cannot run")
        batch, note = cap, f"batch {cap} per GPU: the memory cap (published batch not stated)"
    # Positional calls: the evaluators' public signatures as documented in deploy/ep.py and deploy/afd.py
    # (model, deployment, scenario, batch, SLO, calibration, skew).
    result = evaluate_one(model, dep, scenario, batch, None, cal, skew)
    return result, sweep(batch), note


def _finite_or_none(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def outcome_reason(throughput: float | None, result) -> str | None:
    """Why an evaluated row does not count as a plain prediction: a non-finite throughput, or a
    configuration infeasible as stated (with the evaluator's reasons); None otherwise."""
    if throughput is None:
        return "predicted throughput is not finite"
    if not result.feasible:
        return "infeasible as stated: " + "; ".join(result.reasons)
    return None


def relative_error(predicted, published):
    """predicted / published − 1 (vectorised)."""
    return np.asarray(predicted, dtype=float) / np.asarray(published, dtype=float) - 1.0


def _phases_us(ev) -> dict | None:
    """EP: the schedule's per-micro-batch phases (deploy/schedules.py) in µs."""
    p = ev.phases
    if p is None:
        return None
    names = (
        "attn1",
        "attn2",
        "shared",
        "experts",
        "dispatch",
        "combine",
        "dispatch_stream",
        "combine_stream",
    )
    return {n: float(np.asarray(getattr(p, n)).reshape(-1)[0]) * 1e6 for n in names}


def evaluate_case(case: Case) -> dict:
    """One flat row: inputs, published, predicted, error on tokens/s per GPU, the predicted step split
    (per MoE layer and micro-batch, µs; `layer_us` is the whole layer, `serial_us_per_layer` the step's
    serial work spread over its layers) and `reason` when it could not be evaluated or is infeasible."""
    row = {
        "id": case.id,
        "family": family_of(case.hardware),
        "mode": case.mode,
        "model": case.model,
        "hardware": case.hardware,
        "gpus": case.gpus if case.mode == "ep" else case.attention_gpus + case.ffn_gpus,
        "batch_per_gpu": case.batch_per_gpu,
        "published_tpot_ms": case.published_tpot_ms,
        "published_tokens_per_s_per_gpu": case.published_tokens_per_s_per_gpu,
        "predicted_tpot_ms": None,
        "predicted_tokens_per_s_per_gpu": None,
        "error": None,
        "attention_us": None,
        "ffn_us": None,
        "dispatch_us": None,
        "combine_us": None,
        "layer_us": None,
        "serial_us_per_layer": None,
        "micro_batches": None,
        "phases_us": None,
        "approximations": "",
        "reason": None,
    }
    try:
        inputs = case_inputs(case)
        model, notes = inputs.model, inputs.notes
        result, ev, note = _run(case, inputs)
    except AfdscopeError as exc:
        row["reason"] = f"not evaluated: {exc}"
        return row
    if note:
        notes.append(note)
    tps = _finite_or_none(result.tokens_per_s_per_gpu)
    row.update(
        batch_per_gpu=result.batch_per_gpu,
        predicted_tpot_ms=_finite_or_none(result.tpot_ms),
        predicted_tokens_per_s_per_gpu=tps,
        error=None if tps is None else float(relative_error(tps, case.published_tokens_per_s_per_gpu)),
        attention_us=result.per_layer_us["attention"],
        ffn_us=result.per_layer_us["ffn"],
        dispatch_us=result.per_layer_us["dispatch"],
        combine_us=result.per_layer_us["combine"],
        layer_us=float(np.asarray(ev.layer_s)) * 1e6,
        serial_us_per_layer=float(np.asarray(ev.serial_s)) * 1e6 / model.num_layers,
        micro_batches=ev.micro_batches,
        phases_us=_phases_us(ev),
        approximations="; ".join(notes),
    )
    row["reason"] = outcome_reason(tps, result)
    return row


def validate_cases(cases: list[Case] | None = None) -> list[dict]:
    """Every case evaluated at its stated batch per GPU (or the memory cap), one row each."""
    if cases is None:
        from afdscope.validation.cases import load_cases

        cases = load_cases()
    return [evaluate_case(c) for c in cases]
