"""Helpers the commands share: per-invocation state (--quiet), informational lines, progress bars, and the
checks that turn flag values into library inputs (naming the flag the user typed when a value is bad).

Library modules are imported inside the functions so `afdscope --help` starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from afdscope.errors import AfdscopeError


@dataclass
class Session:
    """What the root options set for one invocation; the root callback resets it on every run."""

    quiet: bool = False


SESSION = Session()


def start_session(quiet: bool) -> None:
    SESSION.quiet = quiet


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


def deploy_options(preset: str, expert_load: float, comm_load: float, redundant: int, **overrides):
    """A preset with the routing-skew factors (afdscope imbalance prints them) and EPLB replicas."""
    from dataclasses import replace

    from afdscope.deploy.options import deploy_preset

    for flag, value in (("--expert-load-factor", expert_load), ("--comm-load-factor", comm_load)):
        finite(flag, value)
    base = deploy_preset(preset, **overrides)
    return replace(
        base,
        expert_load_factor=expert_load,
        comm_load_factor=comm_load,
        memory=replace(base.memory, redundant_experts=redundant),
    )


def afd_hardware(hardware, attention_hardware, ffn_hardware, value_set: str):
    """(attention, FFN) devices: --hardware for both roles, each overridable."""
    from afdscope.catalog.hardware_catalog import load_hardware

    attention, ffn = attention_hardware or hardware, ffn_hardware or hardware
    if attention is None or ffn is None:
        raise AfdscopeError("give --hardware, or both --attention-hardware and --ffn-hardware")
    return load_hardware(attention, value_set), load_hardware(ffn, value_set)


def scenario(context, draft, accept, weights, kv, attention):
    """The workload a deployment serves, from the context, MTP and precision flags."""
    from afdscope.specs.scenario import Precision, Scenario

    if context < 1:
        raise AfdscopeError(f"--context {context}: give a positive number of tokens")
    if draft == 0 and accept > 0:
        raise AfdscopeError("--mtp-accept needs --mtp-draft ≥ 1")
    return Scenario(
        context_tokens=context,
        mtp_draft_tokens=draft,
        mtp_acceptance=accept,
        precision=Precision(weights=weights.value, kv=kv.value, attention=attention.value),
    )


def check_mode(batch, tpot_ms):
    """Exactly one of a fixed batch or a TPOT target."""
    finite("--tpot-slo-ms", tpot_ms)
    if (batch is None) == (tpot_ms is None):
        raise AfdscopeError("give exactly one of --batch-per-gpu or --tpot-slo-ms")
    if tpot_ms is not None and tpot_ms <= 0:
        raise AfdscopeError(f"--tpot-slo-ms {tpot_ms:g}: the SLO must be a positive number of ms")
