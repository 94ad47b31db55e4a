"""Figures of the paper analyses (matplotlib, Agg backend; imported only when a figure is asked for)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from afdscope.files import atomic_write
from afdscope.paper.ceiling import Ceiling
from afdscope.paper.ffn_rank import REGIMES, RankCurve, RegimeBoundaries
from afdscope.paper.imbalance import ImbalanceGrid

_REGIME_COLOURS = {
    "scale_up_bound": "#d6eaf8",
    "stable_intensity": "#d5f5e3",
    "scale_out_bound": "#fdebd0",
    "max_intensity": "#fadbd8",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write(path, buf.getvalue())


def _doubling_ticks(axis, lo: float, hi: float) -> None:
    """Ticks 1, 2, 4, … written as numbers (not 2⁰, 2¹, …); every other doubling beyond 10 ticks."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ticks = [2.0**k for k in range(int(np.floor(np.log2(lo))), int(np.ceil(np.log2(hi))) + 1)]
    ticks = ticks[:: 1 if len(ticks) <= 10 else 2]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(lambda v, _pos: tick_label(v))
    axis.set_minor_locator(NullLocator())


def plot_curve(curve: RankCurve, bounds: RegimeBoundaries, title: str, path: str | Path) -> Path:
    """HFU and normalised intensity vs N_F, regimes shaded, dead zone named (paper Fig. 4/5)."""
    plt = _pyplot()
    n_f = curve.n_ffn_nodes
    fig, ax = plt.subplots(figsize=(8, 4.5))
    # Shade each run of equal regime.
    edges = np.flatnonzero(np.diff(curve.regime)) + 1
    drawn = []
    for start, stop in zip(np.r_[0, edges], np.r_[edges, len(n_f)], strict=True):
        name = REGIMES[int(curve.regime[start])]
        ax.axvspan(n_f[start] / 2**0.5, n_f[stop - 1] * 2**0.5, color=_REGIME_COLOURS[name], lw=0)
        drawn.append(name)
    for name in dict.fromkeys(drawn):  # the legend lists only the regimes drawn
        ax.fill_between([], [], color=_REGIME_COLOURS[name], label=name.replace("_", " "))
    ax.plot(n_f, curve.hfu * 100, "o-", color="#1f4e79", ms=3, label="HFU (%)")
    bad = ~curve.feasible
    if bad.any():
        ax.plot(n_f[bad], curve.hfu[bad] * 100, "x", color="#c0392b", label="fails a memory check")
    ax.set_xscale("log", base=2)
    _doubling_ticks(ax.xaxis, float(n_f.min()), float(n_f.max()))
    ax.set_xlabel("FFN nodes N_F")
    ax.set_ylabel("HFU (%)")
    ax.set_ylim(0, max(105, float(curve.hfu.max()) * 110))
    start = int(np.searchsorted(n_f, bounds.dead_zone_start))
    if start < len(n_f) and not np.all(curve.regime == 0):
        # Read the floor off the curve: under hypergeometric dedup it sits above the paper's 2·M·𝓑_out/F.
        floor = float(curve.hfu[start])
        ax.annotate(
            f"dead zone: HFU ≈ {floor:.1%}",
            xy=(n_f[start], floor * 100),
            xytext=(n_f[start] * 1.3, floor * 100 + 30),
            arrowprops={"arrowstyle": "->"},
        )
    ax2 = ax.twinx()
    ax2.plot(n_f, curve.intensity / curve.intensity[0], "s--", color="#7d3c98", ms=2, label="I / I(N_F=1)")
    ax2.set_ylabel("normalised intensity")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(
        lines[0] + lines2[0],
        lines[1] + lines2[1],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=4,
        frameon=False,
    )
    ax.set_xlim(0.8, float(n_f.max()) * 1.25)
    ax.set_title(title)
    return _save(fig, path)


def plot_matrix(cells: Sequence[Ceiling], path: str | Path, title: str = "AFD FFN-side HFU ceiling") -> Path:
    """Hardware × model heatmap of the HFU ceiling; memory-limited cells marked (paper Fig. 5)."""
    plt = _pyplot()
    hws = list(dict.fromkeys(c.hardware for c in cells))
    models = list(dict.fromkeys(c.model for c in cells))
    grid = np.full((len(hws), len(models)), np.nan)
    fig, ax = plt.subplots(figsize=(1.3 * len(models) + 2, 0.55 * len(hws) + 1.5))
    for c in cells:
        i, j = hws.index(c.hardware), models.index(c.model)
        grid[i, j] = c.hfu_ceiling * 100 if c.hfu_ceiling is not None else np.nan
        label = "—" if c.hfu_ceiling is None else f"{c.hfu_ceiling:.1%}"
        if c.memory_limited:
            label += "\nHBM " + ("cap" if c.memory_limited == "hbm_capacity" else "bw")
        # White on the dark half of the colour map, black elsewhere.
        dark = c.hfu_ceiling is not None and c.hfu_ceiling > 0.55
        ax.text(j, i, label, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    im = ax.imshow(grid, cmap="YlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(hws)), hws, fontsize=8)
    fig.colorbar(im, ax=ax, label="HFU ceiling (%)")
    ax.set_title(title)
    return _save(fig, path)


def plot_imbalance(grid: ImbalanceGrid, path: str | Path) -> Path:
    """α vs λ, one panel per N_F: EP continuous, AFD with whole-node scaling (paper Fig. 6)."""
    plt = _pyplot()
    n_ffn = np.unique(grid.n_ffn)
    fig, axes = plt.subplots(1, len(n_ffn), figsize=(4 * len(n_ffn), 3.6), sharey=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, nf in zip(axes[0], n_ffn, strict=True):
        for k, s in enumerate(np.unique(grid.sigma)):
            sel = (grid.n_ffn == nf) & (grid.sigma == s)
            c = colours[k % len(colours)]
            ax.plot(grid.lam[sel], grid.alpha_ep[sel], "-", color=c, label=f"EP σ={s:g}")
            ax.plot(grid.lam[sel], grid.alpha_afd[sel], "o", color=c, ms=3, label=f"AFD σ={s:g}")
        ax.set_title(f"N_F = {int(nf)} FFN nodes", fontsize=9)
        ax.set_xlabel("λ = N_A / N_F (attention nodes per FFN node)")
    axes[0][0].set_ylabel("throughput factor α (1 = balanced)")
    axes[0][-1].legend(fontsize=6)
    fig.suptitle(
        "Load imbalance: throughput factor α of EP (line) and AFD with whole-node scaling (dots), "
        "σ = mean/max expert-GPU load",
        fontsize=10,
    )
    return _save(fig, path)


def plot_pareto(result, path: str | Path) -> Path:
    """Both modes' Pareto fronts: tokens/s per GPU against tokens/s per user, bests marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode, colour in ((result.ep, "#1f4e79"), (result.afd, "#c0392b")):
        if not mode.pareto:
            continue
        x = [p.tokens_per_s_per_user for p in mode.pareto]
        y = [p.tokens_per_s_per_gpu for p in mode.pareto]
        ax.step(x, y, where="post", color=colour, label=f"{mode.mode.upper()} Pareto front")
        ax.plot(x, y, "o", color=colour, ms=3)
        b = mode.best
        ax.plot(
            [b.tokens_per_s_per_user],
            [b.tokens_per_s_per_gpu],
            "*",
            color=colour,
            ms=12,
            label=f"{mode.mode.upper()} best under {result.constraint.describe()}",
        )
    limit = 1.0 / result.constraint.tpot_limit_s
    ax.axvline(limit, color="grey", ls="--", lw=1)
    ax.set_xlabel("tokens/s per user")
    ax.set_ylabel("tokens/s per GPU")
    ax.set_title(f"{result.inputs.get('model', '')}: AFD vs EP")
    ax.legend(fontsize=7)
    return _save(fig, path)


def nice_log_ticks(lo: float, hi: float) -> list[float]:
    """Round values for a log axis from lo to hi: 1, 2, 5 × 10ⁿ (1, 10 × 10ⁿ when that gives more than 9)."""
    if not (lo > 0 and hi > lo):
        return []
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0**d for d in decades for m in mantissas]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) <= 9:
            break
    return ticks


def tick_label(v: float) -> str:
    """A tick value as written on an axis: 12.5, 200, 1,000, then 10k, 128k."""
    return f"{v / 1e3:g}k" if v >= 1e4 else f"{v:,g}"


def ratio_ticks(span: float) -> tuple[list[float], list[str]]:
    """Colour-bar ticks of a log₂ AFD/EP scale of half-width `span`: positions (log₂) and "0.5×" labels at
    round ratios (finer steps only while they leave at most 9 ticks)."""
    coarse = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    fine = (0.67, 0.8, 1.25, 1.5)
    for candidates in (sorted(coarse + fine), coarse):
        ticks = [r for r in candidates if abs(np.log2(r)) <= span + 1e-9]
        if len(ticks) <= 9:
            break
    return [float(np.log2(r)) for r in ticks], [f"{r:g}×" for r in ticks]


def _cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Edges of the cells `shading="nearest"` draws around grid values (midpoints, geometric on log)."""
    v = np.log(values) if log else np.asarray(values, dtype=float)
    if len(v) == 1:
        mid = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = (v[1:] + v[:-1]) / 2
        mid = np.r_[2 * v[0] - inner[0], inner, 2 * v[-1] - inner[-1]]
    return np.exp(mid) if log else mid


def _label_offsets(ax, points: list[tuple[float, float]], min_px: float = 11.0) -> list[tuple[float, float]]:
    """Offsets (points) for marker labels so that labels of nearby markers stack instead of overprinting."""
    disp = ax.transData.transform(np.asarray(points, dtype=float)) if points else np.zeros((0, 2))
    offsets: list[tuple[float, float]] = []
    placed: list[tuple[float, float]] = []  # display position of each placed label
    for x, y in disp:
        dy = 4.0
        while any(abs(x - px) < 60 and abs(y + dy * 1.4 - py) < min_px for px, py in placed):
            dy += min_px / 1.4
        placed.append((x, y + dy * 1.4))
        offsets.append((4.0, dy))
    return offsets


def plot_map(result, path: str | Path, gpu_points=()) -> Path:
    """Heatmap of AFD/EP on a log colour scale (red = AFD wins, colour bar in ×), the ratio = 1 contour,
    the paper's GPUs marked. Cells without a ratio are grey, as the docs say; hatching tells which mode
    alone is feasible (`//` EP only, `\\\\` AFD only; plain grey: neither)."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ratio = result.ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log2(np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan))
    only_afd = (result.best_afd > 0) & ~(result.best_ep > 0)
    only_ep = (result.best_ep > 0) & ~(result.best_afd > 0)
    log_ratio = np.where(only_ep, np.nan, log_ratio)  # ratio 0: no AFD point, drawn grey and hatched
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    span = max(0.5, float(np.nanmax(np.abs(log_ratio))) if np.isfinite(log_ratio).any() else 0.5)
    mesh = ax.pcolormesh(
        result.x_values,
        result.y_values,
        log_ratio,
        cmap="RdBu_r",
        shading="nearest",
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span),
    )
    ax.set_facecolor("#dddddd")  # cells without a ratio
    legend = []
    xe, ye = _cell_edges(result.x_values, result.x.log), _cell_edges(result.y_values, result.y.log)
    for mask, hatch, name in ((only_ep, "//", "EP only feasible"), (only_afd, "\\\\", "AFD only feasible")):
        for i, j in zip(*np.nonzero(mask), strict=True):
            cell = Rectangle((xe[j], ye[i]), xe[j + 1] - xe[j], ye[i + 1] - ye[i], fill=False, lw=0)
            cell.set_hatch(hatch)
            cell.set_edgecolor("#777777")
            ax.add_patch(cell)
        if mask.any():
            legend.append(Patch(facecolor="#dddddd", hatch=hatch, edgecolor="#555555", label=name))
    neither = ~(result.best_ep > 0) & ~(result.best_afd > 0)
    if neither.any():
        legend.append(Patch(facecolor="#dddddd", edgecolor="#555555", label="neither feasible"))
    finite = np.isfinite(log_ratio)
    if finite.any() and np.nanmin(log_ratio) < 0 < np.nanmax(log_ratio):
        cs = ax.contour(result.x_values, result.y_values, log_ratio, levels=[0.0], colors="k", linewidths=1.5)
        ax.clabel(cs, fmt={0.0: "AFD = EP"}, fontsize=7)
    for log, set_scale, axis_obj, values in (
        (result.x.log, ax.set_xscale, ax.xaxis, result.x_values),
        (result.y.log, ax.set_yscale, ax.yaxis, result.y_values),
    ):
        if log:
            set_scale("log")
            lo, hi = float(np.min(values)), float(np.max(values))
            axis_obj.set_major_locator(FixedLocator(nice_log_ticks(lo, hi)))
            axis_obj.set_major_formatter(lambda v, _pos: tick_label(v))
            axis_obj.set_minor_locator(NullLocator())
            axis_obj.set_minor_formatter(NullFormatter())
    # GPUs that share a point (same bandwidths) get one marker with all their names.
    at: dict[tuple[float, float], list[str]] = {}
    for name, px, py in gpu_points:
        at.setdefault((px, py), []).append(name)
    spots = sorted(at, key=lambda p: (p[1], p[0]))
    ax.figure.canvas.draw()  # the transforms the label placement reads
    for (px, py), offset in zip(spots, _label_offsets(ax, spots), strict=True):
        ax.plot(px, py, "k^", ms=6)
        ax.annotate(
            "/".join(at[(px, py)]),
            (px, py),
            textcoords="offset points",
            xytext=offset,
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
    ax.set_xlabel(f"{result.x.name} ({result.x.unit})" if result.x.unit else result.x.name)
    ax.set_ylabel(f"{result.y.name} ({result.y.unit})" if result.y.unit else result.y.name)
    bar = fig.colorbar(mesh, ax=ax, label="AFD / EP tokens/s per GPU (×, log scale)")
    positions, labels = ratio_ticks(span)
    bar.set_ticks(positions, labels=labels)
    if legend:
        ax.legend(
            handles=legend, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False
        )
    inputs = result.inputs
    axes_kinds = {result.x.kind, result.y.kind}
    fixed = []
    if "slo" not in axes_kinds:
        fixed.append(f"TPOT ≤ {inputs['tpot_slo_ms']:g} ms")
    if "context" not in axes_kinds:
        fixed.append(f"context {inputs['context_tokens']:,}")
    ax.set_title(
        f"Where AFD pays: {inputs['model']} on {inputs['hardware']}"
        + (f" ({', '.join(fixed)})" if fixed else ""),
        fontsize=10,
    )
    return _save(fig, path)
