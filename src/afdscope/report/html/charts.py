"""The report's interactive charts (plotly figures) and their embedding as HTML. Every value plotted comes
from `ReportData`; the arithmetic here only converts units, and scales the map's colours (log₂ AFD/EP)."""

from __future__ import annotations

import numpy as np

from afdscope.deploy.budget import CATEGORIES
from afdscope.deploy.result import DeploymentResult
from afdscope.report.figures import ratio_ticks, tick_label
from afdscope.report.html.style import (
    AFD_COLOUR,
    CATEGORY_COLOURS,
    CATEGORY_NAMES,
    EP_COLOUR,
    PLOTLY_CONFIG,
    ROLE_NAMES,
    esc,
    fmt,
)
from afdscope.report.search_rows import config_label
from afdscope.search import SearchResult


def pareto_figure(s: SearchResult):
    import plotly.graph_objects as go

    fig = go.Figure()
    for mode, colour in ((s.afd, AFD_COLOUR), (s.ep, EP_COLOUR)):
        if not mode.pareto:
            continue
        pts = mode.pareto
        fig.add_trace(
            go.Scatter(
                x=[p.tokens_per_s_per_user for p in pts],
                y=[p.tokens_per_s_per_gpu for p in pts],
                mode="lines+markers",
                line={"shape": "hv", "color": colour},
                marker={"size": 5},
                name=f"{mode.mode.upper()} Pareto front",
                text=[_hover(p) for p in pts],
                hovertemplate="%{text}<extra></extra>",
            )
        )
        b = mode.best
        fig.add_trace(
            go.Scatter(
                x=[b.tokens_per_s_per_user],
                y=[b.tokens_per_s_per_gpu],
                mode="markers",
                marker={"symbol": "star", "size": 16, "color": colour, "line": {"color": "#000", "width": 1}},
                name=f"best {mode.mode.upper()}",
                text=[_hover(b)],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.add_vline(
        x=1.0 / s.constraint.tpot_limit_s,
        line={"dash": "dash", "color": "grey"},
        annotation_text=s.constraint.describe(),
        annotation_position="top right",
    )
    fig.update_layout(
        xaxis_title="tokens/s per user", yaxis_title="tokens/s per GPU", hovermode="closest", height=460
    )
    return fig


def _hover(r: DeploymentResult) -> str:
    cost = "" if r.usd_per_million_output_tokens is None else f"<br>${r.usd_per_million_output_tokens:.4f}/1M"
    return (
        f"<b>{esc(config_label(r))}</b><br>{fmt(r.tokens_per_s_per_gpu)} tokens/s per GPU, "
        f"{fmt(r.tokens_per_s_per_user)} per user<br>TPOT {fmt(r.tpot_ms)} ms, {r.total_gpus} GPUs, "
        f"bottleneck {esc(r.bottleneck)}{cost}"
    )


def budget_figure(data):
    import plotly.graph_objects as go

    rows, values = [], {c: [] for c in CATEGORIES}
    for mode in ("afd", "ep"):
        b = data.budgets.get(mode)
        if b is None:
            continue
        for role, parts in b.per_step.items():
            rows.append(f"{mode.upper()} · {ROLE_NAMES[role]}")
            for c in CATEGORIES:
                values[c].append(parts[c] * 1e3)
    fig = go.Figure()
    for c in CATEGORIES:
        fig.add_trace(
            go.Bar(
                y=rows,
                x=values[c],
                orientation="h",
                name=CATEGORY_NAMES[c],
                marker_color=CATEGORY_COLOURS[c],
                hovertemplate="%{y}: %{x:.2f} ms " + esc(CATEGORY_NAMES[c]) + "<extra></extra>",
            )
        )
    budget = next(iter(data.budgets.values()), None)
    if budget is not None:
        fig.add_vline(
            x=budget.budget_s * 1e3,
            line={"dash": "dash", "color": "#000"},
            annotation_text=f"SLO budget {budget.budget_s * 1e3:g} ms per step",
        )
    fig.update_layout(
        barmode="stack",
        xaxis_title="ms per decode step",
        yaxis={"autorange": "reversed"},
        height=180 + 60 * max(1, len(rows)),
        legend={"orientation": "h", "y": -0.35, "traceorder": "normal"},
    )
    return fig


def sensitivity_figure(data):
    import plotly.graph_objects as go

    sens = data.sensitivity
    fig = go.Figure()
    colours = {"afd": AFD_COLOUR, "ep": EP_COLOUR}
    for mode, y in sens.tokens_per_s_per_gpu.items():
        fig.add_trace(
            go.Scatter(
                x=sens.sigmas,
                y=y,
                mode="lines+markers",
                name=f"best {mode.upper()}, load factors 1/σ",
                line={"color": colours[mode]},
                hovertemplate="σ = %{x:.3f}: %{y:,.0f} tokens/s per GPU<extra>" + mode.upper() + "</extra>",
            )
        )
    for d in sens.derived:
        label = f"{d.mode.upper()} derived σ, " + (f"EPLB +{d.redundant} slots" if d.eplb else "no EPLB")
        fig.add_trace(
            go.Scatter(
                x=[d.sigma],
                y=[d.tokens_per_s_per_gpu],
                mode="markers",
                name=label,
                marker={
                    "symbol": "star" if d.eplb else "diamond",
                    "size": 13,
                    "color": colours[d.mode],
                    "line": {"color": "#000", "width": 1},
                },
                hovertemplate=(
                    f"{esc(label)}<br>σ = {d.sigma:.3f} (expert max/mean {d.expert_load_factor:.2f}, "
                    f"bytes {d.comm_load_factor:.2f})<br>{d.tokens:,} tokens per layer<br>"
                    "%{y:,.0f} tokens/s per GPU<extra></extra>"
                ),
            )
        )
    from afdscope.report.notes import published_share_range

    lo, hi = published_share_range()
    for mode, y in sens.tokens_per_s_per_gpu.items():
        balanced = float(y[-1])
        if balanced > 0:  # what published deployments keep of balanced throughput
            fig.add_hrect(
                y0=lo * balanced,
                y1=hi * balanced,
                fillcolor=colours[mode],
                opacity=0.10,
                line_width=0,
                layer="below",
                annotation_text=f"{mode.upper()}: published {lo:.0%}–{hi:.0%} of balanced",
                annotation_position="bottom left",
                annotation_font_size=10,
            )
    fig.update_layout(
        xaxis_title="σ = mean / max expert-GPU load (1 = balanced)",
        yaxis_title="tokens/s per GPU under the SLO",
        height=440,
        yaxis={"rangemode": "tozero"},
    )
    return fig


def map_layers(result) -> tuple[np.ndarray, float]:
    """log₂(AFD/EP) per cell with one-mode cells pushed to the far end of their side (NaN: neither), and
    the colour span."""
    ratio = result.ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log2(np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan))
    only_afd = (result.best_afd > 0) & ~(result.best_ep > 0)
    only_ep = (result.best_ep > 0) & ~(result.best_afd > 0)
    finite = np.isfinite(log_ratio)
    span = max(0.5, float(np.abs(log_ratio[finite]).max()) if finite.any() else 0.5)
    return np.where(only_afd, span, np.where(only_ep, -span, log_ratio)), span


def map_figure(view):
    import plotly.graph_objects as go

    r = view.result
    z, span = map_layers(r)
    status = np.array([row["status"] for row in r.rows()]).reshape(len(r.y_values), len(r.x_values))
    custom = np.dstack([r.best_afd, r.best_ep, np.nan_to_num(r.ratio, nan=-1.0)])
    xl = f"{r.x.name} ({r.x.unit})" if r.x.unit else r.x.name
    yl = f"{r.y.name} ({r.y.unit})" if r.y.unit else r.y.name
    fig = go.Figure(
        go.Heatmap(
            x=r.x_values,
            y=r.y_values,
            z=z,
            zmid=0,
            zmin=-span,
            zmax=span,
            colorscale="RdBu",
            reversescale=True,
            colorbar={
                "title": {"text": "AFD/EP ×"},
                "tickvals": ratio_ticks(span)[0],
                "ticktext": ratio_ticks(span)[1],
            },
            customdata=custom,
            text=status,
            hovertemplate=(
                f"{esc(r.x.name)} %{{x:.4g}}<br>{esc(r.y.name)} %{{y:.4g}}<br>AFD %{{customdata[0]:,.0f}} / "
                "EP %{customdata[1]:,.0f} tokens/s per GPU<br>AFD/EP %{customdata[2]:.2f} (%{text})"
                "<extra></extra>"
            ),
        )
    )
    mx, my = view.marker
    fig.add_trace(
        go.Scatter(
            x=[mx],
            y=[my],
            mode="markers",
            marker={"symbol": "x", "size": 14, "color": "#000", "line": {"width": 2}},
            name="this deployment",
            hovertemplate=f"{esc(view.hardware)}: {xl} {mx:g}, {yl} {my:g}<extra></extra>",
        )
    )
    fig.add_annotation(  # on a white box: legible over any cell colour
        x=np.log10(mx) if r.x.log else mx,
        y=np.log10(my) if r.y.log else my,
        text="this deployment",
        showarrow=True,
        arrowhead=0,
        ax=40,
        ay=-28,
        bgcolor="rgba(255,255,255,0.9)",
        bordercolor="#000",
        borderwidth=1,
        font={"size": 12, "color": "#000"},
    )
    for update, ax, values, title in (
        (fig.update_xaxes, r.x, r.x_values, xl),
        (fig.update_yaxes, r.y, r.y_values, yl),
    ):
        ticks = {}
        if ax.log:  # doublings from the low end: 12.5, 25, 50, … GB/s; 256, 512, … for sizes
            lo, hi = float(np.min(values)), float(np.max(values))
            ticks = {
                "tickvals": [lo * 2**k for k in range(int(np.log2(hi / lo) + 1e-9) + 1)],
                "ticktext": None,
            }
            ticks["ticktext"] = [tick_label(v) for v in ticks["tickvals"]]
        update(type="log" if ax.log else "linear", title_text=title, **ticks)
    fig.update_layout(height=520, plot_bgcolor="#dddddd", showlegend=False)
    return fig


def figure_html(fig, first: bool, div_id: str) -> str:
    import plotly.io as pio

    fig.update_layout(margin={"l": 60, "r": 30, "t": 30, "b": 50}, template="plotly_white")
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=bool(first),  # plotly.js inline, once
        include_mathjax=False,
        config=PLOTLY_CONFIG,
        div_id=div_id,
        default_width="100%",
    )
