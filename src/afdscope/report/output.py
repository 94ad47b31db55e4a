"""Rows of results rendered as a terminal table, JSON, CSV or Markdown; afdscope.files writes files.

Rows are lists of flat dicts; values are already in the units their keys name. Nothing here computes
a number: it only formats what the library returned.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from typing import Literal

from afdscope.errors import AfdscopeError
from afdscope.files import atomic_write, check_writable  # noqa: F401  (moved; re-exported until callers switch)

Format = Literal["table", "json", "csv"]


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
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


def print_rows(rows: Sequence[dict], fmt: Format, title: str | None = None) -> None:
    """Print rows to stdout in the requested format (rich table only for `table`)."""
    if fmt == "json":
        print(to_json(rows))
    elif fmt == "csv":
        print(to_csv(rows), end="")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in rows[0] if rows else []:
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(*(_cell(v) for v in r.values()))
        # Off a terminal (pipes, CI logs) rich would wrap at 80 columns; tables read better unwrapped.
        Console(width=None if sys.stdout.isatty() else 240).print(table)
