"""Reduce validation rows to the accuracy summary, overall and per GPU family.

Only rows with an error (evaluated, finite) count; a row that could not be evaluated carries its reason
in the rows and is left out of the statistics (never counted as 0 or NaN).
"""

from __future__ import annotations

import numpy as np

WITHIN = 0.25  # the ±25 % band of "within_25"


def error_stats(errors) -> dict:
    """median |error|, share with |error| ≤ 25 %, signed median; None each when there is no error."""
    e = np.asarray(list(errors), dtype=float)
    if e.size == 0:
        return {"median_abs_error": None, "within_25": None, "signed_median": None}
    return {
        "median_abs_error": float(np.median(np.abs(e))),
        "within_25": float(np.mean(np.abs(e) <= WITHIN)),
        "signed_median": float(np.median(e)),
    }


def summarise(rows: list[dict]) -> dict:
    """`{"median_abs_error", "within_25", "signed_median", "by_family": {family: the same three}}`."""
    scored = [r for r in rows if r.get("error") is not None]
    summary = error_stats(r["error"] for r in scored)
    families = sorted({r["family"] for r in scored})
    summary["by_family"] = {f: error_stats(r["error"] for r in scored if r["family"] == f) for f in families}
    return summary
