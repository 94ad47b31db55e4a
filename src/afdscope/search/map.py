"""Where AFD pays: the AFD/EP throughput ratio over a grid of two axes (hardware, model or workload).

Each cell runs a compact search of both modes — EP (two-batch overlap) over a few GPU counts, AFD over a
few FFN node counts with every attention node count and m = 3 micro-batches, on a geometric batch grid —
and takes best AFD / best EP tokens/s per GPU under the latency constraint. Axes that only enter the
arithmetic (bandwidths, FLOPS, context, the SLO) are evaluated as arrays in one evaluator call; axes
that change a deployment's structure (the scale-up domain, expert counts and sizes, top-k) are looped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.ep import evaluate_ep
from afdscope.errors import AfdscopeError
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew


@dataclass(frozen=True)
class Axis:
    name: str
    kind: str  # "hardware" (vectorised), "domain", "model" (looped), "context", "slo" (vectorised)
    field: str  # spec field it replaces ("" for context / slo)
    unit: str
    scale: float  # SI value = user value × scale
    default_range: tuple[float, float]
    integer: bool = False
    log: bool = True

    @property
    def vectorised(self) -> bool:
        return self.kind in ("hardware", "context", "slo")

    def values(self, lo: float, hi: float, n: int) -> np.ndarray:
        """n grid values in user units (geometric for log axes; distinct integers for integer axes)."""
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi <= lo:
            raise AfdscopeError(f"--{self.name} range {lo:g}..{hi:g}: give 0 < low < high")
        v = np.geomspace(lo, hi, n) if self.log else np.linspace(lo, hi, n)
        return np.unique(np.round(v)) if self.integer else v


AXES: dict[str, Axis] = {
    a.name: a
    for a in (
        Axis("scale-out-bandwidth", "hardware", "scale_out_bandwidth", "GB/s", 1e9, (12.5, 400)),
        Axis("scale-up-bandwidth", "hardware", "scale_up_bandwidth", "GB/s", 1e9, (100, 1800)),
        Axis("scale-up-domain", "domain", "scale_up_domain", "GPUs", 1, (8, 576), integer=True),
        Axis("fp8-flops", "hardware", "fp8_flops", "TFLOPS", 1e12, (250, 10000)),
        Axis("hbm-bandwidth", "hardware", "hbm_bandwidth", "TB/s", 1e12, (1, 16)),
        Axis("expert-intermediate-size", "model", "moe_intermediate_size", "", 1, (256, 8192), integer=True),
        Axis("experts-per-token", "model", "top_k", "", 1, (1, 16), integer=True, log=False),
        Axis("num-experts", "model", "n_routed_experts", "", 1, (8, 512), integer=True),
        Axis("context", "context", "", "tokens", 1, (512, 131072), integer=True),
        Axis("tpot-slo", "slo", "", "ms", 1e-3, (15, 150)),
    )
}


def axis(name: str) -> Axis:
    try:
        return AXES[name.lower()]
    except KeyError:
        raise AfdscopeError(f"unknown map axis '{name}'; choose one of: {', '.join(AXES)}") from None


@dataclass(frozen=True)
class MapResult:
    x: Axis
    y: Axis
    x_values: np.ndarray  # user units
    y_values: np.ndarray
    best_ep: np.ndarray  # tokens/s per GPU, shape (ny, nx); 0 where infeasible
    best_afd: np.ndarray
    inputs: dict

    @property
    def ratio(self) -> np.ndarray:
        """AFD / EP where EP is feasible (0 where only EP is); NaN where EP is not — `rows` reports the
        status (both / ep_only / afd_only / neither) instead of NaN."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.best_ep > 0, self.best_afd / np.where(self.best_ep > 0, self.best_ep, 1), np.nan
            )

    def rows(self) -> list[dict]:
        rows = []
        for i, yv in enumerate(self.y_values):
            for j, xv in enumerate(self.x_values):
                ep, afd = float(self.best_ep[i, j]), float(self.best_afd[i, j])
                status = {(True, True): "both", (True, False): "ep_only", (False, True): "afd_only"}.get(
                    (ep > 0, afd > 0), "neither"
                )
                rows.append(
                    {
                        self.x.name: float(xv),
                        self.y.name: float(yv),
                        "ep_tokens_per_s_per_gpu": ep,
                        "afd_tokens_per_s_per_gpu": afd,
                        "ratio": afd / ep if status == "both" else None,
                        "status": status,
                    }
                )
        return rows


# The compact per-cell search (documented in docs/deployments.md): few structural choices, every batch.
_EP_GPU_COUNTS = (16, 32, 64, 128, 256)
_AFD_FFN_NODES = (1, 2, 4, 8, 16)
_BATCHES = np.unique(np.round(np.geomspace(1, 1024, 40)))


def _best(tokens_per_gpu, ok, reduce_axes) -> np.ndarray:
    return np.where(ok, tokens_per_gpu, 0.0).max(axis=reduce_axes)


def _cell_best(
    model: MoEModel,
    hw: Hardware,
    scenario: Scenario,
    calibration: Calibration,
    skew: RoutingSkew | str | None,
    max_gpus: int,
    slo_s,
    context,
) -> tuple[np.ndarray, np.ndarray]:
    """Best EP and AFD tokens/s per GPU; hardware fields, `slo_s` and `context` may carry a leading
    array axis of length n (shape (n, 1, 1)); returns arrays of shape (n,)."""
    unit = hw.gpus_per_node
    ep_best = afd_best = 0.0
    b_ep = _BATCHES[None, :, None]
    for gpus in (g for g in _EP_GPU_COUNTS if g <= max_gpus and g % unit == 0):
        dep = EpDeployment(hardware=hw, gpus=gpus)
        ev = evaluate_ep(model, dep, scenario, b_ep, calibration, skew, context_tokens=context)
        ok = ev.meets(slo_s)
        ep_best = np.maximum(ep_best, _best(ev.tokens_per_s_per_gpu, ok, (1, 2)))
    m = 3
    b_afd = np.unique(np.maximum(m, np.round(_BATCHES / m) * m))[None, :, None]
    for nodes in _AFD_FFN_NODES:
        ffn = nodes * unit
        if ffn + unit > max_gpus:
            break
        attn = np.arange(unit, max_gpus - ffn + 1, unit, dtype=float)[None, None, :]
        dep = AfdDeployment(
            attention_hardware=hw,
            ffn_hardware=hw,
            attention_gpus=unit,
            ffn_gpus=ffn,
            micro_batches=m,
            whole_nodes=False,
        )
        ev = evaluate_afd(model, dep, scenario, b_afd, calibration, skew, context, attention_gpus=attn)
        ok = ev.meets(slo_s)
        afd_best = np.maximum(afd_best, _best(ev.tokens_per_s_per_gpu, ok, (1, 2)))
    return np.atleast_1d(ep_best), np.atleast_1d(afd_best)


def afd_ep_map(
    model: MoEModel,
    hw: Hardware,
    scenario: Scenario,
    tpot_slo_s: float,
    x: Axis,
    y: Axis,
    x_values: np.ndarray,
    y_values: np.ndarray,
    calibration: Calibration = DEFAULT_CALIBRATION,
    max_gpus: int = 256,
    progress: Callable[[int, int], None] | None = None,
    skew: RoutingSkew | str | None = None,
) -> MapResult:
    """The AFD/EP ratio over x × y (values in user units) under `calibration` and `skew` (None: the
    calibration's default). The inner axis is vectorised when it can be."""
    if x.name == y.name:
        raise AfdscopeError(f"--x and --y are both '{x.name}'; choose two different axes")
    # Loop over the outer axis; vectorise the inner one when its kind allows.
    swap = x.vectorised and not y.vectorised
    outer, inner = (y, x) if swap else (x, y)
    outer_values, inner_values = (y_values, x_values) if swap else (x_values, y_values)
    ep = np.zeros((len(outer_values), len(inner_values)))
    afd = np.zeros_like(ep)
    for i, ov in enumerate(outer_values):
        m_i, h_i, s_i, slo_i, ctx_i = _apply(outer, ov, model, hw, scenario, tpot_slo_s, None)
        if inner.vectorised:
            col = np.asarray(inner_values, dtype=float).reshape(-1, 1, 1)
            args = _apply(inner, col, m_i, h_i, s_i, slo_i, ctx_i)
            if args[0] is not None:
                ep[i], afd[i] = _cell_best(*args[:3], calibration, skew, max_gpus, args[3], args[4])
        else:
            for j, iv in enumerate(inner_values):
                args = _apply(inner, iv, m_i, h_i, s_i, slo_i, ctx_i)
                if args[0] is not None:
                    e, a = _cell_best(*args[:3], calibration, skew, max_gpus, args[3], args[4])
                    ep[i, j], afd[i, j] = e[0], a[0]
        if progress:
            progress(i + 1, len(outer_values))
    if not swap:  # rows are y
        ep, afd = ep.T, afd.T
    return MapResult(
        x,
        y,
        np.asarray(x_values),
        np.asarray(y_values),
        ep,
        afd,
        {
            "model": model.name,
            "hardware": hw.name,
            "context_tokens": scenario.context_tokens,
            "tpot_slo_ms": tpot_slo_s * 1e3,
            "max_gpus": max_gpus,
        },
    )


def parse_range(name: str, text: str | None, default: tuple[float, float]) -> tuple[float, float]:
    """LOW:HIGH with 0 < LOW < HIGH (finite), or the axis' `default` range when `text` is None; `name`
    (the option that gave it) words the error."""
    if text is None:
        return default
    lo, sep, hi = text.partition(":")
    try:
        low, high = float(lo), float(hi)
    except ValueError:
        low = high = float("nan")
    if not sep or not (0 < low < high) or not (math.isfinite(low) and math.isfinite(high)):
        raise AfdscopeError(f"{name} '{text}': write LOW:HIGH with 0 < LOW < HIGH, e.g. {name} 25:400")
    return low, high


def _apply(ax: Axis, value, model, hw, scenario, slo_s, context):
    """(model, hardware, scenario, slo, context) with one axis set; model None when the cell is invalid."""
    si = np.asarray(value, dtype=float) * ax.scale
    if ax.kind == "slo":
        return model, hw, scenario, si, context
    if ax.kind == "context":
        return model, hw, scenario, slo_s, si
    if ax.kind in ("hardware", "domain"):
        v = int(si) if ax.integer else si
        if ax.field == "fp8_flops":  # keep the BF16 peak at half the FP8 peak, as on every listed GPU
            return (
                model,
                hw.model_copy(update={"fp8_flops": v, "bf16_flops": v / 2}),
                scenario,
                slo_s,
                context,
            )
        return model, hw.model_copy(update={ax.field: v}), scenario, slo_s, context
    v = int(si)
    if (
        ax.field == "top_k"
        and v > model.n_routed_experts
        or ax.field == "n_routed_experts"
        and v < model.top_k
    ):
        return None, hw, scenario, slo_s, context
    return model.model_copy(update={ax.field: v}), hw, scenario, slo_s, context


def paper_gpu_points(x: Axis, y: Axis, model: MoEModel, scenario: Scenario, tpot_slo_s: float) -> list[tuple]:
    """Where the paper's eight GPUs (datasheet peaks) fall on the map: (name, x, y) in user units."""
    from afdscope.catalog.hardware_catalog import PAPER_HARDWARE, load_hardware

    def value(ax: Axis, hw: Hardware) -> float:
        if ax.kind in ("hardware", "domain"):
            return float(getattr(hw, ax.field)) / ax.scale
        if ax.kind == "model":
            return float(getattr(model, ax.field))
        if ax.kind == "context":
            return float(scenario.context_tokens)
        return tpot_slo_s / ax.scale

    return [(n, value(x, h), value(y, h)) for n in PAPER_HARDWARE for h in [load_hardware(n)]]
