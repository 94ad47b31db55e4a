"""`afdscope report`: everything one HTML page shows, computed first, then written atomically.

`build_report` runs the search and derives every section from its two best configurations: the step
budget (`report.budget`), the memory headroom, the imbalance sensitivity (the structure of each best
configuration kept, the batch re-chosen under the SLO for every σ), the routing-derived σ
(`afdscope.imbalance`), the paper's view (`paper.study.curve_study`) and the where-AFD-pays map
(`afd_map`). `write_report` checks the output first, builds, renders (`report.html_report`) and writes.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from afdscope import __version__
from afdscope.afd_map import MapResult, afd_ep_map, axis
from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.ep import evaluate_ep
from afdscope.deploy.options import DeployOptions, deploy_preset
from afdscope.deploy.result import DeploymentResult, Evaluation
from afdscope.deploy.step import largest_batch_meeting_slo
from afdscope.errors import AfdscopeError
from afdscope.paper.ceiling import Ceiling, hfu_ceiling
from afdscope.paper.study import CurveStudy
from afdscope.report.budget import StepBudget, memory_headroom, step_budget
from afdscope.search import SearchResult
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario

# σ = mean/max expert load, swept for the sensitivity chart.
SIGMAS = tuple(np.round(np.linspace(0.5, 1.0, 11), 3))
# Expert popularity for the derived σ: a power law over ranks with DeepSeek-V3's fitted exponent.
POWER_LAW_ALPHA = 1.01
ROUTING_DRAWS = 400
ROUTING_SEED = 0
# The map: two axes, a modest grid, this deployment marked.
MAP_X, MAP_Y, MAP_POINTS = "scale-out-bandwidth", "expert-intermediate-size", 16


# --------------------------------------------------------------------------- one configuration again


def reevaluate(
    result: DeploymentResult,
    model: MoEModel,
    devices: Mapping[str, Hardware],
    scenario: Scenario,
    options: DeployOptions,
    batch_per_gpu=None,
) -> Evaluation:
    """Evaluate the structure of `result` (mode, hardware, GPU counts, overlap / micro-batches, TP) again
    at `batch_per_gpu` (default: its own batch; an array sweeps) under `options`. `devices`: name → device."""
    c = result.config
    batch = result.batch_per_gpu if batch_per_gpu is None else batch_per_gpu
    if result.mode == "ep":
        return evaluate_ep(
            model,
            devices[c["hardware"]],
            scenario,
            int(c["gpus"]),
            batch,
            replace(options, ep_overlap=c["overlap"]),
            attention_tp=int(c["attention_tp"]),
        )
    return evaluate_afd(
        model,
        devices[c["attention_hardware"]],
        devices[c["ffn_hardware"]],
        scenario,
        int(c["attention_gpus"]),
        int(c["ffn_gpus"]),
        int(c["micro_batches"]),
        batch,
        options,
        whole_nodes=False,
        attention_tp=int(c["attention_tp"]),
        expert_tp=int(c["expert_tp"]),
    )


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
    options: DeployOptions,
    tpot_limit_s: float,
    max_batch_per_gpu: int = 1024,
) -> float:
    """Highest tokens/s per GPU of `result`'s structure over the search's batch grid (step, 2·step, … ≤
    `max_batch_per_gpu`) that fits in memory and meets the TPOT limit under `options`; 0 when none does."""
    step = _batch_step(result)
    if max_batch_per_gpu < step:
        return 0.0
    ev, i = largest_batch_meeting_slo(
        lambda b: reevaluate(result, model, devices, scenario, options, b),
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
    options: DeployOptions,
    tpot_limit_s: float,
    sigmas: Sequence[float] = SIGMAS,
    max_batch_per_gpu: int = 1024,
) -> np.ndarray:
    """Tokens/s per GPU at each σ: expert and communication load factors both 1/σ, same structure, the
    batch re-chosen under the SLO."""
    out = []
    for s in sigmas:
        if not 0 < s <= 1:
            raise AfdscopeError(f"σ = {s}: a mean/max load is in (0, 1]")
        opts = replace(options, expert_load_factor=1.0 / s, comm_load_factor=1.0 / s)
        out.append(best_under_slo(result, model, devices, scenario, opts, tpot_limit_s, max_batch_per_gpu))
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
    options: DeployOptions,
    tpot_limit_s: float,
    eplb: bool = False,
    alpha: float = POWER_LAW_ALPHA,
    draws: int = ROUTING_DRAWS,
    seed: int = ROUTING_SEED,
    max_batch_per_gpu: int = 1024,
) -> DerivedSigma:
    """Route the best configuration's tokens per MoE layer under a power-law popularity with the model's
    group limits (`afdscope.imbalance.simulate_routing`), then re-evaluate it with the mean load factors."""
    from afdscope.imbalance import Popularity, load_factors, simulate_routing

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
    expert_f, comm_f = load_factors(stats)
    opts = replace(
        options,
        expert_load_factor=float(expert_f),
        comm_load_factor=float(comm_f),
        memory=replace(options.memory, redundant_experts=redundant),
    )
    throughput = best_under_slo(result, model, devices, scenario, opts, tpot_limit_s, max_batch_per_gpu)
    return DerivedSigma(result.mode, eplb, redundant, tokens, float(expert_f), float(comm_f), throughput)


# --------------------------------------------------------------------------- the whole report


@dataclass(frozen=True)
class Sensitivity:
    sigmas: np.ndarray
    tokens_per_s_per_gpu: dict  # mode → array over sigmas
    derived: tuple[DerivedSigma, ...]
    alpha: float
    draws: int
    seed: int


@dataclass(frozen=True)
class PaperView:
    study: CurveStudy | None  # None when the paper's model cannot evaluate this GPU (note says why)
    ceiling: Ceiling | None
    hardware: str
    value_set: str
    note: str | None  # why the datasheet set was used


@dataclass(frozen=True)
class MapView:
    result: MapResult
    marker: tuple[float, float]  # this deployment on (x, y), user units
    hardware: str


@dataclass(frozen=True)
class ReportData:
    search: SearchResult
    budgets: dict  # mode → StepBudget
    headroom: dict  # mode → role → GB
    sensitivity: Sensitivity
    paper: PaperView
    map: MapView
    inputs: dict
    settings: dict
    command: str
    version: str
    generated_at: str
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _load_devices(names, prices, value_set):
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.cost import with_price

    out = []
    for name in names:
        hw = load_hardware(name, value_set)
        out.append((name, with_price(hw, prices.get(hw.name))))
    return out


def _paper_view(model_arg: str, hw_arg: str, hw_name: str) -> PaperView:
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.paper.options import preset
    from afdscope.paper.study import curve_study

    options = preset("paper")
    value_set, note = "paper", None
    try:
        load_hardware(hw_arg, "paper")
    except AfdscopeError:
        value_set = "datasheet"
        note = f"{hw_name} has no paper (Table 5) values; this view uses its datasheet values"
    try:
        study = curve_study(model_arg, hw_arg, value_set, options)
        ceiling = hfu_ceiling(load_model(model_arg), load_hardware(hw_arg, value_set), options)
    except AfdscopeError as exc:  # e.g. a GPU without an FP8 peak: the paper's model has no answer
        return PaperView(None, None, hw_name, value_set, f"The paper's view is not available: {exc}")
    return PaperView(study, ceiling, hw_name, value_set, note)


def _map_view(model, hw, scenario, tpot_limit_s, options, max_gpus) -> MapView:
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
        options=options,
        max_gpus=max_gpus,
    )
    return MapView(result, (mx, my), hw.name)


def build_report(
    model: str,
    context: int,
    tpot_slo_ms: float,
    hardware: Sequence[str] = (),
    attention_hardware: Sequence[str] = (),
    ffn_hardware: Sequence[str] = (),
    max_gpus: int = 256,
    prices: Mapping[str, float] | None = None,
    preset: str = "default",
    progress=None,
    now: _dt.datetime | None = None,
) -> ReportData:
    """Search and every derived section for one model, workload and set of candidate GPUs."""
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.step import check_slo
    from afdscope.search import Constraint, SearchSpace, search
    from afdscope.specs.scenario import Scenario

    t0 = time.perf_counter()
    prices = dict(prices or {})
    if not np.isfinite(tpot_slo_ms) or tpot_slo_ms <= 0:
        raise AfdscopeError(f"--tpot-slo-ms {tpot_slo_ms:g}: the SLO must be a positive number of ms")
    if context < 1:
        raise AfdscopeError(f"--context {context}: give a positive number of tokens")
    if max_gpus < 16:
        raise AfdscopeError(f"--max-gpus {max_gpus}: a report searches at least 16 GPUs")
    hws = _load_devices(hardware, prices, "datasheet")
    attn = _load_devices(attention_hardware, prices, "datasheet")
    ffn = _load_devices(ffn_hardware, prices, "datasheet")
    unknown = set(prices) - {h.name for _, h in hws + attn + ffn}
    if unknown:
        raise AfdscopeError(
            f"--price for {', '.join(sorted(unknown))}, which is not a candidate; "
            "price the devices you search"
        )
    if not hws:
        hws = list({h.name: (a, h) for a, h in attn + ffn}.values())
    if not hws:
        raise AfdscopeError("give --hardware (or --attention-hardware and --ffn-hardware)")
    if bool(attn) != bool(ffn):
        raise AfdscopeError("give both --attention-hardware and --ffn-hardware, or neither")
    arg_of = {h.name: a for a, h in hws + attn + ffn}
    devices = {h.name: h for _, h in hws + attn + ffn}
    m = load_model(model)
    scenario = Scenario(context_tokens=context)
    options = deploy_preset(preset)
    limit_s = tpot_slo_ms * 1e-3
    check_slo(limit_s, options, scenario.tokens_per_step)
    space = SearchSpace(max_gpus=max_gpus)
    result = search(
        m,
        scenario,
        Constraint(tpot_slo_s=limit_s),
        [h for _, h in hws],
        [h for _, h in attn] or None,
        [h for _, h in ffn] or None,
        space,
        options,
        progress=progress,
    )

    budgets: dict[str, StepBudget] = {}
    headroom: dict[str, dict] = {}
    sweeps: dict[str, np.ndarray] = {}
    derived: list[DerivedSigma] = []
    for mode in (result.afd, result.ep):
        best = mode.best
        if best is None:
            continue
        ev = reevaluate(best, m, devices, scenario, options)
        opts = replace(options, ep_overlap=best.config["overlap"]) if best.mode == "ep" else options
        budgets[best.mode] = step_budget(ev, m, opts, limit_s)
        roles = (
            {"ep": devices[best.config["hardware"]]}
            if best.mode == "ep"
            else {
                "attention": devices[best.config["attention_hardware"]],
                "ffn": devices[best.config["ffn_hardware"]],
            }
        )
        headroom[best.mode] = memory_headroom(best, m, roles, scenario, options)
        derived += [
            derived_sigma(best, m, devices, scenario, options, limit_s, eplb=e, max_batch_per_gpu=1024)
            for e in (False, True)
        ]
    sigmas = list(SIGMAS)
    low = min((d.sigma for d in derived), default=1.0)
    if low < SIGMAS[0]:  # extend the sweep down to the derived σ so its mark sits on the chart
        sigmas = sorted({*sigmas, *np.round(np.geomspace(low, SIGMAS[0], 7)[:-1], 4)})
    for mode in (result.afd, result.ep):
        if mode.best is not None:
            sweeps[mode.mode] = sigma_sweep(mode.best, m, devices, scenario, options, limit_s, sigmas)
    sensitivity = Sensitivity(
        np.array(sigmas), sweeps, tuple(derived), POWER_LAW_ALPHA, ROUTING_DRAWS, ROUTING_SEED
    )

    # The paper's view and the map for one device: the best AFD's FFN GPU, else the first candidate.
    focus = result.afd.best.config["ffn_hardware"] if result.afd.best else hws[0][1].name
    paper = _paper_view(model, arg_of[focus], focus)
    mapped = _map_view(m, devices[focus], scenario, limit_s, options, max_gpus)

    cmd = ["afdscope report", f"--model {model}"]
    cmd += [f"--hardware {a}" for a, _ in (hws if hardware else [])]
    cmd += [f"--attention-hardware {a}" for a, _ in attn] + [f"--ffn-hardware {a}" for a, _ in ffn]
    cmd += [f"--context {context}", f"--tpot-slo-ms {tpot_slo_ms:g}", f"--max-gpus {max_gpus}"]
    cmd += [f"--price {k}={v:g}" for k, v in sorted(prices.items())]
    mem = options.memory
    settings = {
        "deploy preset": preset,
        "weights / KV / attention": "fp8 / bf16 / bf16",
        "MTP draft tokens": scenario.mtp_draft_tokens,
        "search space": (
            f"≤ {space.max_gpus} GPUs, batch ≤ {space.max_batch_per_gpu} per (attention) GPU, "
            f"EP overlap {_slash(space.ep_overlaps)}, AFD micro-batches {_slash(space.micro_batches)}, "
            f"attention TP {_slash(space.attention_tp)}, expert TP {_slash(space.expert_tp)}"
        ),
        "per-step overhead": f"{options.step_overhead_s * 1e3:g} ms",
        "AFD pipeline fill": "on" if options.pipeline_fill else "off",
        "AFD node dedup": options.dedup,
        "link duplex": "full" if options.comm.full_duplex else "half",
        "usable HBM fraction": mem.usable_hbm_fraction,
        "buffers per GPU": f"{mem.buffer_bytes / 1e9:g} GB",
        "paper view": f"preset paper, {paper.value_set} values of {paper.hardware}",
        "imbalance": (
            f"σ sweep {min(sigmas):g}–1 (load factors 1/σ); derived σ: power law α = {POWER_LAW_ALPHA}, "
            f"group-limited routing, {ROUTING_DRAWS} draws, seed {ROUTING_SEED}; "
            "EPLB = one extra slot per GPU"
        ),
        "map": f"{MAP_X} × {MAP_Y}, {MAP_POINTS} × {MAP_POINTS}, base device {focus} (datasheet)",
        "prices ($/GPU-hour)": ", ".join(
            f"{n}: {h.price_usd_per_gpu_hour:g}" if h.price_usd_per_gpu_hour else f"{n}: unknown"
            for n, h in devices.items()
        ),
    }
    now = now or _dt.datetime.now(_dt.UTC)
    return ReportData(
        search=result,
        budgets=budgets,
        headroom=headroom,
        sensitivity=sensitivity,
        paper=paper,
        map=mapped,
        inputs=dict(result.inputs) | {"tpot_slo_ms": tpot_slo_ms},
        settings=settings,
        command=" ".join(cmd),
        version=__version__,
        generated_at=now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        seconds=time.perf_counter() - t0,
    )


def _slash(values) -> str:
    return "/".join(map(str, values))


def write_report(path: str | Path, force: bool = False, **kwargs) -> tuple[Path, ReportData]:
    """Check the output path, build the report (kwargs: `build_report`'s), render and write it at once."""
    from afdscope.report.html_report import render_report
    from afdscope.report.output import atomic_write, check_writable

    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise AfdscopeError(f"--out '{path}': the report is one HTML file; give a name ending in .html")
    if path.is_dir():
        raise AfdscopeError(f"--out '{path}' is a folder; give a file name ending in .html")
    check_writable([path], force)
    data = build_report(**kwargs)
    html = render_report(data)
    return atomic_write(path, html), data
