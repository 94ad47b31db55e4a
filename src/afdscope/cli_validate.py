"""`afdscope validate`: the evaluators against the shipped published decode deployments.

Kept apart from cli.py so the command moves with the validation package; `register(app)` adds it.
Heavy imports happen inside the command so `afdscope --help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from afdscope.cli.common import check_plot
from afdscope.cli.options import Fmt, ForceOpt, FormatOpt
from afdscope.errors import AfdscopeError


class _Set(StrEnum):
    public = "public"
    silicon = "silicon"


# Columns of the terminal table (every column is in the JSON and CSV).
_TABLE_COLUMNS = {
    "id": "id",
    "family": "family",
    "mode": "mode",
    "batch_per_gpu": "batch",
    "published_tokens_per_s_per_gpu": "pub tok/s/GPU",
    "predicted_tokens_per_s_per_gpu": "pred tok/s/GPU",
    "error": "error",
    "published_tpot_ms": "pub TPOT ms",
    "predicted_tpot_ms": "pred TPOT ms",
    "attention_us": "attn µs",
    "ffn_us": "ffn µs",
    "dispatch_us": "disp µs",
    "combine_us": "comb µs",
    "serial_us_per_layer": "serial µs/layer",
    "reason": "reason",
}


def _summary_rows(summary: dict) -> list[dict]:
    scopes = [("all", summary)] + list(summary["by_family"].items())
    return [
        {
            "scope": name,
            "median |error|": s["median_abs_error"],
            "within ±25 %": s["within_25"],
            "signed median": s["signed_median"],
        }
        for name, s in scopes
    ]


# Columns of the silicon set's terminal table.
_SILICON_COLUMNS = {
    "id": "id",
    "family": "family",
    "model": "model",
    "hardware": "hw",
    "backend": "backend",
    "gpus": "GPUs",
    "attention_tp": "attn TP",
    "batch_per_gpu": "batch/GPU",
    "context_tokens": "context",
    "measured_tpot_ms": "meas TPOT ms",
    "predicted_tpot_ms": "pred TPOT ms",
    "error": "error",
    "reason": "reason",
}


def _print_validation(rows: list[dict], summary: dict, fmt: Fmt, cases: tuple, stats: tuple) -> None:
    """JSON {"rows", "summary"}, CSV of the rows, or the two tables: `cases` = (columns, title) of the
    cases table, `stats` = (summary rows, title)."""
    from afdscope.report.output import print_rows, to_json

    if fmt is Fmt.json:
        import json

        json.loads(to_json(rows))  # refuses a non-finite number before anything is printed
        print(json.dumps({"rows": rows, "summary": summary}, indent=2))
    elif fmt is Fmt.csv:
        print_rows(rows, "csv")
    else:
        columns, title = cases
        print_rows([{label: r[key] for key, label in columns.items()} for r in rows], "table", title)
        print_rows(stats[0], "table", stats[1])


def _silicon(fmt: Fmt, plot: Path | None) -> None:
    from afdscope.report.output import print_rows
    from afdscope.validation.silicon import (
        plot_silicon,
        skip_rows,
        summarise_silicon,
        summary_rows,
        validate_silicon,
    )

    rows = validate_silicon()
    summary = summarise_silicon(rows)
    _print_validation(
        rows,
        summary,
        fmt,
        (_SILICON_COLUMNS, "aiconfigurator silicon sample: predicted vs measured decode TPOT"),
        (summary_rows(summary), "Summary (error = predicted / measured tokens/s per user − 1)"),
    )
    if fmt is Fmt.table:
        print_rows(skip_rows(summary), "table", "Skipped runs (layout afdscope cannot express)")
    if plot is not None:
        plot_silicon(rows, plot)


def validate_cmd(
    which: Annotated[
        _Set,
        typer.Option(
            "--set",
            help="Validation set: public (published deployments, tokens/s per GPU) or silicon "
            "(aiconfigurator's measured decode TPOT, tokens/s per user).",
        ),
    ] = _Set.public,
    fmt: FormatOpt = Fmt.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also write predicted vs published to this PNG file.")
    ] = None,
    force: ForceOpt = False,
    layers: Annotated[
        bool, typer.Option("--layers", help="Print the per-layer comparison instead of the cases.")
    ] = False,
) -> None:
    """Evaluate every shipped published deployment at its stated inputs; error on tokens/s per GPU.

    --set silicon: the aiconfigurator silicon sample's measured decode runs instead (error on tokens/s
    per user; runs whose layout cannot be expressed are listed with the reason).

    Example: afdscope validate --plot validation.png
    """
    from afdscope.report.output import print_rows
    from afdscope.validation import load_cases, load_layer_times, validate_cases
    from afdscope.validation.layers import layer_comparison
    from afdscope.validation.summary import summarise

    check_plot(plot, force)
    if which is _Set.silicon:
        if layers:
            raise AfdscopeError(
                "--layers: the silicon set has no per-layer times; drop --layers or use --set public"
            )
        _silicon(fmt, plot)
        return
    cases = load_cases()
    rows = validate_cases(cases)
    if layers:
        comparison = layer_comparison(cases, rows, load_layer_times())
        print_rows(comparison, fmt.value, "Per-layer terms vs published (µs per MoE layer)")
    else:
        summary = summarise(rows)
        _print_validation(
            rows,
            summary,
            fmt,
            (_TABLE_COLUMNS, "Published decode deployments: predicted vs published"),
            (_summary_rows(summary), "Summary (error = predicted / published − 1)"),
        )
    if plot is not None:
        from afdscope.validation.plot import plot_validation

        plot_validation(rows, plot)


def register(app: typer.Typer) -> None:
    """Add `afdscope validate` to the command app."""
    app.command("validate")(validate_cmd)
