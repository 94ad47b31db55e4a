"""The search loop: every evaluator group of the space, each reduced on the spot to the few points that can
matter (its Pareto front, its fastest and its cheapest), so memory stays flat however large the grid; then
the best of each mode, its front, and the verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.result import DeploymentResult, Evaluation
from afdscope.errors import AfdscopeError
from afdscope.search.pareto import pareto_front, rounded
from afdscope.search.space import DEFAULT_SPACE, Constraint, Group, SearchSpace, afd_groups, ep_groups
from afdscope.search.verdict import Verdict, decide, why_none
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew


@dataclass(frozen=True)
class ModeSearch:
    mode: str
    best: DeploymentResult | None  # highest tokens/s per GPU
    best_cost: DeploymentResult | None  # lowest $ per 1M output tokens
    pareto: tuple[DeploymentResult, ...]
    evaluated: int
    feasible: int
    why_none: str | None = None  # when nothing is feasible: the commonest reason

    def as_dict(self) -> dict:
        return {
            "best": None if self.best is None else self.best.as_dict(),
            "best_cost": None if self.best_cost is None else self.best_cost.as_dict(),
            "pareto": [p.as_dict() for p in self.pareto],
            "evaluated": self.evaluated,
            "feasible": self.feasible,
            "why_none": self.why_none,
        }


@dataclass(frozen=True)
class SearchResult:
    ep: ModeSearch
    afd: ModeSearch
    verdict: Verdict
    constraint: Constraint
    seconds: float
    inputs: dict = field(default_factory=dict)

    @property
    def evaluated(self) -> int:
        return self.ep.evaluated + self.afd.evaluated

    def as_dict(self) -> dict:
        return {
            "ep": self.ep.as_dict(),
            "afd": self.afd.as_dict(),
            "verdict": self.verdict.as_dict(),
            "constraint": self.constraint.describe(),
            "evaluated_configs": self.evaluated,
            "seconds": self.seconds,
            "inputs": self.inputs,
        }


@dataclass
class _Candidates:
    """Points kept from every group: their metrics and where to find them again."""

    x: list = field(default_factory=list)  # tokens/s per user
    y: list = field(default_factory=list)  # tokens/s per GPU
    cost: list = field(default_factory=list)  # $ per 1M tokens (inf when unknown)
    gpus: list = field(default_factory=list)  # total GPUs of the deployment
    group: list = field(default_factory=list)
    index: list = field(default_factory=list)  # flat index inside the group's arrays
    reasons: dict = field(default_factory=dict)

    def add(self, gi: int, ev: Evaluation, limit_s: float) -> int:
        fits = ev.fits
        ok = ev.meets(limit_s)
        n_ok = int(ok.sum())
        if not n_ok:
            key = "memory" if not fits.any() else "slo"
            self.reasons[key] = self.reasons.get(key, 0) + 1
            if key == "memory" and ev.memory_reasons:
                self.reasons.setdefault("memory_text", ev.memory_reasons[0])
            return 0
        flat = np.flatnonzero(ok)
        x = ev.tokens_per_s_per_user.ravel()[flat]
        y = ev.tokens_per_s_per_gpu.ravel()[flat]
        cost = ev.usd_per_million_tokens
        c = (
            np.full(flat.size, np.inf)
            if cost is None
            else np.broadcast_to(cost, ev.step_s.shape).ravel()[flat]
        )
        keep = np.union1d(pareto_front(x, y), [int(np.argmax(y)), int(np.argmin(c))])
        self.x += list(x[keep])
        self.y += list(y[keep])
        self.cost += list(c[keep])
        self.gpus += list(np.broadcast_to(ev.total_gpus, ev.step_s.shape).ravel()[flat][keep])
        self.group += [gi] * keep.size
        self.index += list(flat[keep])
        return n_ok


def _search_mode(mode, groups: list[Group], constraint, progress, done) -> tuple[ModeSearch, int]:
    cand = _Candidates()
    feasible = evaluated = 0
    for gi, g in enumerate(groups):
        feasible += cand.add(gi, g.evaluate(), constraint.tpot_limit_s)
        evaluated += g.size
        done += g.size
        if progress:
            progress(done)
    if not cand.x:
        why = why_none(mode, cand.reasons, constraint)
        return ModeSearch(mode, None, None, (), evaluated, 0, why), done
    x, y, c = np.array(cand.x), np.array(cand.y), np.array(cand.cost)
    cache: dict[int, Evaluation] = {}

    def result(i: int) -> DeploymentResult:
        gi = cand.group[i]
        if gi not in cache:
            cache[gi] = groups[gi].evaluate()
        ev = cache[gi]
        return ev.point(np.unravel_index(cand.index[i], ev.step_s.shape))

    front = pareto_front(x, y)
    # Ties (equal throughput from different GPU counts) go to the cheaper, then the smaller deployment;
    # cost ties to the faster, then the smaller one.
    gpus = np.array(cand.gpus, dtype=float)
    # Costs and throughputs equal to 9 digits are equal (float noise must not pick a bigger deployment).
    c9, y9 = rounded(c), rounded(y)
    fastest = np.flatnonzero(y9 == y9.max())
    best = result(int(fastest[np.lexsort((gpus[fastest], c9[fastest]))[0]]))
    best_cost = None
    if np.isfinite(c).any():
        cheapest = np.flatnonzero(c9 == c9.min())
        best_cost = result(int(cheapest[np.lexsort((gpus[cheapest], -y9[cheapest]))[0]]))
    return ModeSearch(mode, best, best_cost, tuple(result(int(i)) for i in front), evaluated, feasible), done


def search(
    model: MoEModel,
    scenario: Scenario,
    constraint: Constraint,
    hardware: Sequence[Hardware],
    attention_hardware: Sequence[Hardware] | None = None,
    ffn_hardware: Sequence[Hardware] | None = None,
    space: SearchSpace = DEFAULT_SPACE,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Search EP over `hardware` and AFD over every (attention, FFN) hardware pair of the candidates
    (default: `hardware` for both roles) under `calibration` and `skew` (None: the calibration's default).
    `progress(done, total)` is called as groups finish."""
    if not hardware:
        raise AfdscopeError("give at least one hardware candidate")
    t0 = time.perf_counter()
    attention_hardware = list(attention_hardware or hardware)
    ffn_hardware = list(ffn_hardware or hardware)
    ep_g = ep_groups(model, hardware, scenario, space, calibration, skew)
    afd_g = afd_groups(model, attention_hardware, ffn_hardware, scenario, space, calibration, skew)
    total = sum(g.size for g in ep_g + afd_g)

    def tick(done: int) -> None:
        if progress:
            progress(done, total)

    ep, done = _search_mode("ep", ep_g, constraint, tick, 0)
    afd, _ = _search_mode("afd", afd_g, constraint, tick, done)
    return SearchResult(
        ep=ep,
        afd=afd,
        verdict=decide(ep, afd),
        constraint=constraint,
        seconds=time.perf_counter() - t0,
        inputs={
            "model": model.name,
            "hardware": [h.name for h in hardware],
            "attention_hardware": [h.name for h in attention_hardware],
            "ffn_hardware": [h.name for h in ffn_hardware],
            "context_tokens": scenario.context_tokens,
            "mtp_draft_tokens": scenario.mtp_draft_tokens,
            "mtp_acceptance": scenario.mtp_acceptance,
            "max_gpus": space.max_gpus,
            "preset_overrides": {
                "expert_load_factor": _given_max(skew, "expert_load_factor"),
                "comm_load_factor": _given_max(skew, "comm_load_factor"),
                "redundant_experts": space.redundant_experts or 0,
            },
        },
    )


def _given_max(skew, name: str) -> float:
    """The largest given load factor (1 when the skew is named, not given)."""
    return float(np.max(getattr(skew, name))) if isinstance(skew, RoutingSkew) else 1.0
