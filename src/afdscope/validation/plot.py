"""Predicted vs published tokens/s per GPU: log-log, the y = x line and the ±25 % band, one labelled point
per evaluated case (matplotlib, Agg backend; written atomically)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from afdscope.files import atomic_write
from afdscope.validation.summary import WITHIN

_COLOURS = {"hopper": "#1f4e79", "blackwell": "#27ae60", "ascend": "#c0392b"}


def plot_validation(rows: list[dict], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in rows if r["predicted_tokens_per_s_per_gpu"] is not None]
    pub = np.array([r["published_tokens_per_s_per_gpu"] for r in scored], dtype=float)
    pred = np.array([r["predicted_tokens_per_s_per_gpu"] for r in scored], dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    lo = 0.6 * float(min(pub.min(), pred.min())) if scored else 100.0
    hi = 1.6 * float(max(pub.max(), pred.max())) if scored else 10000.0
    x = np.geomspace(lo, hi, 50)
    ax.fill_between(x, x * (1 - WITHIN), x * (1 + WITHIN), color="#eeeeee", label="±25 %")
    ax.plot(x, x, "k-", lw=1, label="predicted = published")
    for family in sorted({r["family"] for r in scored}):
        sel = [i for i, r in enumerate(scored) if r["family"] == family]
        marker = {"ep": "o", "afd": "s"}
        for mode in ("ep", "afd"):
            idx = [i for i in sel if scored[i]["mode"] == mode]
            if idx:
                ax.scatter(
                    pub[idx],
                    pred[idx],
                    marker=marker[mode],
                    color=_COLOURS.get(family, "#7d3c98"),
                    label=f"{family} {mode.upper()}",
                    zorder=3,
                )
    for r, px, py in zip(scored, pub, pred, strict=True):
        ax.annotate(r["id"], (px, py), xytext=(4, 3), textcoords="offset points", fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("published output tokens/s per GPU")
    ax.set_ylabel("afdscope predicted tokens/s per GPU")
    ax.set_title("afdscope validate: published decode deployments")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, buf.getvalue())
