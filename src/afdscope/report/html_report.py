"""The report as one self-contained HTML page: results in, an HTML string out (no I/O, no computing).

Every number on the page comes from `ReportData` (built by `report.deployment_report`); this module only
formats it and draws the interactive charts with plotly, whose JavaScript is embedded once, inline, so
the page opens offline. `CHARTS` names the charts in page order.
"""

from __future__ import annotations

import html
import math

import numpy as np

from afdscope.deploy.result import DeploymentResult
from afdscope.paper.ffn_rank import REGIMES
from afdscope.report.budget import CATEGORIES
from afdscope.report.search_rows import config_label
from afdscope.search import SearchResult, limit_sentence

CHARTS = ("pareto", "budget", "sensitivity", "paper", "map")

_AFD, _EP = "#c0392b", "#1f4e79"
_CATEGORY_NAMES = {
    "compute": "compute",
    "exposed_communication": "exposed communication",
    "bubbles": "bubbles / fill",
    "idle": "idle (waiting on the other side)",
    "overhead": "fixed per-step overhead",
}
_CATEGORY_COLOURS = {
    "compute": "#2e86c1",
    "exposed_communication": "#e67e22",
    "bubbles": "#8e44ad",
    "idle": "#bdc3c7",
    "overhead": "#7f8c8d",
}
_REGIME_COLOURS = {
    "scale_up_bound": "#d6eaf8",
    "stable_intensity": "#d5f5e3",
    "scale_out_bound": "#fdebd0",
    "max_intensity": "#fadbd8",
}
_ROLE_NAMES = {"ep": "EP GPU", "attention": "attention GPU", "ffn": "FFN GPU"}
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #222;
       background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
.verdict { font-size: 1.15em; background: #fff; border-left: 6px solid #555; padding: 14px 18px;
           box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.verdict.afd { border-color: #c0392b; } .verdict.ep { border-color: #1f4e79; }
table { border-collapse: collapse; background: #fff; margin: 8px 0 12px; font-size: 0.92em; }
th, td { border: 1px solid #e1e1e1; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.side td:first-child { font-weight: 600; background: #f8f8f8; }
.note { color: #555; font-size: 0.9em; }
.chart { background: #fff; margin: 8px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
code { background: #f0f0f0; padding: 1px 4px; border-radius: 3px; font-size: 0.92em; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def fmt(x, digits: int = 3) -> str:
    """A number as people read it: thousands separated, `digits` significant digits below 1000."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    x = float(x)
    if not math.isfinite(x):
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


def verdict_sentence(s: SearchResult) -> str:
    """The verdict in one sentence, with the AFD/EP ratio of tokens/s per GPU."""
    v, under = s.verdict, s.constraint.describe()
    afd, ep = s.afd.best, s.ep.best
    if afd is not None and ep is not None:
        winner, lname, loser = ("AFD", "EP", ep) if v.winner == "afd" else ("EP", "AFD", afd)
        return (
            f"{winner} wins: AFD/EP = {v.ratio:.2f} — the best AFD deployment delivers "
            f"{fmt(afd.tokens_per_s_per_gpu)} tokens/s per GPU against EP's {fmt(ep.tokens_per_s_per_gpu)} "
            f"under {under}; {lname} is limited by {limit_sentence(loser)}."
        )
    if v.winner is None:
        return f"Neither mode is feasible under {under}: {s.ep.why_none}; {s.afd.why_none}."
    lone = "AFD" if v.winner == "afd" else "EP"
    other = s.ep if v.winner == "afd" else s.afd
    best = afd if v.winner == "afd" else ep
    return (
        f"{lone} wins by default (no AFD/EP ratio): {other.why_none}, while {lone} reaches "
        f"{fmt(best.tokens_per_s_per_gpu)} tokens/s per GPU."
    )


def _gpus(r: DeploymentResult) -> str:
    c = r.config
    if r.mode == "ep":
        return f"{c['gpus']} × {c['hardware']}"
    return (
        f"{c['attention_gpus']} × {c['attention_hardware']} attention + {c['ffn_gpus']} × "
        f"{c['ffn_hardware']} FFN = {r.total_gpus}"
    )


def _pipeline(r: DeploymentResult) -> str:
    c = r.config
    if r.mode == "ep":
        return f"{c['overlap'].upper()}, attention TP {c['attention_tp']}"
    return (
        f"m = {c['micro_batches']} micro-batches, attention TP {c['attention_tp']}, expert TP "
        f"{c['expert_tp']}, A↔F over {c['fabric']}"
    )


def _cost(r: DeploymentResult) -> str:
    if r.usd_per_million_output_tokens is None:
        return "— (no price)"
    out = f"${r.usd_per_million_output_tokens:.4f}"
    if len(r.usd_per_million_by_role) > 1:
        out += " (" + ", ".join(f"{k} ${v:.4f}" for k, v in r.usd_per_million_by_role.items()) + ")"
    return out


def _headroom(roles: dict | None) -> str:
    if not roles:
        return "—"
    parts = []
    for role, h in roles.items():
        parts.append(
            f"<b>{_e(_ROLE_NAMES.get(role, role))}</b>: {fmt(h['headroom_gb'])} GB of "
            f"{fmt(h['usable_gb'])} GB usable (weights {fmt(h['weights_gb'])}, KV {fmt(h['kv_gb'])}, "
            f"buffers {fmt(h['buffers_gb'])})"
        )
    return "<br>".join(parts)


def _side_by_side(data) -> str:
    s = data.search
    cols = [("AFD", s.afd), ("EP", s.ep)]
    rows = [
        ("configuration", lambda r: _e(config_label(r))),
        ("GPUs", lambda r: _e(_gpus(r))),
        ("pipeline", lambda r: _e(_pipeline(r))),
        ("batch per (attention) GPU", lambda r: fmt(r.batch_per_gpu)),
        ("tokens/s per GPU", lambda r: fmt(r.tokens_per_s_per_gpu)),
        ("tokens/s per user", lambda r: fmt(r.tokens_per_s_per_user)),
        ("TPOT", lambda r: f"{fmt(r.tpot_ms)} ms"),
        ("$ per 1M output tokens", lambda r: _e(_cost(r))),
        ("bottleneck", lambda r: _e(r.bottleneck)),
        ("FFN-side HFU", lambda r: f"{r.hfu_ffn:.1%}"),
        ("memory headroom per GPU", lambda r: _headroom(data.headroom.get(r.mode))),
    ]
    head = "<tr><th></th>" + "".join(f"<th>best {name}</th>" for name, _ in cols) + "</tr>"
    body = []
    for label, cell in rows:
        tds = "".join(
            f"<td>{cell(m.best)}</td>" if m.best is not None else f"<td>{_e(m.why_none)}</td>"
            for _, m in cols
        )
        body.append(f"<tr><td>{_e(label)}</td>{tds}</tr>")
    stats = "".join(
        f"<td>{fmt(m.evaluated)} evaluated, {fmt(m.feasible)} feasible, {len(m.pareto)} on the front</td>"
        for _, m in cols
    )
    body.append(f"<tr><td>searched</td>{stats}</tr>")
    return f'<table class="side">{head}{"".join(body)}</table>'


# --------------------------------------------------------------------------------------------- charts


def _pareto_figure(s: SearchResult):
    import plotly.graph_objects as go

    fig = go.Figure()
    for mode, colour in ((s.afd, _AFD), (s.ep, _EP)):
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
        f"<b>{_e(config_label(r))}</b><br>{fmt(r.tokens_per_s_per_gpu)} tokens/s per GPU, "
        f"{fmt(r.tokens_per_s_per_user)} per user<br>TPOT {fmt(r.tpot_ms)} ms, {r.total_gpus} GPUs, "
        f"bottleneck {_e(r.bottleneck)}{cost}"
    )


def _budget_figure(data):
    import plotly.graph_objects as go

    rows, values = [], {c: [] for c in CATEGORIES}
    for mode in ("afd", "ep"):
        b = data.budgets.get(mode)
        if b is None:
            continue
        for role, parts in b.per_step.items():
            rows.append(f"{mode.upper()} · {_ROLE_NAMES[role]}")
            for c in CATEGORIES:
                values[c].append(parts[c] * 1e3)
    fig = go.Figure()
    for c in CATEGORIES:
        fig.add_trace(
            go.Bar(
                y=rows,
                x=values[c],
                orientation="h",
                name=_CATEGORY_NAMES[c],
                marker_color=_CATEGORY_COLOURS[c],
                hovertemplate="%{y}: %{x:.2f} ms " + _e(_CATEGORY_NAMES[c]) + "<extra></extra>",
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


def _sensitivity_figure(data):
    import plotly.graph_objects as go

    sens = data.sensitivity
    fig = go.Figure()
    colours = {"afd": _AFD, "ep": _EP}
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
                    f"{_e(label)}<br>σ = {d.sigma:.3f} (expert max/mean {d.expert_load_factor:.2f}, "
                    f"bytes {d.comm_load_factor:.2f})<br>{d.tokens:,} tokens per layer<br>"
                    "%{y:,.0f} tokens/s per GPU<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        xaxis_title="σ = mean / max expert-GPU load (1 = balanced)",
        yaxis_title="tokens/s per GPU under the SLO",
        height=440,
        yaxis={"rangemode": "tozero"},
    )
    return fig


def _paper_figure(view):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if view.study is None:  # keep the chart (and the page's chart count); say why it is empty
        fig.add_annotation(text=_e(view.note), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(height=200)
        return fig
    c, bounds = view.study.curve, view.study.boundaries
    n_f = np.asarray(c.n_ffn_nodes, dtype=float)
    regime = np.asarray(c.regime)
    edges = np.flatnonzero(np.diff(regime)) + 1
    seen = set()
    for start, stop in zip(np.r_[0, edges], np.r_[edges, len(n_f)], strict=True):
        name = REGIMES[int(regime[start])]
        lo, hi = n_f[start] / 2**0.5, n_f[stop - 1] * 2**0.5
        fig.add_vrect(x0=lo, x1=hi, fillcolor=_REGIME_COLOURS[name], line_width=0, layer="below")
        if name not in seen:  # a legend entry per regime
            seen.add(name)
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    marker={"symbol": "square", "size": 12, "color": _REGIME_COLOURS[name]},
                    name=name.replace("_", " "),
                )
            )
    hover = [
        f"N_F = {int(n)}: HFU {h:.1%}, {g:g} experts/GPU, {t:,.0f} tokens/rank, {REGIMES[int(r)]}"
        for n, h, g, t, r in zip(n_f, c.hfu, c.experts_per_gpu, c.tokens_per_rank, regime, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=n_f,
            y=np.asarray(c.hfu) * 100,
            mode="lines+markers",
            name="FFN-side HFU (%)",
            line={"color": "#1f4e79"},
            marker={"size": 4},
            text=hover,
            hovertemplate="%{text}<extra></extra>",
        ),
        secondary_y=False,
    )
    bad = ~np.asarray(c.feasible)
    if bad.any():
        fig.add_trace(
            go.Scatter(
                x=n_f[bad],
                y=np.asarray(c.hfu)[bad] * 100,
                mode="markers",
                marker={"symbol": "x", "color": "#c0392b", "size": 8},
                name="fails a memory check",
            ),
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=n_f,
            y=np.asarray(c.intensity) / float(c.intensity[0]),
            mode="lines",
            line={"dash": "dash", "color": "#7d3c98"},
            name="intensity I / I(N_F = 1)",
            hovertemplate="N_F = %{x}: I / I(1) = %{y:.3f}<extra></extra>",
        ),
        secondary_y=True,
    )
    start = int(np.searchsorted(n_f, bounds.dead_zone_start))
    if start < len(n_f) and not np.all(regime == 0):
        floor = float(c.hfu[start])
        fig.add_annotation(
            x=math.log10(n_f[start]),
            y=floor * 100,
            text=f"dead zone from N_F = K = {bounds.dead_zone_start:g}: HFU ≈ {floor:.1%}",
            showarrow=True,
            arrowhead=2,
            ax=60,
            ay=-50,
        )
    if view.ceiling.n_ffn_nodes is not None:
        fig.add_trace(
            go.Scatter(
                x=[view.ceiling.n_ffn_nodes],
                y=[view.ceiling.hfu_ceiling * 100],
                mode="markers",
                marker={
                    "symbol": "star",
                    "size": 14,
                    "color": "#f1c40f",
                    "line": {"color": "#000", "width": 1},
                },
                name=f"ceiling {view.ceiling.hfu_ceiling:.1%} at N_F = {view.ceiling.n_ffn_nodes}",
            ),
            secondary_y=False,
        )
    fig.update_xaxes(type="log", title_text="FFN nodes N_F", dtick=math.log10(2))
    fig.update_yaxes(title_text="FFN-side HFU (%)", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="normalised intensity", rangemode="tozero", secondary_y=True)
    fig.update_layout(height=460, hovermode="closest")
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


def _map_figure(view):
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
            colorbar={"title": {"text": "log₂ AFD/EP"}},
            customdata=custom,
            text=status,
            hovertemplate=(
                f"{_e(r.x.name)} %{{x:.4g}}<br>{_e(r.y.name)} %{{y:.4g}}<br>AFD %{{customdata[0]:,.0f}} / "
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
            mode="markers+text",
            marker={"symbol": "x", "size": 14, "color": "#000", "line": {"width": 2}},
            text=["this deployment"],
            textposition="top right",
            name="this deployment",
            hovertemplate=f"{_e(view.hardware)}: {xl} {mx:g}, {yl} {my:g}<extra></extra>",
        )
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
            ticks["ticktext"] = [f"{v:g}" for v in ticks["tickvals"]]
        update(type="log" if ax.log else "linear", title_text=title, **ticks)
    fig.update_layout(height=520, plot_bgcolor="#dddddd", showlegend=False)
    return fig


# --------------------------------------------------------------------------------------------- tables


def _budget_tables(data) -> str:
    if not data.budgets:
        return '<p class="note">No feasible configuration: nothing to split.</p>'
    head = (
        "<tr><th>per MoE layer (µs)</th><th>attention t_a</th><th>FFN t_f</th><th>dispatch</th>"
        "<th>combine</th><th>link / micro-batch</th><th>stage</th><th>round trip</th><th>layer</th></tr>"
    )
    rows, steps = [], []
    for mode in ("afd", "ep"):
        b = data.budgets.get(mode)
        if b is None:
            continue
        t = b.layers
        cells = (
            t.attention_s,
            t.ffn_s,
            t.dispatch_s,
            t.combine_s,
            t.link_s,
            t.stage_s,
            t.round_trip_s,
            t.layer_s,
        )
        label = f"{mode.upper()} (m = {t.micro_batches})"
        rows.append(
            f"<tr><td>{label}</td>" + "".join(f'<td class="num">{fmt(v * 1e6)}</td>' for v in cells) + "</tr>"
        )
        for role, parts in b.per_step.items():
            total = sum(parts.values())
            steps.append(
                f"<tr><td>{mode.upper()} · {_e(_ROLE_NAMES[role])}</td>"
                + "".join(f'<td class="num">{fmt(parts[c] * 1e3)}</td>' for c in CATEGORIES)
                + f'<td class="num">{fmt(total * 1e3)}</td><td class="num">{fmt(b.tpot_s * 1e3)}</td>'
                + f'<td class="num">{fmt(b.slack_s * 1e3)}</td></tr>'
            )
    step_head = (
        "<tr><th>per step (ms)</th>"
        + "".join(f"<th>{_e(_CATEGORY_NAMES[c])}</th>" for c in CATEGORIES)
        + "<th>step</th><th>TPOT</th><th>left under the SLO</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table><table>{step_head}{''.join(steps)}</table>"


def _derived_table(data) -> str:
    sens = data.sensitivity
    if not sens.derived:
        return ""
    head = (
        "<tr><th>configuration</th><th>EPLB</th><th>tokens per MoE layer</th><th>σ (1 / expert max/mean)</th>"
        "<th>bytes max/mean</th><th>tokens/s per GPU</th><th>vs balanced</th></tr>"
    )
    rows = []
    for d in sens.derived:
        balanced = sens.tokens_per_s_per_gpu[d.mode][-1]
        share = d.tokens_per_s_per_gpu / balanced if balanced > 0 else float("nan")
        eplb = f"+{d.redundant} slots" if d.eplb else "none"
        rows.append(
            f"<tr><td>best {d.mode.upper()}</td><td>{eplb}</td><td class='num'>{fmt(d.tokens)}</td>"
            f"<td class='num'>{d.sigma:.3f}</td><td class='num'>{fmt(d.comm_load_factor)}</td>"
            f"<td class='num'>{fmt(d.tokens_per_s_per_gpu)}</td><td class='num'>{share:.0%}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _paper_text(paper) -> str:
    if paper.study is None:
        return ""
    ceiling, bounds = paper.ceiling, paper.study.boundaries
    ceiling_text = (
        "no N_F passes the memory checks"
        if ceiling.n_ffn_nodes is None
        else f"HFU ceiling {ceiling.hfu_ceiling:.1%} at N_F = {ceiling.n_ffn_nodes} FFN nodes "
        f"(limited by {ceiling.limited_by})"
    )
    return (
        f'<p class="note">{_e(paper.study.title)}, paper preset: FFN-side HFU and arithmetic intensity '
        f"against the FFN node count N_F; regimes shaded. {_e(ceiling_text)}; dead zone from N_F = K = "
        f"{bounds.dead_zone_start:g}, where HFU falls to the scale-out floor {bounds.floor_hfu:.1%} "
        f"(scale-up ceiling {bounds.ceiling_hfu:.1%}).</p>"
    )


def _kv_table(items) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items) + "</table>"


# --------------------------------------------------------------------------------------------- page


def _figure_html(fig, first: bool, div_id: str) -> str:
    import plotly.io as pio

    fig.update_layout(margin={"l": 60, "r": 30, "t": 30, "b": 50}, template="plotly_white")
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=bool(first),  # plotly.js inline, once
        include_mathjax=False,
        config=_PLOTLY_CONFIG,
        div_id=div_id,
        default_width="100%",
    )


def render_report(data) -> str:
    """The whole page for a `deployment_report.ReportData`."""
    s = data.search
    figures = {
        "pareto": _pareto_figure(s),
        "budget": _budget_figure(data),
        "sensitivity": _sensitivity_figure(data),
        "paper": _paper_figure(data.paper),
        "map": _map_figure(data.map),
    }
    charts = {
        name: f'<div class="chart">{_figure_html(figures[name], i == 0, f"chart-{name}")}</div>'
        for i, name in enumerate(CHARTS)
    }
    model = s.inputs.get("model", "")
    devices = ", ".join(dict.fromkeys(s.inputs.get("hardware", []) + s.inputs.get("ffn_hardware", [])))
    winner = s.verdict.winner or "none"
    paper = data.paper
    map_view = data.map
    inputs = [(k, v if not isinstance(v, list) else ", ".join(map(str, v))) for k, v in data.inputs.items()]
    sections = [
        f"<h1>afdscope report: {_e(model)} on {_e(devices)}</h1>",
        f'<p class="sub">context {fmt(s.inputs.get("context_tokens"))} tokens, '
        f"{_e(s.constraint.describe())}, "
        f"≤ {fmt(s.inputs.get('max_gpus'))} GPUs · afdscope {_e(data.version)} · {_e(data.generated_at)}</p>",
        f'<p class="verdict {_e(winner)}" id="verdict">{_e(verdict_sentence(s))}</p>',
        "<h2>Best configurations</h2>",
        _side_by_side(data),
        '<p class="note">Memory headroom = usable HBM (capacity × usable fraction) − weights − buffers − the '
        "KV cache of the batch, per GPU of each role (<code>report.budget.memory_headroom</code>).</p>",
        "<h2>Pareto fronts</h2>",
        '<p class="note">Every configuration no other beats on both axes; hover for the configuration. '
        "Stars: the best of each mode under the constraint (dashed line).</p>",
        charts["pareto"],
        "<h2>Where the TPOT budget goes</h2>",
        '<p class="note">One decode step of each best configuration, per GPU role: compute, communication '
        "not hidden behind compute, pipeline bubbles and fill, idle time waiting on the other side, and the "
        "fixed per-step overhead; each bar adds up to the step (<code>report.budget.step_budget</code>).</p>",
        charts["budget"],
        _budget_tables(data),
        "<h2>Imbalance sensitivity</h2>",
        '<p class="note">Each best configuration re-evaluated with expert and communication load factors '
        "1/σ (the busiest expert GPU over the mean), its batch re-chosen under the SLO. Marks: σ derived by "
        f"routing its tokens under a power-law expert popularity (α = {data.sensitivity.alpha}) with the "
        f"model's group limits ({data.sensitivity.draws} draws), without and with EPLB.</p>",
        charts["sensitivity"],
        _derived_table(data),
        "<h2>The paper's view</h2>",
        _paper_text(paper),
        f'<p class="note"><b>{_e(paper.note)}.</b></p>' if paper.note else "",
        charts["paper"],
        "<h2>Where AFD pays</h2>",
        f'<p class="note">Best AFD / best EP tokens/s per GPU for {_e(map_view.hardware)} with two values '
        "changed (compact per-cell search, <code>afd_map.afd_ep_map</code>); red: AFD wins, blue: EP wins, "
        "grey: neither is feasible. The cross marks this deployment.</p>",
        charts["map"],
        "<h2>Inputs and settings</h2>",
        f"<p>Reproduce: <code>{_e(data.command)}</code></p>",
        _kv_table(inputs),
        _kv_table(list(data.settings.items())),
        _kv_table(
            [
                ("afdscope version", data.version),
                ("generated", data.generated_at),
                ("configurations evaluated", f"{s.evaluated:,} in {s.seconds:.2f} s"),
                ("report computed in", f"{data.seconds:.2f} s"),
            ]
        ),
        f"<footer>afdscope {_e(data.version)} · self-contained page: plotly.js is embedded, "
        "nothing is fetched when it is opened.</footer>",
    ]
    title = f"afdscope report: {model}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(sections)
        + "\n</main></body></html>\n"
    )
