"""A second validation set: measured TPOT of disaggregated decode workers (aiconfigurator silicon sample).

`data/aiconfigurator_silicon_sample.csv` holds 274 measured decode runs (aiconfigurator-core 0.12.0's
`systems/silicon_sample.csv`, mode=disagg; columns in the file's `#` header). Each run is mapped to an
afdscope EP evaluation with the typed API and evaluated at its stated layout; runs whose layout afdscope
cannot express are kept with the reason and left out of the statistics. Nothing here is fitted: the runs
measure the model, they do not tune it. This set is separate from the public-deployments set (its bounds,
bands and median test are untouched).

Mapping of one run (the decode worker, one engine instance):

* GPUs = decode_tp × decode_attention_dp (= decode_moe_tp × decode_moe_ep, checked); attention TP =
  decode_tp inside each of the decode_attention_dp data-parallel ranks; experts over EP = decode_moe_ep.
* batch: `decode_batch_per_worker` is aiconfigurator's decode batch_size, which is per attention-DP rank:
  every row that states its concurrency has silicon_concurrency = batch × decode_attention_dp ×
  decode_workers (e.g. 64 × 8 × 1 = 512). A rank of decode_tp GPUs shares its batch, so afdscope's batch
  per GPU = decode_batch_per_worker / decode_tp (`attention_layer_parts`: tp GPUs share tp·batch
  requests); under TP it may be below one request per GPU (4 requests on TP8 = 0.5), so the sweep
  `evaluate_ep` is called, not `eval_ep` (which refuses a batch below 1).
* context = ISL + OSL / 2 (the mean KV length over the decode), formats from gemm_dtype / moe_dtype
  (nvfp4 → fp4, fp8 and fp8_block → fp8), KV FP8 (the sample's MLA decode tables are FP8-KV), core
  attention BF16, no MTP, no overlap (nbo) and afdscope's usual EPLB slots and modelled skew: the sample
  states none of these, so they are the stated assumptions of every row (`approximations`).

Not expressible, skipped with the reason: pipeline parallelism, MoE tensor parallelism (EpDeployment
has no expert TP), a MoE layout not stated (moe_tp = moe_ep = 0), dense models and models not in the
catalog. Kimi-K2.5 is evaluated as the catalog's Kimi-K2: its language model has Kimi-K2's architecture
(the vision tower is not in a decode step), recorded as an approximation.

Error = predicted / measured tokens/s per user − 1 = measured TPOT / predicted TPOT − 1 (positive:
afdscope is optimistic, the sign convention of the public set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

from afdscope.calibration import SYSTEMS
from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.ep import evaluate_ep
from afdscope.errors import AfdscopeError
from afdscope.specs.deployment import EpDeployment
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision, Scenario
from afdscope.validation.cases import _read, parse_rows
from afdscope.validation.evaluate import _finite_or_none, family_of, outcome_reason, relative_error
from afdscope.validation.summary import error_stats

SILICON_FILE = "aiconfigurator_silicon_sample.csv"

# Hugging Face id in the sample → (catalog model, approximation note or "").
MODELS = {
    "deepseek-ai/DeepSeek-V3": ("deepseek-v3", ""),
    "deepseek-ai/DeepSeek-R1": ("deepseek-r1", ""),
    "Qwen/Qwen3-235B-A22B-FP8": ("qwen3-235b", ""),
    "moonshotai/Kimi-K2.5": (
        "kimi-k2",
        "Kimi-K2.5 evaluated as Kimi-K2 (same language-model architecture; vision tower not in decode)",
    ),
}
DENSE = {"Qwen/Qwen3-32B", "nvidia/Qwen3-32B-NVFP4"}
# The sample's GEMM formats → afdscope Precision weight formats.
FORMATS = {"nvfp4": "fp4", "fp8": "fp8", "fp8_block": "fp8", "bf16": "bf16"}
ASSUMED = "KV fp8, attention bf16, no MTP, nbo, usual EPLB slots (not stated by the sample)"


class SiliconRun(BaseModel):
    """One measured decode worker configuration (columns as in the CSV's `#` header)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    backend: Literal["sglang", "trtllm", "vllm"]
    backend_version: str = ""
    model: str = Field(min_length=1)
    system: str = Field(min_length=1)
    precision: str
    gemm_dtype: str
    moe_dtype: str
    isl_tokens: PositiveInt
    osl_tokens: PositiveInt
    decode_batch_per_worker: PositiveInt
    decode_workers: PositiveInt
    decode_tp: PositiveInt
    decode_pp: PositiveInt
    decode_attention_dp: PositiveInt
    decode_moe_tp: NonNegativeInt
    decode_moe_ep: NonNegativeInt
    tpot_ms: PositiveFloat


def parse_runs(text: str, label: str = "<silicon>") -> list[SiliconRun]:
    """One `SiliconRun` per data row; a bad row raises `AfdscopeError` naming the line and column."""
    return parse_rows(text, label, SiliconRun)


def load_runs(path: str | Path | None = None) -> list[SiliconRun]:
    """The shipped silicon sample (or the CSV at `path`)."""
    text, label = _read(path, SILICON_FILE)
    return parse_runs(text, label)


class Unmappable(AfdscopeError):
    """A run whose layout afdscope cannot express (the message is the reason)."""


class RunInputs(NamedTuple):
    model: MoEModel
    deployment: EpDeployment
    scenario: Scenario
    batch_per_gpu: float
    gpus: int
    notes: list[str]


def _format(value: str, column: str) -> str:
    if value not in FORMATS:
        raise Unmappable(f"{column} {value!r} has no afdscope format")
    return FORMATS[value]


def run_inputs(run: SiliconRun) -> RunInputs:
    """The afdscope model, EP deployment, scenario and batch per GPU of one run (module docstring);
    `Unmappable` with the reason when the layout cannot be expressed."""
    if run.model in DENSE:
        raise Unmappable(f"{run.model} is a dense model; afdscope's catalog holds MoE models")
    if run.model not in MODELS:
        raise Unmappable(f"model {run.model} is not in afdscope's catalog")
    if run.system not in SYSTEMS:
        raise Unmappable(f"system {run.system} is not in afdscope's hardware catalog")
    if run.decode_pp > 1:
        raise Unmappable(f"pipeline parallelism (decode_pp = {run.decode_pp}) is not modelled")
    tp, dp, moe_tp, moe_ep = run.decode_tp, run.decode_attention_dp, run.decode_moe_tp, run.decode_moe_ep
    if moe_tp == 0 and moe_ep == 0:
        raise Unmappable("MoE layout not stated (decode_moe_tp = decode_moe_ep = 0)")
    if moe_tp > 1:
        raise Unmappable(
            f"MoE tensor parallelism (moe_tp = {moe_tp}, moe_ep = {moe_ep}): EpDeployment has no expert TP"
        )
    gpus = tp * dp
    if moe_ep != gpus:
        raise Unmappable(f"moe_ep = {moe_ep} differs from the worker's {tp} × {dp} = {gpus} GPUs")
    name, note = MODELS[run.model]
    notes = [note] if note else []
    notes.append(ASSUMED)
    weights, experts = _format(run.gemm_dtype, "gemm_dtype"), _format(run.moe_dtype, "moe_dtype")
    precision = Precision(
        weights=weights, expert_weights=None if experts == weights else experts, kv="fp8", attention="bf16"
    )
    scenario = Scenario(context_tokens=run.isl_tokens + run.osl_tokens // 2, precision=precision)
    hw = load_hardware(SYSTEMS[run.system])
    dep = EpDeployment(hardware=hw, gpus=gpus, overlap="nbo", attention_tp=tp)
    return RunInputs(load_model(name), dep, scenario, run.decode_batch_per_worker / tp, gpus, notes)


def evaluate_run(run: SiliconRun) -> dict:
    """One flat row: the run, its mapping, measured and predicted TPOT and tokens/s per user, the error
    on tokens/s per user; `reason` says why a run was skipped or is infeasible as stated."""
    measured_tpu = 1e3 / run.tpot_ms
    row = {
        "id": run.id,
        "family": family_of(SYSTEMS.get(run.system, run.system)),
        "model": run.model,
        "hardware": SYSTEMS.get(run.system, run.system),
        "backend": run.backend,
        "precision": run.precision,
        "gpus": None,
        "attention_tp": run.decode_tp,
        "attention_dp": run.decode_attention_dp,
        "batch_per_gpu": None,
        "context_tokens": None,
        "measured_tpot_ms": run.tpot_ms,
        "predicted_tpot_ms": None,
        "measured_tokens_per_s_per_user": measured_tpu,
        "predicted_tokens_per_s_per_user": None,
        "error": None,
        "skipped": False,
        "approximations": "",
        "reason": None,
    }
    try:
        inputs = run_inputs(run)
    except AfdscopeError as exc:
        row.update(skipped=True, reason=f"skipped: {exc}")
        return row
    row.update(
        gpus=inputs.gpus,
        batch_per_gpu=inputs.batch_per_gpu,
        context_tokens=inputs.scenario.context_tokens,
        approximations="; ".join(inputs.notes),
    )
    try:
        result = evaluate_ep(inputs.model, inputs.deployment, inputs.scenario, inputs.batch_per_gpu).point()
    except AfdscopeError as exc:
        row["reason"] = f"not evaluated: {exc}"
        return row
    tpu = _finite_or_none(result.tokens_per_s_per_user)
    row.update(
        predicted_tpot_ms=_finite_or_none(result.tpot_ms),
        predicted_tokens_per_s_per_user=tpu,
        error=None if tpu is None else float(relative_error(tpu, measured_tpu)),
    )
    row["reason"] = outcome_reason(tpu, result)
    return row


def validate_silicon(runs: list[SiliconRun] | None = None) -> list[dict]:
    """Every run of the sample evaluated (or skipped with its reason), one row each."""
    return [evaluate_run(r) for r in (load_runs() if runs is None else runs)]


def _layout(row: dict) -> str:
    """attention TP (one rank of several GPUs per worker) or attention DP (one GPU per rank)."""
    return "attention TP" if row["attention_tp"] > 1 else "attention DP"


def summarise_silicon(rows: list[dict]) -> dict:
    """Counts (runs, evaluated, skipped, skip reasons) and the error statistics (median |error|, share
    within ±25 %, signed median, n) overall, per GPU family, per model, per family × attention layout
    and per family × model."""
    scored = [r for r in rows if r.get("error") is not None]

    def stats(sel):
        sel = list(sel)
        return {**error_stats(r["error"] for r in sel), "n": len(sel)}

    reasons: dict[str, int] = {}
    for r in rows:
        if r["skipped"]:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    families = sorted({r["family"] for r in scored})
    models = sorted({r["model"] for r in scored})
    return {
        "runs": len(rows),
        "evaluated": len(scored),
        "skipped": sum(r["skipped"] for r in rows),
        "skip_reasons": reasons,
        **stats(scored),
        "by_family": {f: stats(r for r in scored if r["family"] == f) for f in families},
        "by_model": {m: stats(r for r in scored if r["model"] == m) for m in models},
        "by_family_layout": {
            f"{f} {lay}": stats(r for r in scored if r["family"] == f and _layout(r) == lay)
            for f in families
            for lay in ("attention DP", "attention TP")
            if any(r["family"] == f and _layout(r) == lay for r in scored)
        },
        "by_family_model": {
            f"{f} {m}": stats(r for r in scored if r["family"] == f and r["model"] == m)
            for f in families
            for m in models
            if any(r["family"] == f and r["model"] == m for r in scored)
        },
    }


def summary_rows(summary: dict) -> list[dict]:
    """The summary as table rows: all, each family, each model, each family × model."""
    scopes = [("all", summary)]
    for key in ("by_family", "by_model", "by_family_layout", "by_family_model"):
        scopes += list(summary[key].items())
    return [
        {
            "scope": name,
            "runs": s["n"],
            "median abs error": s["median_abs_error"],
            "within ±25 %": s["within_25"],
            "signed median": s["signed_median"],
        }
        for name, s in scopes
    ]


def skip_rows(summary: dict) -> list[dict]:
    return [{"skipped runs": n, "reason": reason} for reason, n in sorted(summary["skip_reasons"].items())]


def plot_silicon(rows: list[dict], path: str | Path) -> Path:
    """Predicted vs measured tokens/s per user, log-log, y = x and the ±25 % band, one colour per GPU
    family and one marker per model (matplotlib, Agg; written atomically)."""
    from afdscope.validation.plot import COLOURS, parity_axes, save_parity

    scored = [r for r in rows if r["predicted_tokens_per_s_per_user"] is not None]
    meas = np.array([r["measured_tokens_per_s_per_user"] for r in scored], dtype=float)
    pred = np.array([r["predicted_tokens_per_s_per_user"] for r in scored], dtype=float)
    plt, fig, ax = parity_axes(meas, pred, "measured", (1.0, 1000.0))
    markers = "osD^v<>"
    models = sorted({r["model"] for r in scored})
    for family in sorted({r["family"] for r in scored}):
        for i, m in enumerate(models):
            idx = [j for j, r in enumerate(scored) if r["family"] == family and r["model"] == m]
            if idx:
                ax.scatter(
                    meas[idx],
                    pred[idx],
                    marker=markers[i % len(markers)],
                    color=COLOURS.get(family, "#7d3c98"),
                    s=16,
                    alpha=0.8,
                    label=f"{family} {m.split('/')[-1]}",
                    zorder=3,
                )
    return save_parity(
        plt,
        fig,
        ax,
        "measured output tokens/s per user (1 / TPOT)",
        "afdscope predicted tokens/s per user",
        "afdscope validate --set silicon: aiconfigurator silicon sample",
        path,
    )


def markdown() -> str:
    """The Markdown of docs/accuracy.md's silicon section (`python -m afdscope.validation.silicon`)."""
    from afdscope.report.output import to_markdown

    summary = summarise_silicon(validate_silicon())
    head = (
        f"{summary['runs']} runs: {summary['evaluated']} evaluated, {summary['skipped']} skipped, "
        f"{summary['runs'] - summary['evaluated'] - summary['skipped']} not evaluated\n\n"
    )
    return head + "\n".join(
        [to_markdown(summary_rows(summary), "Silicon summary"), to_markdown(skip_rows(summary), "Skipped")]
    )


if __name__ == "__main__":
    print(markdown(), end="")


__all__ = [
    "SiliconRun",
    "Unmappable",
    "evaluate_run",
    "load_runs",
    "parse_runs",
    "plot_silicon",
    "run_inputs",
    "summarise_silicon",
    "validate_silicon",
]
