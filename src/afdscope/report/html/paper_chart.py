"""The paper's view as a chart: FFN-side HFU and normalised arithmetic intensity against the FFN node
count, regimes shaded, the dead zone and the HFU ceiling marked (values from `paper.study.curve_study`)."""

from __future__ import annotations

import math

import numpy as np

from afdscope.paper.ffn_rank import REGIMES
from afdscope.report.html.style import REGIME_COLOURS, esc


def paper_figure(view):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if view.study is None:  # keep the chart (and the page's chart count); say why it is empty
        fig.add_annotation(text=esc(view.note), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
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
        fig.add_vrect(x0=lo, x1=hi, fillcolor=REGIME_COLOURS[name], line_width=0, layer="below")
        if name not in seen:  # a legend entry per regime
            seen.add(name)
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    marker={"symbol": "square", "size": 12, "color": REGIME_COLOURS[name]},
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
            # Point the text inwards so that it stays inside the plot, whichever end the dead zone is at.
            ax=-80 if start > len(n_f) / 2 else 80,
            ay=-50,
            xanchor="right" if start > len(n_f) / 2 else "left",
            bgcolor="rgba(255,255,255,0.85)",
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
    # Round ticks: 1, 2, 4, … (every other doubling when there are more than 10).
    doublings = [2**k for k in range(int(math.log2(max(1.0, float(n_f.max())))) + 1) if 2**k >= n_f.min() / 2]
    doublings = doublings[:: 1 if len(doublings) <= 10 else 2]
    fig.update_xaxes(
        type="log", title_text="FFN nodes N_F", tickvals=doublings, ticktext=[f"{v:,}" for v in doublings]
    )
    fig.update_yaxes(title_text="FFN-side HFU (%)", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="normalised intensity", rangemode="tozero", secondary_y=True)
    fig.update_layout(height=460, hovermode="closest")
    return fig
