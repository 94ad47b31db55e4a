"""The page's look: colours, names of the budget categories and roles, the stylesheet, and how numbers and
text are written into HTML (`fmt`, `esc`)."""

from __future__ import annotations

import html
import math

import numpy as np

from afdscope.report.output import fixed_point

AFD_COLOUR, EP_COLOUR = "#c0392b", "#1f4e79"
CATEGORY_NAMES = {
    "compute": "compute",
    "exposed_communication": "exposed communication",
    "bubbles": "bubbles / fill",
    "idle": "idle (waiting on the other side)",
    "overhead": "fixed per-step overhead",
}
CATEGORY_COLOURS = {
    "compute": "#2e86c1",
    "exposed_communication": "#e67e22",
    "bubbles": "#8e44ad",
    "idle": "#bdc3c7",
    "overhead": "#7f8c8d",
}
REGIME_COLOURS = {
    "scale_up_bound": "#d6eaf8",
    "stable_intensity": "#d5f5e3",
    "scale_out_bound": "#fdebd0",
    "max_intensity": "#fadbd8",
}
ROLE_NAMES = {"ep": "EP GPU", "attention": "attention GPU", "ffn": "FFN GPU"}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}

CSS = """
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


def esc(text) -> str:
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
    return fixed_point(x, digits)
