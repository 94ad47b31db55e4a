"""Predicted vs published tokens/s per GPU: log-log, the y = x line and the ±25 % band, one labelled point
per evaluated case (matplotlib, Agg backend; written atomically)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from afdscope.files import atomic_write
from afdscope.validation.summary import WITHIN

COLOURS = {"hopper": "#1f4e79", "blackwell": "#27ae60", "ascend": "#c0392b"}


def parity_axes(measured, predicted, truth_label: str, empty_range: tuple[float, float]):
    """(pyplot, figure, axes) of a log-log parity plot: the ±25 % band and y = x over the data's range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    if len(measured):
        lo = 0.6 * float(min(np.min(measured), np.min(predicted)))
        hi = 1.6 * float(max(np.max(measured), np.max(predicted)))
    else:
        lo, hi = empty_range
    x = np.geomspace(lo, hi, 50)
    ax.fill_between(x, x * (1 - WITHIN), x * (1 + WITHIN), color="#eeeeee", label="±25 %")
    ax.plot(x, x, "k-", lw=1, label=f"predicted = {truth_label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    return plt, fig, ax


def save_parity(plt, fig, ax, xlabel: str, ylabel: str, title: str, path: str | Path) -> Path:
    """Label, legend and grid the axes, then write the PNG atomically."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, buf.getvalue())


def plot_validation(rows: list[dict], path: str | Path) -> Path:
    scored = [r for r in rows if r["predicted_tokens_per_s_per_gpu"] is not None]
    pub = np.array([r["published_tokens_per_s_per_gpu"] for r in scored], dtype=float)
    pred = np.array([r["predicted_tokens_per_s_per_gpu"] for r in scored], dtype=float)
    plt, fig, ax = parity_axes(pub, pred, "published", (100.0, 10000.0))
    marker = {"ep": "o", "afd": "s"}
    for family in sorted({r["family"] for r in scored}):
        for mode in ("ep", "afd"):
            idx = [i for i, r in enumerate(scored) if r["family"] == family and r["mode"] == mode]
            if idx:
                ax.scatter(
                    pub[idx],
                    pred[idx],
                    marker=marker[mode],
                    color=COLOURS.get(family, "#7d3c98"),
                    label=f"{family} {mode.upper()}",
                    zorder=3,
                )
    for r, px, py in zip(scored, pub, pred, strict=True):
        ax.annotate(r["id"], (px, py), xytext=(4, 3), textcoords="offset points", fontsize=6)
    return save_parity(
        plt,
        fig,
        ax,
        "published output tokens/s per GPU",
        "afdscope predicted tokens/s per GPU",
        "afdscope validate: published decode deployments",
        path,
    )
