"""Which mode wins a search, by how much, and what holds the loser back — in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afdscope.deploy.result import DeploymentResult

if TYPE_CHECKING:
    from afdscope.search.run import ModeSearch
    from afdscope.search.space import Constraint


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # "afd", "ep", or None when neither is feasible
    ratio: float | None  # best AFD / best EP tokens/s per GPU
    reason: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def why_none(mode: str, reasons: dict, constraint: Constraint) -> str:
    """Why a mode has no feasible point: the commonest reason over its groups (SLO or memory)."""
    if reasons.get("slo", 0) >= reasons.get("memory", 0):
        return f"no {mode.upper()} configuration meets {constraint.describe()}"
    return f"no {mode.upper()} configuration fits in memory (e.g. {reasons.get('memory_text', 'weights')})"


def decide(ep: ModeSearch, afd: ModeSearch) -> Verdict:
    """The winner on tokens/s per GPU of the two bests, the AFD/EP ratio, and the loser's limit."""
    if ep.best is None and afd.best is None:
        return Verdict(None, None, f"neither mode is feasible: {ep.why_none}; {afd.why_none}")
    if afd.best is None:
        return Verdict("ep", None, f"{afd.why_none}")
    if ep.best is None:
        return Verdict("afd", None, f"{ep.why_none}")
    ratio = afd.best.tokens_per_s_per_gpu / ep.best.tokens_per_s_per_gpu
    winner, loser = (afd, ep) if ratio > 1 else (ep, afd)
    return Verdict(
        winner.mode,
        ratio,
        f"{winner.mode.upper()} delivers {max(ratio, 1 / ratio):.2f}× the tokens/s per GPU; "
        f"{loser.mode.upper()} is limited by {limit_sentence(loser.best)}",
    )


def limit_sentence(r: DeploymentResult) -> str:
    """What holds a deployment back, in words a capacity planner uses."""
    layer = r.per_layer_us
    transfers = f"{layer['dispatch']:.0f} + {layer['combine']:.0f} µs of transfers per layer"
    if r.bottleneck == "communication" and r.mode == "afd":
        fabric = r.config.get("fabric", "scale-out")
        return f"{fabric} bandwidth between attention and FFN ({transfers}; FFN HFU {r.hfu_ffn:.0%})"
    if r.bottleneck == "communication":
        compute = layer["attention"] + layer["ffn"]
        return f"exposed all-to-all communication ({transfers} against {compute:.0f} µs of compute)"
    if r.bottleneck == "attention":
        per = "per GPU" if r.mode == "ep" else "per attention GPU"
        return f"attention time ({layer['attention']:.0f} µs per layer at {r.batch_per_gpu} requests {per})"
    if r.bottleneck == "ffn":
        return f"expert GEMM time ({layer['ffn']:.0f} µs per layer; FFN HFU {r.hfu_ffn:.0%})"
    return "memory capacity"
