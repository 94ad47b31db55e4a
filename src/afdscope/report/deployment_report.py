"""`afdscope report`: everything one HTML page shows, gathered first, then written atomically.

`build_report` checks the inputs, runs the search (`afdscope.search`), has each best configuration analysed
(`search.sensitivity.analyse_bests`: step budget, memory headroom, σ sweep and routing-derived σ), adds the
paper's view (`paper.study.curve_study`) and the where-AFD-pays map around the deployment
(`search.sensitivity.map_around`), and words the settings. `write_report` checks the output first, builds,
renders (`report.html`) and writes. Nothing here evaluates a deployment itself.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from afdscope import __version__
from afdscope.deploy.calibration import named_calibration
from afdscope.errors import AfdscopeError
from afdscope.paper.ceiling import Ceiling, hfu_ceiling
from afdscope.paper.study import CurveStudy
from afdscope.search import SearchResult
from afdscope.search.sensitivity import (
    MAP_POINTS,
    MAP_X,
    MAP_Y,
    POWER_LAW_ALPHA,
    ROUTING_DRAWS,
    ROUTING_SEED,
    MapView,
    Sensitivity,
    analyse_bests,
    map_around,
)


@dataclass(frozen=True)
class PaperView:
    study: CurveStudy | None  # None when the paper's model cannot evaluate this GPU (note says why)
    ceiling: Ceiling | None
    hardware: str
    value_set: str
    note: str | None  # why the datasheet set was used


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
    # The paper's three conclusions on afdscope's quick grid (search.conclusions.QUICK_GRID).
    conclusions: tuple = ()


def _load_devices(names, prices, value_set):
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.prices import price_for
    from afdscope.cost import with_price

    out = []
    for name in names:
        hw = load_hardware(name, value_set)
        out.append((name, with_price(hw, price_for(prices, hw.name))))
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
    balanced: bool = False,
) -> ReportData:
    """Search and every derived section for one model, workload and set of candidate GPUs. `preset`: the
    named calibration; `balanced`: the balanced ideal instead of the modelled routing skew."""
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
    names = {h.name.lower() for _, h in hws + attn + ffn}
    unknown = {p for p in prices if p.lower() not in names}
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
    cal, skew = named_calibration(preset), "balanced" if balanced else None
    limit_s = tpot_slo_ms * 1e-3
    check_slo(limit_s, cal, scenario.tokens_per_step)
    space = SearchSpace(max_gpus=max_gpus)
    result = search(
        m,
        scenario,
        Constraint(tpot_slo_s=limit_s),
        [h for _, h in hws],
        [h for _, h in attn] or None,
        [h for _, h in ffn] or None,
        space,
        cal,
        skew,
        progress=progress,
    )

    analysis = analyse_bests(result, m, devices, scenario, cal, limit_s, skew)
    sigmas = analysis.sensitivity.sigmas

    # The paper's view and the map for one device: the best AFD's FFN GPU, else the first candidate.
    focus = result.afd.best.config["ffn_hardware"] if result.afd.best else hws[0][1].name
    paper = _paper_view(model, arg_of[focus], focus)
    mapped = map_around(m, devices[focus], scenario, limit_s, cal, max_gpus, skew)

    cmd = ["afdscope report", f"--model {model}"]
    cmd += [f"--hardware {a}" for a, _ in (hws if hardware else [])]
    cmd += [f"--attention-hardware {a}" for a, _ in attn] + [f"--ffn-hardware {a}" for a, _ in ffn]
    cmd += [f"--context {context}", f"--tpot-slo-ms {tpot_slo_ms:g}", f"--max-gpus {max_gpus}"]
    cmd += [f"--price {k}={v:g}" for k, v in sorted(prices.items())]
    mem = cal.memory
    settings = {
        "deploy preset": preset,
        "weights / KV / attention": "fp8 / bf16 / bf16",
        "MTP draft tokens": scenario.mtp_draft_tokens,
        "search space": (
            f"≤ {space.max_gpus} GPUs, batch ≤ {space.max_batch_per_gpu} per (attention) GPU, "
            f"EP overlap {_slash(space.ep_overlaps)}, AFD micro-batches {_slash(space.micro_batches)}, "
            f"attention TP {_slash(space.attention_tp)}, expert TP {_slash(space.expert_tp)}"
        ),
        "per-step overhead": f"{cal.step_overhead_s * 1e3:g} ms",
        "AFD pipeline fill": "on" if cal.pipeline_fill else "off",
        "AFD node dedup": cal.dedup,
        "link duplex": "full" if cal.comm.full_duplex else "half",
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
    from afdscope.search.conclusions import QUICK_GRID, paper_conclusions

    conclusions = tuple(paper_conclusions(QUICK_GRID))
    return ReportData(
        conclusions=conclusions,
        search=result,
        budgets=analysis.budgets,
        headroom=analysis.headroom,
        sensitivity=analysis.sensitivity,
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
    from afdscope.files import atomic_write, check_writable
    from afdscope.report.html import render_report

    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise AfdscopeError(f"--out '{path}': the report is one HTML file; give a name ending in .html")
    if path.is_dir():
        raise AfdscopeError(f"--out '{path}' is a folder; give a file name ending in .html")
    check_writable([path], force)
    data = build_report(**kwargs)
    html = render_report(data)
    return atomic_write(path, html), data
