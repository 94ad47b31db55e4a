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
    """Two questions, each with its winner: most tokens/s per GPU (`winner`, `ratio` = AFD / EP) and
    lowest $ per 1M output tokens (`cost_winner`, `cost_ratio` = AFD / EP $). A ratio inside the combined
    expected-error band (`margin`, relative) is too close to call (`close`, `cost_close`): the nominal
    leader is kept, and the words say so."""

    winner: str | None  # "afd", "ep", or None when neither is feasible
    ratio: float | None  # best AFD / best EP tokens/s per GPU
    reason: str
    close: bool = False
    margin: float | None = None  # combined expected error of the ratio (±, relative)
    cost_winner: str | None = None
    cost_ratio: float | None = None  # cheapest AFD / cheapest EP $ per 1M output tokens
    cost_close: bool = False
    cost_reason: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @property
    def headline(self) -> str:
        """The throughput call in a few words: "AFD (AFD/EP = 1.20)" or "too close to call (…)"."""
        if self.winner is None:
            return "none feasible"
        if self.ratio is None:
            return self.winner.upper()
        if self.close:
            return f"too close to call (AFD/EP = {self.ratio:.2f}, within ±{self.margin:.0%})"
        return f"{self.winner.upper()} (AFD/EP = {self.ratio:.2f})"


def _half_width(band: dict) -> float:
    return (band["high"] - band["low"]) / 2


def combined_margin(ep: DeploymentResult, afd: DeploymentResult) -> float:
    """Relative uncertainty of an AFD/EP ratio: the two predictions' band half-widths combined as
    independent errors, √(w_EP² + w_AFD²)."""
    w_ep = _half_width(ep.expected_error) if ep.expected_error else 0.15
    w_afd = _half_width(afd.expected_error) if afd.expected_error else 0.15
    return float((w_ep**2 + w_afd**2) ** 0.5)


def why_none(mode: str, reasons: dict, constraint: Constraint) -> str:
    """Why a mode has no feasible point: the commonest reason over its groups (SLO or memory)."""
    if reasons.get("slo", 0) >= reasons.get("memory", 0):
        return f"no {mode.upper()} configuration meets {constraint.describe()}"
    return f"no {mode.upper()} configuration fits in memory (e.g. {reasons.get('memory_text', 'weights')})"


def decide(ep: ModeSearch, afd: ModeSearch) -> Verdict:
    """The winner on tokens/s per GPU of the two bests and on $ per 1M tokens of the two cheapest, each
    with its AFD/EP ratio, whether it lies inside the combined expected error, and the loser's limit."""
    if ep.best is None and afd.best is None:
        return Verdict(None, None, f"neither mode is feasible: {ep.why_none}; {afd.why_none}")
    if afd.best is None:
        return Verdict("ep", None, f"{afd.why_none}", cost_winner="ep", cost_reason=f"{afd.why_none}")
    if ep.best is None:
        return Verdict("afd", None, f"{ep.why_none}", cost_winner="afd", cost_reason=f"{ep.why_none}")
    ratio = afd.best.tokens_per_s_per_gpu / ep.best.tokens_per_s_per_gpu
    margin = combined_margin(ep.best, afd.best)
    winner, loser = (afd, ep) if ratio > 1 else (ep, afd)
    lead = max(ratio, 1 / ratio)
    close = lead - 1 < margin
    limit = f"{loser.mode.upper()} is limited by {limit_sentence(loser.best)}"
    if close:
        reason = (
            f"{winner.mode.upper()} leads by {lead - 1:.1%}, inside the ±{margin:.0%} expected error of "
            f"the two predictions (an error of {lead - 1:.1%} flips it); {limit}"
        )
    else:
        reason = f"{winner.mode.upper()} delivers {lead:.2f}× the tokens/s per GPU; {limit}"
    cost = _cost_call(ep, afd, margin)
    return Verdict(winner.mode, ratio, reason, close, margin, *cost)


def _cost_call(ep: ModeSearch, afd: ModeSearch, margin: float) -> tuple:
    """(winner, AFD/EP $ ratio, close, reason) on $ per 1M output tokens of each mode's cheapest."""
    e, a = ep.best_cost, afd.best_cost
    if (
        e is None
        or a is None
        or e.usd_per_million_output_tokens is None
        or a.usd_per_million_output_tokens is None
    ):
        return None, None, False, "no price for some candidate: pass --price NAME=USD_PER_GPU_HOUR"
    e_usd, a_usd = e.usd_per_million_output_tokens, a.usd_per_million_output_tokens
    ratio = a_usd / e_usd
    winner = "afd" if ratio < 1 else "ep"
    lead = max(ratio, 1 / ratio)
    close = lead - 1 < margin
    words = (
        f"cheapest EP ${e_usd:.4f} vs cheapest AFD ${a_usd:.4f} per 1M output tokens "
        f"({e.config.get('hardware', e.config.get('attention_hardware'))} EP{e.total_gpus} vs "
        f"{a.config['attention_gpus']}×{a.config['attention_hardware']} + {a.config['ffn_gpus']}×"
        f"{a.config['ffn_hardware']} AFD)"
    )
    if close:
        return winner, ratio, True, f"{words}: {lead - 1:.1%} apart, inside ±{margin:.0%}"
    return winner, ratio, False, f"{winner.upper()} is {lead:.2f}× cheaper: {words}"


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
