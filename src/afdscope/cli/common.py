"""Helpers the commands share: per-invocation state (--quiet), informational lines, progress bars, and the
checks that turn flag values into library inputs (naming the flag the user typed when a value is bad).

Library modules are imported inside the functions so `afdscope --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from afdscope.errors import AfdscopeError


@dataclass
class Session:
    """What the root options set for one invocation; the root callback resets it on every run.

    notices: lines (an old flag spelling, a value outside the model's range) that `main()` prints on
    stderr once the command has succeeded; a failing command prints only its one `error:` line."""

    quiet: bool = False
    notices: list[str] = field(default_factory=list)


SESSION = Session()


def start_session(quiet: bool) -> None:
    SESSION.quiet = quiet
    SESSION.notices = []


def notice(text: str) -> None:
    """A notice line for stderr (printed even under --quiet: it is about the answer, not progress)."""
    if text not in session().notices:
        session().notices.append(text)


def flush_notices() -> None:
    for text in session().notices:
        print(text, file=sys.stderr)
    session().notices = []


def session() -> Session:
    return SESSION


def info(text: str) -> None:
    """An informational line (timing, files written) on stderr, unless --quiet."""
    if not session().quiet:
        print(text, file=sys.stderr)


def progress_after_one_second():
    """A rich progress bar on stderr that appears only once a search has run for a second."""
    import time

    quiet = session().quiet
    state = {"t0": time.perf_counter(), "bar": None, "task": None}

    def update(done: int, total: int) -> None:
        if state["bar"] is None:
            if quiet or time.perf_counter() - state["t0"] < 1.0 or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress

            state["bar"] = Progress(console=Console(stderr=True), transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task("working", total=total)
        state["bar"].update(state["task"], completed=done)
        if done >= total:
            state["bar"].stop()

    return update, state


def stop_progress(state) -> None:
    if state["bar"] is not None:
        state["bar"].stop()


def finite(flag: str, value: float | None) -> None:
    """Typer accepts 'inf' and 'nan' as floats; no quantity here can be either."""
    import math

    if value is not None and not math.isfinite(value):
        raise AfdscopeError(f"{flag} {value}: give a finite number")


def split(values: list[str] | None) -> list[str] | None:
    """Accept both repeated options and comma-separated lists."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def ms_to_s(value_ms: float | None) -> float | None:
    return None if value_ms is None else value_ms * 1e-3


def check_plot(plot: Path | None, force: bool) -> None:
    if plot is not None and plot.suffix.lower() != ".png":
        raise AfdscopeError(f"--plot '{plot}': figures are PNG; give a file name ending in .png")
    if plot is not None:
        from afdscope.report.output import check_writable

        check_writable([plot], force)


def print_fields(mapping: dict, fmt: str, title: str) -> None:
    """A mapping as a two-column field/value table (or CSV)."""
    from afdscope.report.output import print_rows

    print_rows([{"field": k, "value": v} for k, v in mapping.items()], fmt, title)


def paper_options(preset: str, slo_ms, accepted_tokens, step_gap_ms, full_duplex, dedup):
    """The paper analyses' option set, with the flags' values checked first."""
    from afdscope.paper.options import preset as make_preset

    # Name the flag the user typed, not the library field, when a value is out of range.
    for flag, value in (
        ("--slo-ms", slo_ms),
        ("--accepted-tokens", accepted_tokens),
        ("--step-gap-ms", step_gap_ms),
    ):
        finite(flag, value)
    if slo_ms is not None and slo_ms <= 0:
        raise AfdscopeError(f"--slo-ms {slo_ms:g}: the TPOT SLO must be a positive number of ms")
    if accepted_tokens is not None and accepted_tokens < 1:
        raise AfdscopeError(f"--accepted-tokens {accepted_tokens:g}: a step accepts at least 1 token")
    if step_gap_ms is not None and step_gap_ms < 0:
        raise AfdscopeError(f"--step-gap-ms {step_gap_ms:g}: the per-step gap cannot be negative")

    return make_preset(
        preset,
        slo_s=ms_to_s(slo_ms),
        accepted_tokens_per_step=accepted_tokens,
        step_gap_s=ms_to_s(step_gap_ms),
        full_duplex=full_duplex,
        dedup=None if dedup is None else dedup.value,
    )


def calibration_name(calibration, preset: str | None) -> str:
    """--calibration's value; the old --preset spelling still works (one notice line says so)."""
    name = getattr(calibration, "value", calibration)
    if preset is None:
        return name
    old = preset.strip().lower()
    if old not in ("default", "paper"):
        raise AfdscopeError(
            f"--preset '{preset}': this command's calibrations are default and paper; "
            "write --calibration default or --calibration paper"
        )
    if name != "default" and name != old:
        raise AfdscopeError(
            f"--preset {old} and --calibration {name} disagree; give only --calibration {name}"
        )
    notice(f"--preset is now --calibration; write --calibration {old} (--preset goes in the next release)")
    return old


def calibration_and_skew(calibration, preset: str | None, balanced: bool, expert_load=None, comm_load=None):
    """(Calibration, skew) the flags ask for: the named calibration, and None (the calibration's default,
    the modelled skew), "balanced" (--balanced, or both load factors 1) or the RoutingSkew that
    --expert-load-factor / --comm-load-factor give (the one not given is 1)."""
    from afdscope.deploy.calibration import named_calibration
    from afdscope.specs.skew import RoutingSkew

    name = calibration_name(calibration, preset)
    for flag, value in (("--expert-load-factor", expert_load), ("--comm-load-factor", comm_load)):
        finite(flag, value)
    given = expert_load is not None or comm_load is not None
    if balanced and given:
        raise AfdscopeError(
            "--balanced assumes no routing skew, --expert-load-factor/--comm-load-factor give one; "
            "drop one of them"
        )
    cal = named_calibration(name)
    if not given:
        return cal, "balanced" if balanced else None
    e = 1.0 if expert_load is None else expert_load
    c = 1.0 if comm_load is None else comm_load
    if e == 1.0 and c == 1.0:
        return cal, "balanced"
    return cal, RoutingSkew(expert_load_factor=e, comm_load_factor=c)


def calibration_and_skew_of(flags: Mapping):
    """calibration_and_skew() from a command's flags (its `locals()`: --calibration, --preset, --balanced,
    --expert-load-factor, --comm-load-factor)."""
    f = flags
    return calibration_and_skew(
        f["calibration"], f["preset"], f["balanced"], f["expert_load_factor"], f["comm_load_factor"]
    )


def afd_hardware(hardware, attention_hardware, ffn_hardware, value_set: str):
    """(attention, FFN) devices: --hardware for both roles, each overridable."""
    from afdscope.catalog.hardware_catalog import load_hardware

    attention, ffn = attention_hardware or hardware, ffn_hardware or hardware
    if attention is None or ffn is None:
        raise AfdscopeError("give --hardware, or both --attention-hardware and --ffn-hardware")
    return load_hardware(attention, value_set), load_hardware(ffn, value_set)


def max_position(model) -> int | None:
    """The longest context the model's config.json declares (max_position_embeddings, at its top level
    or in a nested text/language config); None when the config gives none."""
    import json

    try:
        config = json.loads(Path(model.source).read_text())
    except (OSError, ValueError, TypeError):
        return None
    stack = [config]
    while stack:
        node = stack.pop(0)
        if not isinstance(node, dict):
            continue
        for key in ("max_position_embeddings", "max_position_embedding"):
            if isinstance(node.get(key), int) and node[key] > 0:
                return node[key]
        stack += [v for v in node.values() if isinstance(v, dict)]
    return None


def check_context(model, context: int) -> None:
    """A notice when --context exceeds the longest context the model was built for."""
    limit = max_position(model)
    if limit is not None and context > limit:
        notice(
            f"notice: --context {context:,} is above {model.name}'s max_position_embeddings {limit:,}; "
            "the model cannot serve it, the figures extrapolate"
        )


def scenario(
    context,
    draft,
    accept,
    weights,
    kv,
    attention,
    expert_weights=None,
    dispatch=None,
    combine=None,
):
    """The workload a deployment serves, from the context, MTP and precision flags."""
    from afdscope.specs.scenario import Precision, Scenario

    if context < 1:
        raise AfdscopeError(f"--context {context}: give a positive number of tokens")
    if draft == 0 and accept > 0:
        raise AfdscopeError("--mtp-accept needs --mtp-draft ≥ 1")
    formats = dict(weights=weights.value, kv=kv.value, attention=attention.value)
    if expert_weights is not None:
        formats["expert_weights"] = expert_weights.value
    if dispatch is not None:
        formats["dispatch"] = dispatch.value
    if combine is not None:
        formats["combine"] = combine.value
    return Scenario(
        context_tokens=context,
        mtp_draft_tokens=draft,
        mtp_acceptance=accept,
        precision=Precision(**formats),
    )


def workload_of(flags: Mapping):
    """scenario() from a command's flags (its `locals()`: --context, --mtp-draft/--mtp-accept and the
    precision flags)."""
    f = flags
    return scenario(
        f["context"], f["mtp_draft"], f["mtp_accept"], f["weights"], f["kv_dtype"], f["attention_dtype"],
        f["expert_weights"], f["dispatch_dtype"], f["combine_dtype"],
    )  # fmt: skip


def check_formats(workload, *devices) -> None:
    """Every GEMM format the workload asks for exists on every device (FP4 on Hopper does not): an
    error naming the flag and the device's formats before anything is evaluated."""
    prec = workload.precision
    for hw in devices:
        for flag, dtype in (("--weights", prec.weights), ("--expert-weights", prec.expert_weight_dtype)):
            try:
                hw.runnable_dtype(dtype)
            except AfdscopeError as exc:
                raise AfdscopeError(f"{flag} {dtype}: {exc}") from None


def check_mode(batch, tpot_ms):
    """Exactly one of a fixed batch or a TPOT target."""
    finite("--tpot-slo-ms", tpot_ms)
    if (batch is None) == (tpot_ms is None):
        raise AfdscopeError("give exactly one of --batch-per-gpu or --tpot-slo-ms")
    if tpot_ms is not None and tpot_ms <= 0:
        raise AfdscopeError(f"--tpot-slo-ms {tpot_ms:g}: the SLO must be a positive number of ms")
