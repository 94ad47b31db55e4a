"""Recorded error bounds (data/error_bounds.csv): the regression guard of the validation suite.

Each case's bound is its |error| when recorded, rounded up to the next 5 % plus 5 points of slack; the
row `summary:median_abs_error` holds the median |error| rounded up to the next 5 %. Bounds only ever
tighten: whoever improves the model re-records them (`write_error_bounds(validate_cases())`).
"""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path

from afdscope.errors import AfdscopeError
from afdscope.files import atomic_write
from afdscope.validation.cases import _rows
from afdscope.validation.summary import summarise

BOUNDS_FILE = "error_bounds.csv"
MEDIAN_KEY = "summary:median_abs_error"
STEP = 0.05  # bounds are multiples of 5 %
SLACK = 0.05  # per-case slack above the rounded value


def round_up(x: float, step: float = STEP) -> float:
    """x rounded up to the next multiple of `step` (0.30 stays 0.30; 0.301 → 0.35)."""
    return round(math.ceil(round(x / step, 9)) * step, 10)


def case_bound(abs_error: float) -> float:
    return round(round_up(abs_error) + SLACK, 10)


def load_error_bounds(path: str | Path | None = None) -> dict[str, float]:
    """{case id or MEDIAN_KEY: max |error|}."""
    if path is None:
        text, label = (
            files("afdscope.validation").joinpath("data", BOUNDS_FILE).read_text("utf-8"),
            BOUNDS_FILE,
        )
    else:
        text, label = Path(path).read_text("utf-8"), str(path)
    bounds = {}
    for line_no, row in _rows(text, label):
        try:
            bounds[row["id"]] = float(row["max_abs_error"])
        except (KeyError, ValueError):
            raise AfdscopeError(f"{label} line {line_no}: need id and a numeric max_abs_error") from None
    return bounds


def error_bounds_csv(rows: list[dict]) -> str:
    """The bounds file for these validation rows (only rows with an error get a bound)."""
    lines = [
        "# Regression guard for afdscope validate: max |error| per case, error = predicted / published",
        "# tokens/s per GPU - 1; recorded as the |error| then, rounded up to the next 5 % plus 5 points.",
        "# The summary row: the median |error| rounded up to the next 5 %.",
        "# Tighten (re-record with afdscope.validation.bounds.write_error_bounds) as the model improves.",
        "id,max_abs_error",
    ]
    lines += [f"{r['id']},{case_bound(abs(r['error'])):.2f}" for r in rows if r["error"] is not None]
    median = summarise(rows)["median_abs_error"]
    if median is not None:
        lines.append(f"{MEDIAN_KEY},{round_up(median):.2f}")
    return "\n".join(lines) + "\n"


def write_error_bounds(rows: list[dict], path: str | Path) -> Path:
    return atomic_write(path, error_bounds_csv(rows))
