"""The report as one self-contained HTML page: a `ReportData` in, an HTML string out (no I/O).

Nothing here evaluates a model or a deployment: every number on the page comes from `ReportData` (built by
`report.deployment_report`); this package only formats it and draws the interactive charts with plotly,
whose JavaScript is embedded once, inline, so the page opens offline. Its arithmetic is limited to unit
conversion and display scaling (the map's log₂ colours, normalised intensity, axis ticks).
`CHARTS` names the charts in page order.
"""

from __future__ import annotations

from afdscope.report.html.charts import (
    budget_figure,
    figure_html,
    map_figure,
    pareto_figure,
    sensitivity_figure,
)
from afdscope.report.html.paper_chart import paper_figure
from afdscope.report.html.style import CSS, esc, fmt
from afdscope.report.html.tables import (
    budget_tables,
    derived_table,
    kv_table,
    notes_table,
    paper_text,
    side_by_side,
)
from afdscope.report.notes import LIMITATIONS, published_share_range
from afdscope.search import SearchResult, limit_sentence

CHARTS = ("pareto", "budget", "sensitivity", "paper", "map")


def verdict_sentence(s: SearchResult) -> str:
    """The verdict in sentences: the tokens/s-per-GPU call with the AFD/EP ratio and its expected-error
    band, then the $-per-1M call."""
    v, under = s.verdict, s.constraint.describe()
    afd, ep = s.afd.best, s.ep.best
    if afd is not None and ep is not None:
        winner, lname, loser = ("AFD", "EP", ep) if v.winner == "afd" else ("EP", "AFD", afd)
        call = (
            f"Too close to call: AFD/EP = {v.ratio:.2f}, inside the ±{v.margin:.0%} expected error"
            if v.close
            else f"{winner} wins: AFD/EP = {v.ratio:.2f} (expected error ±{v.margin:.0%})"
        )
        throughput = (
            f"{call} — the best AFD deployment delivers {fmt(afd.tokens_per_s_per_gpu)} tokens/s per GPU "
            f"against EP's {fmt(ep.tokens_per_s_per_gpu)} under {under}; {lname} is limited by "
            f"{limit_sentence(loser)}."
        )
        return f"{throughput} Cost: {v.cost_reason}."
    if v.winner is None:
        return f"Neither mode is feasible under {under}: {s.ep.why_none}; {s.afd.why_none}."
    lone = "AFD" if v.winner == "afd" else "EP"
    other = s.ep if v.winner == "afd" else s.afd
    best = afd if v.winner == "afd" else ep
    return (
        f"{lone} wins by default (no AFD/EP ratio): {other.why_none}, while {lone} reaches "
        f"{fmt(best.tokens_per_s_per_gpu)} tokens/s per GPU."
    )


def conclusions_table(claims) -> str:
    """One row per claim: the claim, its verdict, the reason."""
    if not claims:
        return ""
    rows = "".join(
        f"<tr><td>{esc(c.claim)}</td><td><b>{esc(c.verdict)}</b></td><td>{esc(c.reason)}</td></tr>"
        for c in claims
    )
    return f'<table id="conclusions"><tr><th>claim</th><th>verdict</th><th>why</th></tr>{rows}</table>'


def render_report(data) -> str:
    """The whole page for a `deployment_report.ReportData`."""
    s = data.search
    figures = {
        "pareto": pareto_figure(s),
        "budget": budget_figure(data),
        "sensitivity": sensitivity_figure(data),
        "paper": paper_figure(data.paper),
        "map": map_figure(data.map),
    }
    charts = {
        name: f'<div class="chart">{figure_html(figures[name], i == 0, f"chart-{name}")}</div>'
        for i, name in enumerate(CHARTS)
    }
    model = s.inputs.get("model", "")
    devices = ", ".join(dict.fromkeys(s.inputs.get("hardware", []) + s.inputs.get("ffn_hardware", [])))
    winner = "close" if s.verdict.close else (s.verdict.winner or "none")
    paper = data.paper
    map_view = data.map
    inputs = list(data.inputs.items())
    lo, hi = published_share_range()
    sections = [
        f"<h1>afdscope report: {esc(model)} on {esc(devices)}</h1>",
        f'<p class="sub">context {fmt(s.inputs.get("context_tokens"))} tokens, '
        f"{esc(s.constraint.describe())}, "
        f"≤ {fmt(s.inputs.get('max_gpus'))} GPUs · afdscope {esc(data.version)} · "
        f"{esc(data.generated_at)}</p>",
        f'<p class="verdict {esc(winner)}" id="verdict">{esc(verdict_sentence(s))}</p>',
        "<h2>Best configurations</h2>",
        side_by_side(data),
        '<p class="note">Memory headroom = usable HBM (capacity − the larger of the framework reserve '
        "and the named buffers) − weights − the KV cache of the batch, per GPU of each role "
        "(<code>deploy.budget.memory_headroom</code>).</p>",
        "<h2>What is counted</h2>",
        notes_table(data),
        "<h2>Pareto fronts</h2>",
        '<p class="note">Every configuration no other beats on both axes; hover for the configuration. '
        "Stars: the best of each mode under the constraint (dashed line).</p>",
        charts["pareto"],
        "<h2>Where the TPOT budget goes</h2>",
        '<p class="note">One decode step of each best configuration, per GPU role: compute, communication '
        "not hidden behind compute, pipeline bubbles and fill, idle time waiting on the other side, and the "
        "fixed per-step overhead; each bar adds up to the step (<code>deploy.budget.step_budget</code>).</p>",
        charts["budget"],
        budget_tables(data),
        "<h2>Imbalance sensitivity</h2>",
        '<p class="note">Each best configuration re-evaluated with expert and communication load factors '
        "1/σ (the busiest expert GPU over the mean), its batch re-chosen under the SLO. Marks: σ derived by "
        f"routing its tokens under a power-law expert popularity (α = {data.sensitivity.alpha}) with the "
        f"model's group limits ({data.sensitivity.draws} draws), without and with EPLB. Shaded: the "
        f"{lo:.0%}–{hi:.0%} of balanced throughput published deployments keep under real routing "
        "(5–40 % lost: SGLang's DeepSeek-V3 EP blog, xDeepServe); a derived point far below it "
        "assumes more skew than has been measured.</p>",
        charts["sensitivity"],
        derived_table(data),
        "<h2>The paper's view</h2>",
        paper_text(paper),
        f'<p class="note"><b>{esc(paper.note)}.</b></p>' if paper.note else "",
        charts["paper"],
        "<h2>Where AFD pays</h2>",
        f'<p class="note">Best AFD / best EP tokens/s per GPU for {esc(map_view.hardware)} with two values '
        "changed (compact per-cell search, <code>search.map.afd_ep_map</code>); red: AFD wins, "
        "blue: EP wins, grey: neither is feasible. The cross marks this deployment.</p>",
        charts["map"],
        "<h2>The paper's conclusions, end to end</h2>",
        '<p class="note">The three conclusions of arXiv 2602.09721 tested in tokens/s per GPU and $ per 1M '
        "on afdscope's quick grid (DeepSeek-V3 and Step-3 on H800 and GB200 at 50 ms); "
        "<code>afdscope paper conclusions</code> runs the full grid.</p>",
        conclusions_table(data.conclusions),
        "<h2>Limitations</h2>",
        '<ul class="note">' + "".join(f"<li>{esc(t)}</li>" for t in LIMITATIONS) + "</ul>",
        "<h2>Inputs and settings</h2>",
        f"<p>Reproduce: <code>{esc(data.command)}</code></p>",
        kv_table(inputs),
        kv_table(list(data.settings.items())),
        kv_table(
            [
                ("afdscope version", data.version),
                ("generated", data.generated_at),
                ("configurations evaluated", f"{s.evaluated:,} in {s.seconds:.2f} s"),
                ("report computed in", f"{data.seconds:.2f} s"),
            ]
        ),
        f"<footer>afdscope {esc(data.version)} · self-contained page: plotly.js is embedded, "
        "nothing is fetched when it is opened.</footer>",
    ]
    title = f"afdscope report: {model}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(sections)
        + "\n</main></body></html>\n"
    )
