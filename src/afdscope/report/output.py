"""Rows of results rendered as a terminal table, JSON, CSV or Markdown; afdscope.files writes files.

Rows are lists of flat dicts; values are already in the units their keys name. Nothing here computes
a number: it only formats what the library returned. JSON and CSV keep the snake_case keys; the terminal
table writes them as people read them (`COLUMN_LABELS`: words with units), numbers with thousands
separators and no exponents, fits the terminal's width (`COLUMNS` when set) by dropping the secondary
columns it must (named in a note under the table), and explains the short forms its cells use (`LEGEND`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from typing import Literal

from afdscope.errors import AfdscopeError
from afdscope.files import atomic_write, check_writable  # noqa: F401  (moved; re-exported until callers switch)

Format = Literal["table", "json", "csv"]

# Table headers (and field names of field/value tables) for the keys rows use; any other key is written
# with spaces for underscores.
COLUMN_LABELS = {
    "mode": "mode",
    "kind": "best by",
    "configuration": "configuration",
    "gpus": "GPUs",
    "total_gpus": "GPUs",
    "tokens_per_s_per_gpu": "tokens/s per GPU",
    "tokens_per_s_per_user": "tokens/s per user",
    "tpot_ms": "TPOT (ms)",
    "step_ms": "step (ms)",
    "usd_per_million_output_tokens": "$ per 1M output tokens",
    "bottleneck": "bottleneck",
    "hfu_ffn": "FFN HFU (%)",
    "batch_per_gpu": "batch per (attention) GPU",
    "routing_skew": "routing skew assumed",
    "expected_error": "expected error",
    "gpus_counted": "GPUs counted",
    "tokens_counted": "tokens counted",
    "whole_nodes": "whole nodes",
    "calibration_profile": "calibration profile",
    "tpot_slo_ms": "TPOT SLO (ms)",
    "context_tokens": "context (tokens)",
    "max_gpus": "max GPUs",
    "mtp_draft_tokens": "MTP draft tokens",
    "mtp_acceptance": "MTP acceptance",
    "attention_hardware": "attention hardware",
    "ffn_hardware": "FFN hardware",
    "ep_tokens_per_s_per_gpu": "EP tokens/s per GPU",
    "afd_tokens_per_s_per_gpu": "AFD tokens/s per GPU",
    "ratio": "AFD/EP",
}
# Keys whose values are fractions shown as percentages.
PERCENT_KEYS = frozenset({"hfu_ffn"})
# Columns a narrow terminal may drop, least important first (JSON and CSV keep them).
SECONDARY_COLUMNS = ("hfu_ffn", "tokens_per_s_per_user", "bottleneck", "gpus", "total_gpus", "kind")
# Short forms table cells use, and what they mean: printed under a table whose cells contain them.
LEGEND = {
    r"\b2bo\b": "2bo = two-batch overlap",
    r"\bsbo\b": "sbo = single-batch overlap",
    r"\bnbo\b": "nbo = no overlap",
    r"\bm=\d": "m = AFD micro-batches in flight",
    r"\bEP\d": "EPn = expert parallelism over n GPUs",
    r"\breq/": "req = concurrent requests",
    r"FFN HFU": "FFN HFU = expert FLOPs / (peak × per-layer stage time) on the FFN GPUs",
    r"TPOT": "TPOT = time per output token",
}


def label(key: str) -> str:
    """A row key as a table header: `COLUMN_LABELS`, else underscores as spaces (dotted paths kept)."""
    return COLUMN_LABELS.get(key, key.replace("_", " "))


def number(x, digits: int = 4) -> str:
    """A number as people read it: integers and |x| ≥ 1000 with thousands separators, otherwise `digits`
    significant digits in fixed point (never an exponent), trailing zeros dropped."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    text = fixed_point(x, digits)
    return text.rstrip("0").rstrip(".") if "." in text else text


def fixed_point(x: float, digits: int) -> str:
    """A finite number in fixed point (never an exponent): |x| ≥ 1000 as a whole number with thousands
    separators, otherwise `digits` significant digits, trailing zeros kept (`number` drops them, the HTML
    report's `fmt` keeps them)."""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def _cell(value, key: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if key in PERCENT_KEYS and isinstance(value, float):
            return f"{number(value * 100, 3)}"
        return number(value)
    return str(value)


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        raise AfdscopeError(f"internal error: non-finite value {value!r} in output")
    return value


def to_json(rows: Sequence[dict] | dict) -> str:
    if isinstance(rows, dict):
        return json.dumps({k: _json_value(v) for k, v in rows.items()}, indent=2)
    return json.dumps([{k: _json_value(v) for k, v in r.items()} for r in rows], indent=2)


def to_csv(rows: Sequence[dict]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return buf.getvalue()


def to_markdown(rows: Sequence[dict], title: str | None = None) -> str:
    lines = [f"## {title}", ""] if title else []
    if rows:
        cols = list(rows[0])
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * len(cols))
        lines += ["| " + " | ".join(_cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def table_width() -> int | None:
    """The width tables are drawn to: `COLUMNS` when set, the terminal's on a terminal, else 240 (pipes
    and CI logs read better unwrapped than at rich's 80-column default)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else 240


def table_cells(rows: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """Headers and cell texts of the terminal table: field/value rows get their field names labelled and
    their values formatted by field."""
    cols = list(rows[0]) if rows else []
    if cols == ["field", "value"]:
        return ["field", "value"], [[label(r["field"]), _cell(r["value"], r["field"])] for r in rows]
    return [label(c) for c in cols], [[_cell(r.get(c), c) for c in cols] for r in rows]


def legend_for(texts: Sequence[str]) -> list[str]:
    """The `LEGEND` entries whose short form occurs in any of `texts`."""
    joined = "\n".join(texts)
    return [meaning for pattern, meaning in LEGEND.items() if re.search(pattern, joined)]


def _fit(rows: Sequence[dict], width: int | None) -> tuple[list[str], list[str], dict[str, int]]:
    """(the columns to show, the secondary columns dropped, fixed widths of all but the widest column) so
    that the table fits `width`: headers on one line if that fits, else on two, else secondary columns
    dropped; the widest column (the configuration) takes what is left and wraps at spaces, down to
    `_WRAP` characters."""
    cols = list(rows[0]) if rows else []
    if width is None or cols == ["field", "value"]:
        return cols, [], {}
    cell = {c: max([1] + [len(_cell(r.get(c), c)) for r in rows]) for c in cols}
    longest_word = {c: max(len(w) for w in label(c).split()) for c in cols}
    heads = (
        {c: len(label(c)) for c in cols},  # one line
        {c: max(longest_word[c], _two_lines(label(c))) for c in cols},
    )

    def layout(shown: list[str], head: dict) -> dict[str, int] | None:
        widest = max(shown, key=lambda c: max(cell[c], head[c]))
        fixed = {c: max(cell[c], head[c]) for c in shown if c != widest}
        rest = max(longest_word[widest], min(cell[widest], _WRAP))
        total = sum(fixed.values()) + rest + 3 * len(shown) + 1  # 2 padding + 1 border each, 1 closing
        return fixed if total <= width else None

    shown, dropped = list(cols), []
    while True:
        for head in heads:
            fixed = layout(shown, head)
            if fixed is not None:
                return shown, dropped, fixed
        more = [c for c in SECONDARY_COLUMNS if c in shown]
        if not more or len(shown) <= 2:
            return shown, dropped, {}
        shown.remove(more[0])
        dropped.append(more[0])


def _two_lines(text: str) -> int:
    """The width `text` needs to wrap at spaces onto at most two lines."""
    words = text.split()
    return min(max(len(" ".join(words[:i])), len(" ".join(words[i:]))) for i in range(1, len(words) + 1))


_WRAP = 28


def print_rows(rows: Sequence[dict], fmt: Format, title: str | None = None) -> None:
    """Print rows to stdout in the requested format (rich table only for `table`)."""
    if fmt == "json":
        print(to_json(rows))
    elif fmt == "csv":
        print(to_csv(rows), end="")
    else:
        from rich.console import Console
        from rich.table import Table

        width = table_width()
        shown, dropped, fixed = _fit(rows, width)
        heads, cells = table_cells([{c: r.get(c) for c in shown} for r in rows])
        table = Table(title=title)
        for c, head in zip(shown, heads, strict=True):
            # Headers and cells wrap at spaces; a word longer than its column folds only as a last resort.
            numeric = all(isinstance(r.get(c), int | float) for r in rows if r.get(c) is not None)
            justify = "right" if numeric and shown != ["field", "value"] else "left"
            table.add_column(head, overflow="fold", width=fixed.get(c), justify=justify)
        for row in cells:
            table.add_row(*row)
        console = Console(width=width)
        console.print(table)
        notes = []
        if dropped:
            notes.append(
                f"not shown at {width} columns: {', '.join(label(c) for c in dropped)} "
                "(widen the terminal, or --format json / csv for every column)"
            )
        legend = legend_for(heads + [c for row in cells for c in row])
        if legend:
            notes.append("legend: " + "; ".join(legend))
        for note in notes:
            console.print(note, highlight=False, markup=False, soft_wrap=width is None or width >= 240)
