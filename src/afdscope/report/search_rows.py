"""Search results as rows: one line per mode's best, and the Pareto points for CSV."""

from __future__ import annotations

from afdscope.deploy.result import DeploymentResult
from afdscope.search import SearchResult


def config_label(r: DeploymentResult) -> str:
    c = r.config
    if r.mode == "ep":
        return f"EP{c['gpus']} on {c['hardware']} ({c['overlap']}), {r.batch_per_gpu} req/GPU"
    attention = f"{c['attention_gpus']}×{c['attention_hardware']} attention"
    ffn = f"{c['ffn_gpus']}×{c['ffn_hardware']} FFN"
    return f"{attention} + {ffn}, m={c['micro_batches']}, {r.batch_per_gpu} req/attention GPU"


def _row(kind: str, r: DeploymentResult) -> dict:
    return {
        "mode": r.mode,
        "kind": kind,
        "configuration": config_label(r),
        "gpus": r.total_gpus,
        "tokens_per_s_per_gpu": r.tokens_per_s_per_gpu,
        "tokens_per_s_per_user": r.tokens_per_s_per_user,
        "tpot_ms": r.tpot_ms,
        "usd_per_million_output_tokens": r.usd_per_million_output_tokens,
        "bottleneck": r.bottleneck,
        "hfu_ffn": r.hfu_ffn,
    }


def best_rows(s: SearchResult) -> list[dict]:
    rows = []
    for mode in (s.ep, s.afd):
        if mode.best is None:
            rows.append({"mode": mode.mode, "kind": "none", "configuration": mode.why_none})
            continue
        rows.append(_row("tokens/s per GPU", mode.best))
        if mode.best_cost is not None and mode.best_cost != mode.best:
            rows.append(_row("$ per 1M tokens", mode.best_cost))
    keys = list(_row("x", s.ep.best or s.afd.best)) if (s.ep.best or s.afd.best) else ["mode", "kind"]
    return [{k: r.get(k) for k in keys} for r in rows]


def pareto_rows(s: SearchResult) -> list[dict]:
    return [_row("pareto", r) for mode in (s.ep, s.afd) for r in mode.pareto]


def verdict_line(s: SearchResult) -> str:
    """Two lines: the tokens/s-per-GPU call and the $-per-1M call, each with its reason."""
    v = s.verdict
    lines = [f"verdict: {v.headline} under {s.constraint.describe()} — {v.reason}"]
    if v.cost_winner is not None or v.cost_reason:
        if v.cost_ratio is None:
            head = "none" if v.cost_winner is None else v.cost_winner.upper()
        elif v.cost_close:
            head = f"too close to call (AFD/EP $ = {v.cost_ratio:.2f})"
        else:
            head = f"{v.cost_winner.upper()} (AFD/EP $ = {v.cost_ratio:.2f})"
        lines.append(f"cost: {head} — {v.cost_reason}")
    return "\n".join(lines)
