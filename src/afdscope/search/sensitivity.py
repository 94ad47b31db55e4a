"""One found deployment, examined: its structure re-evaluated at other batches and load factors, the σ
(mean/max expert load) it can bear, the σ routing statistics give it with and without EPLB, its step and
memory budget, and where on the AFD/EP map its hardware sits.

`analyse_bests` does all of it for a search's two best configurations (what `afdscope report` shows);
the structure of each best is kept and only its batch is re-chosen under the SLO. Every function takes a
`Calibration` and a skew (None: the calibration's default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.budget import StepBudget, memory_headroom, step_budget
from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.ep import evaluate_ep
from afdscope.deploy.result import DeploymentResult, Evaluation
from afdscope.deploy.step import largest_batch_meeting_slo
from afdscope.errors import AfdscopeError
from afdscope.search.map import MapResult, afd_ep_map, axis
from afdscope.search.run import SearchResult
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew

# σ = mean/max expert load, swept for the sensitivity chart.
SIGMAS = tuple(np.round(np.linspace(0.5, 1.0, 11), 3))
# Expert popularity for the derived σ: a power law over ranks with DeepSeek-V3's fitted exponent.
POWER_LAW_ALPHA = 1.01
ROUTING_DRAWS = 400
ROUTING_SEED = 0
# The map around a deployment: two axes, a modest grid, this deployment marked.
MAP_X, MAP_Y, MAP_POINTS = "scale-out-bandwidth", "expert-intermediate-size", 16


def reevaluate(
    result: DeploymentResult,
    model: MoEModel,
    devices: Mapping[str, Hardware],
    scenario: Scenario,
    calibration: Calibration = DEFAULT_CALIBRATION,
    batch_per_gpu=None,
    skew: RoutingSkew | str | None = None,
) -> Evaluation:
    """Evaluate the structure of `result` (mode, hardware, GPU counts, overlap / micro-batches, TP) again
    at `batch_per_gpu` (default: its own batch; an array sweeps) under `calibration` and `skew`.
    `devices`: name → device."""
    batch = result.batch_per_gpu if batch_per_gpu is None else batch_per_gpu
    dep = result.deployment  # the evaluated structure itself; `devices` only for results without one
    if dep is None:
        raise AfdscopeError("this result carries no deployment to re-evaluate")
    evaluate = evaluate_ep if result.mode == "ep" else evaluate_afd
    return evaluate(model, dep, scenario, batch, calibration, skew)


def _batch_step(result: DeploymentResult) -> int:
    c = result.config
    if result.mode == "ep":
        return 2 if c["overlap"] == "2bo" else 1
    return int(c["micro_batches"])


def best_under_slo(
    result: DeploymentResult,
    model: MoEModel,
    devices: Mapping[str, Hardware],
    scenario: Scenario,
    calibration: Calibration,
    tpot_limit_s: float,
    max_batch_per_gpu: int = 1024,
    skew: RoutingSkew | str | None = None,
) -> float:
    """Highest tokens/s per GPU of `result`'s structure over the search's batch grid (step, 2·step, … ≤
    `max_batch_per_gpu`) that fits in memory and meets the TPOT limit under `calibration` and `skew`; 0
    when none does."""
    step = _batch_step(result)
    if max_batch_per_gpu < step:
        return 0.0
    ev, i = largest_batch_meeting_slo(
        lambda b: reevaluate(result, model, devices, scenario, calibration, b, skew),
        tpot_limit_s,
        step,
        max_batch_per_gpu,
    )
    return float(ev.tokens_per_s_per_gpu[i]) if ev.meets(tpot_limit_s)[i] else 0.0


def sigma_sweep(
    result: DeploymentResult,
    model: MoEModel,
    devices: Mapping[str, Hardware],
    scenario: Scenario,
    calibration: Calibration,
    tpot_limit_s: float,
    sigmas: Sequence[float] = SIGMAS,
    max_batch_per_gpu: int = 1024,
) -> np.ndarray:
    """Tokens/s per GPU at each σ: expert and communication load factors both 1/σ, same structure, the
    batch re-chosen under the SLO."""
    cal = calibration
    out = []
    for s in sigmas:
        if not 0 < s <= 1:
            raise AfdscopeError(f"σ = {s}: a mean/max load is in (0, 1]")
        # Explicit factors (σ = 1: the balanced ideal), not the modelled default skew.
        skew = RoutingSkew(expert_load_factor=1.0 / s, comm_load_factor=1.0 / s)
        out.append(
            best_under_slo(result, model, devices, scenario, cal, tpot_limit_s, max_batch_per_gpu, skew)
        )
    return np.array(out)


@dataclass(frozen=True)
class DerivedSigma:
    """σ from routing statistics for one best configuration, with or without EPLB."""

    mode: str
    eplb: bool
    redundant: int  # EPLB redundant expert slots (0 without)
    tokens: int  # tokens entering one MoE layer (one micro-batch, all attention GPUs)
    expert_load_factor: float
    comm_load_factor: float
    tokens_per_s_per_gpu: float  # with those factors (and EPLB's memory), batch re-chosen under the SLO

    @property
    def sigma(self) -> float:
        return 1.0 / self.expert_load_factor


def eplb_slots(n_experts: int, expert_gpus: int) -> int:
    """Redundant slots giving every expert GPU one slot more than ceil(N / G): the smallest EPLB that
    splits evenly."""
    return -(-(n_experts + expert_gpus) // expert_gpus) * expert_gpus - n_experts


def derived_sigma(
    result: DeploymentResult,
    model: MoEModel,
    devices: Mapping[str, Hardware],
    scenario: Scenario,
    calibration: Calibration,
    tpot_limit_s: float,
    eplb: bool = False,
    alpha: float = POWER_LAW_ALPHA,
    draws: int = ROUTING_DRAWS,
    seed: int = ROUTING_SEED,
    max_batch_per_gpu: int = 1024,
) -> DerivedSigma:
    """Route the best configuration's tokens per MoE layer under a power-law popularity with the model's
    group limits (`afdscope.routing.simulate_routing`), then re-evaluate it with the mean load factors."""
    from afdscope.routing import Popularity, busiest_rank_load_factors, simulate_routing

    c = result.config
    q = scenario.query_positions
    n = model.n_routed_experts
    if result.mode == "ep":
        expert_gpus = int(c["gpus"])
        micro = 2 if c["overlap"] == "2bo" else 1
        tokens = max(1, round(result.batch_per_gpu / micro * q * expert_gpus))
        kwargs = {"gpus": expert_gpus, "mode": "ep"}
    else:
        expert_gpus = int(c["ffn_gpus"])
        tokens = max(1, round(result.batch_per_gpu / int(c["micro_batches"]) * q * int(c["attention_gpus"])))
        kwargs = {
            "ffn_gpus": expert_gpus,
            "mode": "afd",
            "gpus_per_node": devices[c["ffn_hardware"]].gpus_per_node,
        }
    redundant = eplb_slots(n, expert_gpus) if eplb else 0
    stats = simulate_routing(
        model, Popularity.power_law(n, alpha), tokens, draws, redundant=redundant, seed=seed, **kwargs
    )
    expert_f, comm_f = busiest_rank_load_factors(stats)
    ef, cf = float(expert_f), float(comm_f)
    # The derived factors (both exactly 1 would leave the calibration's default skew, as given factors
    # of 1 always have).
    skew = None if ef == cf == 1.0 else RoutingSkew(expert_load_factor=ef, comm_load_factor=cf)
    cal = calibration
    # The same structure with these EPLB slots (or none), evaluated under the derived factors.
    placed = replace(result, deployment=result.deployment.replace(redundant_experts=redundant))
    throughput = best_under_slo(placed, model, devices, scenario, cal, tpot_limit_s, max_batch_per_gpu, skew)
    return DerivedSigma(result.mode, eplb, redundant, tokens, float(expert_f), float(comm_f), throughput)


@dataclass(frozen=True)
class Sensitivity:
    sigmas: np.ndarray
    tokens_per_s_per_gpu: dict  # mode → array over sigmas
    derived: tuple[DerivedSigma, ...]
    alpha: float
    draws: int
    seed: int

    def share_of_balanced(self, d: DerivedSigma) -> float:
        """A derived σ's throughput over its mode's at σ = 1 (the sweep's last point); NaN when that is 0."""
        balanced = self.tokens_per_s_per_gpu[d.mode][-1]
        return d.tokens_per_s_per_gpu / balanced if balanced > 0 else float("nan")


@dataclass(frozen=True)
class BestAnalysis:
    """What `analyse_bests` finds for a search's best configurations, keyed by mode."""

    budgets: dict  # mode → StepBudget
    headroom: dict  # mode → role → GB
    sensitivity: Sensitivity


def analyse_bests(
    result: SearchResult,
    model: MoEModel,
    devices: Mapping[str, Hardware],
    scenario: Scenario,
    calibration: Calibration,
    tpot_limit_s: float,
    skew: RoutingSkew | str | None = None,
) -> BestAnalysis:
    """Step budget, memory headroom, derived σ (without and with EPLB) and the σ sweep of each best; the
    sweep is extended below 0.5 down to the lowest derived σ so that mark sits on the chart."""
    cal = calibration
    budgets: dict[str, StepBudget] = {}
    headroom: dict[str, dict] = {}
    sweeps: dict[str, np.ndarray] = {}
    derived: list[DerivedSigma] = []
    for mode in (result.afd, result.ep):
        best = mode.best
        if best is None:
            continue
        ev = reevaluate(best, model, devices, scenario, cal, skew=skew)
        budgets[best.mode] = step_budget(ev, model, cal, tpot_limit_s)
        roles = (
            {"ep": devices[best.config["hardware"]]}
            if best.mode == "ep"
            else {
                "attention": devices[best.config["attention_hardware"]],
                "ffn": devices[best.config["ffn_hardware"]],
            }
        )
        headroom[best.mode] = memory_headroom(best, model, roles, scenario, cal)
        derived += [
            derived_sigma(best, model, devices, scenario, cal, tpot_limit_s, eplb=e, max_batch_per_gpu=1024)
            for e in (False, True)
        ]
    sigmas = list(SIGMAS)
    low = min((d.sigma for d in derived), default=1.0)
    if low < SIGMAS[0]:
        sigmas = sorted({*sigmas, *np.round(np.geomspace(low, SIGMAS[0], 7)[:-1], 4)})
    for mode in (result.afd, result.ep):
        if mode.best is not None:
            sweeps[mode.mode] = sigma_sweep(mode.best, model, devices, scenario, cal, tpot_limit_s, sigmas)
    sensitivity = Sensitivity(
        np.array(sigmas), sweeps, tuple(derived), POWER_LAW_ALPHA, ROUTING_DRAWS, ROUTING_SEED
    )
    return BestAnalysis(budgets, headroom, sensitivity)


@dataclass(frozen=True)
class MapView:
    result: MapResult
    marker: tuple[float, float]  # this deployment on (x, y), user units
    hardware: str


def map_around(model, hw, scenario, tpot_limit_s, calibration, max_gpus, skew=None) -> MapView:
    """The AFD/EP map over `MAP_X` × `MAP_Y` for `hw`, ranges widened to contain its own values (marked)."""
    x, y = axis(MAP_X), axis(MAP_Y)
    mx = hw.scale_out_bandwidth / x.scale
    my = float(model.moe_intermediate_size)
    xr = (min(x.default_range[0], mx / 1.5), max(x.default_range[1], mx * 1.5))
    yr = (min(y.default_range[0], my / 1.5), max(y.default_range[1], my * 1.5))
    result = afd_ep_map(
        model,
        hw,
        scenario,
        tpot_limit_s,
        x,
        y,
        x.values(*xr, MAP_POINTS),
        y.values(*yr, MAP_POINTS),
        calibration=calibration,
        max_gpus=max_gpus,
        skew=skew,
    )
    return MapView(result, (mx, my), hw.name)
