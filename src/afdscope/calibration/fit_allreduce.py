"""The custom all-reduce of one NVLink domain, fitted per family on aiconfigurator's all-reduce tables.

calibration/measured/<system>/allreduce.csv: SGLang's custom all-reduce under a CUDA graph (decode replays
graphs; the eager rows carry ~25 µs of launch cost more), BF16, 2–8 GPUs, messages up to 4 MiB (a decode
all-reduce: tokens × hidden × 2 B, 4 MiB = 292 tokens of DeepSeek-V3). GB200/GB300 groups beyond one
4-GPU compute tray are left out: SGLang's custom all-reduce does not cross hosts there (28 µs floor at
8 GPUs), which is not the NVLink kernel. Equation: ops.comm.one_or_two_shot_s; least squares on
log(predicted / measured), every 4th message size held out.
"""

from __future__ import annotations

import math

import numpy as np

from afdscope.calibration.fit import (
    FAMILY_SYSTEMS,
    SYSTEMS,
    ErrorRow,
    _error_row,
    _hw,
    _levenberg_marquardt,
    _measured,
    _summary,
    held_out,
)

LIBRARY = "SGLang_CustomAllReduce_graph"
MAX_MESSAGE_BYTES = 4 * 2**20
TRAY_GPUS = {"gb200": 4, "gb300": 4}  # GPUs per compute tray (one host) of the NVL72 racks
FITTED = ("alpha_one_us", "alpha_two_us", "alpha_peer_us", "e_bw")


def allreduce_rows(system: str) -> dict[str, np.ndarray] | None:
    """The fitted rows of one system: GPUs n, message bytes, peak scale-up bandwidth, measured seconds."""
    hw = _hw(SYSTEMS[system])
    limit = TRAY_GPUS.get(system, hw.gpus_per_node)
    rows = [
        r
        for r in _measured(system, "allreduce")
        if r["library"] == LIBRARY
        and r["dtype"] == "bfloat16"
        and int(r["num_gpus"]) <= limit
        and float(r["message_bytes"]) <= MAX_MESSAGE_BYTES
    ]
    if not rows:
        return None
    return {
        "n": np.array([float(r["num_gpus"]) for r in rows]),
        "bytes": np.array([float(r["message_bytes"]) for r in rows]),
        "bw": np.full(len(rows), hw.scale_up_bandwidth),
        "measured_s": np.array([float(r["latency_us"]) * 1e-6 for r in rows]),
        "hardware": np.array([hw.name] * len(rows)),
    }


def _family_rows(family: str) -> dict[str, np.ndarray] | None:
    tables = [t for t in (allreduce_rows(s) for s in FAMILY_SYSTEMS.get(family, ())) if t is not None]
    if not tables:
        return None
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def _held(rows: dict[str, np.ndarray]) -> np.ndarray:
    """The rows at every 4th distinct message size (calibration.fit.held_out)."""
    return np.isin(rows["bytes"], list(held_out(sorted(set(rows["bytes"].tolist())))))


def fit_allreduce(family: str) -> tuple[dict, dict, list] | None:
    """(profile entry values, fit statistics, hardware measured on) for `family`, or None without tables."""
    from afdscope.ops.comm import one_or_two_shot_s

    rows = _family_rows(family)
    if rows is None:
        return None
    train = ~_held(rows)

    def values(x):
        v = {k: float(math.exp(min(xi, 30.0))) for k, xi in zip(FITTED, x, strict=True)}
        return v | {"e_bw": min(v["e_bw"], 1.0)}

    def predict(v, sel):
        return one_or_two_shot_s(v, rows["n"][sel], rows["bytes"][sel], rows["bw"][sel])

    x = _levenberg_marquardt(
        lambda x: np.log(predict(values(x), train) / rows["measured_s"][train]),
        np.log([3.0, 6.0, 0.3, 0.6]),
        iterations=300,
        h=1e-7,
        ridge=1e-12,
        tol=1e-10,
    )
    v = {k: round(val, 4) for k, val in values(x).items()}
    err = predict(v, slice(None)) / rows["measured_s"] - 1
    stats = {"fitted": list(FITTED), "train": _summary(err[train]), "held_out": _summary(err[~train])}
    return v, stats, sorted({str(h) for h in rows["hardware"]})


def allreduce_error_rows() -> list[ErrorRow]:
    """The shipped `comm.all_reduce` entries on each GPU's held-out message sizes (those its family's
    fit held out)."""
    from afdscope.calibration.profiles import comm_entry, family_of
    from afdscope.ops.comm import one_or_two_shot_s

    held: dict[str, set] = {}
    out = []
    for system in SYSTEMS:
        rows = allreduce_rows(system)
        if rows is None:
            continue
        hw = _hw(SYSTEMS[system])
        family = family_of(hw)
        if family not in held:
            held[family] = held_out(sorted(set(_family_rows(family)["bytes"].tolist())))
        sel = np.isin(rows["bytes"], list(held[family]))
        entry, use = comm_entry(family, "all_reduce", hw.name)
        pred = one_or_two_shot_s(entry, rows["n"][sel], rows["bytes"][sel], rows["bw"][sel])
        err = np.abs(pred / rows["measured_s"][sel] - 1)
        source = f"measured/{system}/allreduce.csv ({LIBRARY}, ≤ 4 MiB, held-out message sizes)"
        out.append(_error_row("all_reduce", hw.name, source, err, use.profile, use.status))
    return out
