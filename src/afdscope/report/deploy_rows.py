"""A deployment result as field/value rows for the terminal and CSV (JSON uses `as_dict` directly)."""

from __future__ import annotations

from afdscope.deploy.result import DeploymentResult
from afdscope.report.notes import counting_notes

# `counting_notes` topics as row fields (the table shows them by `output.COLUMN_LABELS`).
NOTE_FIELDS = {
    "GPUs counted": "gpus_counted",
    "tokens counted": "tokens_counted",
    "whole nodes": "whole_nodes",
    "routing skew assumed": "routing_skew",
    "expected error": "expected_error",
    "calibration profile": "calibration_profile",
}


def note_rows(r: DeploymentResult, skip: tuple[str, ...] = ()) -> list[dict]:
    """What the result counts and assumes (`report.notes.counting_notes`) as field/value rows."""
    rows = [{"field": NOTE_FIELDS[topic], "value": text} for topic, text in counting_notes(r)]
    return [row for row in rows if row["field"] not in skip]


def result_rows(r: DeploymentResult) -> list[dict]:
    """The result's numbers, then its notes (routing_skew left to the caller, which puts it after the
    bottleneck)."""
    rows = [
        ("feasible", r.feasible),
        ("reasons", "; ".join(r.reasons) or None),
        ("tokens_per_s_per_gpu", r.tokens_per_s_per_gpu),
        ("tokens_per_s_per_user", r.tokens_per_s_per_user),
        ("tpot_ms", r.tpot_ms),
        ("batch_per_gpu", r.batch_per_gpu),
        ("total_gpus", r.total_gpus),
        ("bottleneck", r.bottleneck),
        ("hfu_ffn", r.hfu_ffn),
        ("step_ms", r.step_ms),
        ("usd_per_million_output_tokens", r.usd_per_million_output_tokens),
    ]
    rows += [(f"usd_per_million_by_role.{k}", v) for k, v in r.usd_per_million_by_role.items()]
    rows += [(f"per_layer_us.{k}", v) for k, v in r.per_layer_us.items()]
    for role, parts in r.memory_gb_per_gpu.items():
        rows += [(f"memory_gb_per_gpu.{role}.{k}", v) for k, v in parts.items()]
    rows += [(f"config.{k}", v) for k, v in r.config.items()]
    return [{"field": k, "value": v} for k, v in rows] + note_rows(r, skip=("routing_skew",))
