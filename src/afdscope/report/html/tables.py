"""The report's tables and notes as HTML: the best configurations side by side, the step budget, the
derived σ, the paper's figures in words, key-value tables."""

from __future__ import annotations

from afdscope.deploy.budget import CATEGORIES
from afdscope.deploy.result import DeploymentResult
from afdscope.report.html.style import CATEGORY_NAMES, ROLE_NAMES, esc, fmt
from afdscope.report.search_rows import config_label


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
            f"<b>{esc(ROLE_NAMES.get(role, role))}</b>: {fmt(h['headroom_gb'])} GB of "
            f"{fmt(h['usable_gb'])} GB usable (weights {fmt(h['weights_gb'])}, KV {fmt(h['kv_gb'])}, "
            f"reserve {fmt(h['buffers_gb'])} GB outside)"
        )
    return "<br>".join(parts)


def side_by_side(data) -> str:
    s = data.search
    cols = [("AFD", s.afd), ("EP", s.ep)]
    rows = [
        ("configuration", lambda r: esc(config_label(r))),
        ("GPUs", lambda r: esc(_gpus(r))),
        ("pipeline", lambda r: esc(_pipeline(r))),
        ("batch per (attention) GPU", lambda r: fmt(r.batch_per_gpu)),
        ("tokens/s per GPU", lambda r: fmt(r.tokens_per_s_per_gpu)),
        ("tokens/s per user", lambda r: fmt(r.tokens_per_s_per_user)),
        ("TPOT", lambda r: f"{fmt(r.tpot_ms)} ms"),
        ("$ per 1M output tokens", lambda r: esc(_cost(r))),
        ("bottleneck", lambda r: esc(r.bottleneck)),
        ("FFN-side HFU", lambda r: f"{r.hfu_ffn:.1%}"),
        ("memory headroom per GPU", lambda r: _headroom(data.headroom.get(r.mode))),
    ]
    head = "<tr><th></th>" + "".join(f"<th>best {name}</th>" for name, _ in cols) + "</tr>"
    body = []
    for i, (label, cell) in enumerate(rows):
        tds = []
        for _, m in cols:
            if m.best is not None:
                tds.append(f"<td>{cell(m.best)}</td>")
            elif i == 0:  # a mode with no valid setup: its reason once, over all its rows
                tds.append(f'<td class="none" rowspan="{len(rows)}">no valid setup: {esc(m.why_none)}</td>')
        body.append(f"<tr><td>{esc(label)}</td>{''.join(tds)}</tr>")
    stats = "".join(
        f"<td>{fmt(m.evaluated)} evaluated, {fmt(m.feasible)} feasible, {len(m.pareto)} on the front</td>"
        for _, m in cols
    )
    body.append(f"<tr><td>searched</td>{stats}</tr>")
    return f'<table class="side">{head}{"".join(body)}</table>'


def budget_tables(data) -> str:
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
            total = b.role_total_s(role)
            steps.append(
                f"<tr><td>{mode.upper()} · {esc(ROLE_NAMES[role])}</td>"
                + "".join(f'<td class="num">{fmt(parts[c] * 1e3)}</td>' for c in CATEGORIES)
                + f'<td class="num">{fmt(total * 1e3)}</td><td class="num">{fmt(b.tpot_s * 1e3)}</td>'
                + f'<td class="num">{fmt(b.slack_s * 1e3)}</td></tr>'
            )
    step_head = (
        "<tr><th>per step (ms)</th>"
        + "".join(f"<th>{esc(CATEGORY_NAMES[c])}</th>" for c in CATEGORIES)
        + "<th>step</th><th>TPOT</th><th>left under the SLO</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table><table>{step_head}{''.join(steps)}</table>"


def derived_table(data) -> str:
    from afdscope.report.notes import published_share_range

    sens = data.sensitivity
    if not sens.derived:
        return ""
    lo, hi = published_share_range()
    head = (
        "<tr><th>configuration</th><th>EPLB</th><th>tokens per MoE layer</th><th>σ (1 / expert max/mean)</th>"
        "<th>bytes max/mean</th><th>tokens/s per GPU</th><th>vs balanced</th>"
        f"<th>published: {lo:.0%}–{hi:.0%} of balanced</th></tr>"
    )
    rows = []
    for d in sens.derived:
        share = sens.share_of_balanced(d)
        check = (
            "within" if lo <= share <= hi else ("below: more skew than published" if share < lo else "above")
        )
        eplb = f"+{d.redundant} slots" if d.eplb else "none"
        rows.append(
            f"<tr><td>best {d.mode.upper()}</td><td>{eplb}</td><td class='num'>{fmt(d.tokens)}</td>"
            f"<td class='num'>{d.sigma:.3f}</td><td class='num'>{fmt(d.comm_load_factor)}</td>"
            f"<td class='num'>{fmt(d.tokens_per_s_per_gpu)}</td><td class='num'>{share:.0%}</td>"
            f"<td>{check}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def paper_text(paper) -> str:
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
        f'<p class="note">{esc(paper.study.title)}, paper preset: FFN-side HFU and arithmetic intensity '
        f"against the FFN node count N_F; regimes shaded. {esc(ceiling_text)}; dead zone from N_F = K = "
        f"{bounds.dead_zone_start:g}, where HFU falls to the scale-out floor {bounds.floor_hfu:.1%} "
        f"(scale-up ceiling {bounds.ceiling_hfu:.1%}).</p>"
    )


def value_text(v) -> str:
    """A setting's value in words: lists joined by commas, mappings as "key value" pairs, numbers by
    `fmt`; never a Python repr."""
    from afdscope.report.output import label

    if isinstance(v, dict):
        return "; ".join(f"{label(str(k))} {value_text(x)}" for k, x in v.items()) or "none"
    if isinstance(v, list | tuple):
        return ", ".join(value_text(x) for x in v) or "none"
    if isinstance(v, bool | int | float):
        return fmt(v)
    return str(v)


def kv_table(items) -> str:
    """Key / value rows; snake_case keys written as words (`report.output.label`)."""
    from afdscope.report.output import label

    rows = "".join(f"<tr><th>{esc(label(str(k)))}</th><td>{esc(value_text(v))}</td></tr>" for k, v in items)
    return f"<table>{rows}</table>"


def notes_table(data) -> str:
    """What each best configuration counts and assumes (`report.notes.counting_notes`), a column per
    mode; a row equal for both modes is written once."""
    from afdscope.report.notes import counting_notes

    s = data.search
    bests = [(name, m.best) for name, m in (("AFD", s.afd), ("EP", s.ep)) if m.best is not None]
    if not bests:
        return ""
    notes = [dict(counting_notes(r)) for _, r in bests]
    head = "<tr><th></th>" + "".join(f"<th>best {name}</th>" for name, _ in bests) + "</tr>"
    body = []
    for topic in notes[0]:
        values = [n.get(topic, "—") for n in notes]
        if len(set(values)) == 1:
            cells = f'<td colspan="{len(values)}">{esc(values[0])}</td>'
        else:
            cells = "".join(f"<td>{esc(v)}</td>" for v in values)
        body.append(f"<tr><td>{esc(topic)}</td>{cells}</tr>")
    return '<table class="side">' + head + "".join(body) + "</table>"
