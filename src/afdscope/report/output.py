"""Rows of results rendered as a terminal table, JSON, CSV or Markdown, and files written atomically.

Rows are lists of flat dicts; values are already in the units their keys name. Nothing here computes
a number: it only formats what the library returned.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from afdscope.errors import AfdscopeError

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


def check_writable(paths, force: bool) -> None:
    """Refuse to replace existing files unless asked: one error naming them, before anything is written."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        verb = "exists" if len(existing) == 1 else "exist"
        raise AfdscopeError(f"{shown} already {verb}; pass --force to overwrite")


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write via a temporary file in the same folder and rename, so no reader sees half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise AfdscopeError(f"cannot write '{path}': {exc.strerror}; choose a writable location") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
