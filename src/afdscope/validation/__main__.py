"""`python -m afdscope.validation`: the Markdown tables of docs/accuracy.md (cases, summary, per-layer),
from the same functions as `afdscope validate`, so the docs are regenerated, never hand-typed."""

from __future__ import annotations

from afdscope.report.output import to_markdown
from afdscope.validation import load_cases, load_layer_times, validate_cases
from afdscope.validation.layers import layer_comparison
from afdscope.validation.summary import summarise

_CASE_COLUMNS = {
    "id": "id",
    "family": "family",
    "mode": "mode",
    "batch_per_gpu": "batch/GPU",
    "published_tokens_per_s_per_gpu": "published tok/s/GPU",
    "predicted_tokens_per_s_per_gpu": "predicted tok/s/GPU",
    "error": "error",
    "published_tpot_ms": "published TPOT ms",
    "predicted_tpot_ms": "predicted TPOT ms",
    "attention_us": "attn µs",
    "ffn_us": "FFN µs",
    "dispatch_us": "dispatch µs",
    "combine_us": "combine µs",
    "serial_us_per_layer": "serial µs/layer",
}


def markdown() -> str:
    cases = load_cases()
    rows = validate_cases(cases)
    shown = [{label: r[key] for key, label in _CASE_COLUMNS.items()} for r in rows]
    summary = summarise(rows)
    scopes = [("all", summary)] + list(summary["by_family"].items())
    stats = [
        {
            "scope": name,
            "median abs error": s["median_abs_error"],
            "within ±25 %": s["within_25"],
            "signed median": s["signed_median"],
        }
        for name, s in scopes
    ]
    layers = [
        {k: v for k, v in r.items() if k != "reason"}
        for r in layer_comparison(cases, rows, load_layer_times())
    ]
    return "\n".join(
        [
            to_markdown(shown, "Cases"),
            to_markdown(stats, "Summary"),
            to_markdown(layers, "Per-layer terms (µs per MoE layer, all micro-batches)"),
        ]
    )


if __name__ == "__main__":
    import sys

    if "--write-bands" in sys.argv[1:]:
        from afdscope.validation.bands import write_bands

        print(f"wrote {write_bands(validate_cases(load_cases()))}")
    else:
        print(markdown(), end="")
