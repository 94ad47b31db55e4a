"""Refit the kernel profiles from the measured tables and report held-out errors.

Tables (CSV, `#` header comments): calibration/measured/<system>/{moe,gemm,mla_decode}.csv
(aiconfigurator-core, Apache-2.0; columns in each file's header) and calibration/public/deepgemm_h800.csv
(DeepGEMM README). For each (family, kernel, format) the rows of every GPU of the family are pooled; a quarter
of the SHAPES of each table (MoE: the expert-parallel degree, i.e. experts per GPU; GEMM: the (n, k) pair)
is held out, the efficiencies are fitted by least squares on log(predicted / measured) on the rest, and
the error is reported on the held-out shapes.
`fit_all(write=True)` (make calibrate, `afdscope calibration fit`) writes the profile files.
Nothing here is fitted to end-to-end throughput.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from afdscope.calibration import SYSTEMS
from afdscope.calibration.profiles import GemmKernel, _profiles_dir, gemm_kernel, load_profile
from afdscope.errors import AfdscopeError
from afdscope.files import atomic_write

# aiconfigurator system directory → catalog hardware name
GEMM_DTYPES = {"fp8_block": "fp8", "bfloat16": "bf16", "nvfp4": "fp4"}
HOLD_OUT_SHARE = 0.25
TILE_CHOICES = (32, 64, 128)


def _read(path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _measured(system: str, op: str) -> list[dict[str, str]]:
    path = resources.files(__package__) / "measured" / system / f"{op}.csv"
    return _read(path) if path.is_file() else []


def held_out(keys: list, share: float = HOLD_OUT_SHARE) -> set:
    """Every 1/share-th shape of the sorted distinct keys, starting with the second (deterministic)."""
    distinct = sorted(set(keys))
    if len(distinct) < 2:
        return set()
    step = max(2, round(1 / share))
    return set(distinct[1::step])


# --- tables as prediction problems -----------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """One table's rows for one kernel fit: hardware names, inputs and measured seconds (arrays)."""

    operator: str  # "moe", "gemm", "mla", ...
    source: str
    fmt: str
    hardware: np.ndarray
    inputs: dict[str, np.ndarray]
    measured_s: np.ndarray
    shape_key: np.ndarray  # hold-out group per row


def moe_rows(system: str) -> Rows | None:
    """Uniform-routing rows of the wide-EP MoE table where every local expert gets the same whole number of
    rows, floor(tokens_global · topk / experts) >= 1 (below that the collector's layout is irregular)."""
    rows = [r for r in _measured(system, "moe") if r["distribution"] == "uniform"]
    keep = []
    for r in rows:
        per = int(r["tokens_global"]) * int(r["topk"]) // int(r["num_experts"])
        if per >= 1:
            keep.append((r, per))
    if not keep:
        return None
    hw = SYSTEMS[system]
    return Rows(
        operator="moe",
        source="aiconfigurator moe.csv (SGLang DeepEPMoE, uniform)",
        fmt="fp8",
        hardware=np.array([hw] * len(keep)),
        inputs={
            "experts": np.array([float(r["local_experts"]) for r, _ in keep]),
            "rows_per_expert": np.array([float(p) for _, p in keep]),
            "hidden": np.array([float(r["hidden_size"]) for r, _ in keep]),
            "inter": np.array([float(r["inter_size"]) for r, _ in keep]),
        },
        measured_s=np.array([float(r["latency_us"]) * 1e-6 for r, _ in keep]),
        shape_key=np.array([int(r["ep_size"]) for r, _ in keep]),
    )


def gemm_rows(system: str, fmt: str) -> Rows | None:
    code = {v: k for k, v in GEMM_DTYPES.items()}[fmt]
    rows = [r for r in _measured(system, "gemm") if r["dtype"] == code]
    if not rows:
        return None
    return Rows(
        operator="gemm",
        source=f"aiconfigurator gemm.csv ({code})",
        fmt=fmt,
        hardware=np.array([SYSTEMS[system]] * len(rows)),
        inputs={k: np.array([float(r[k]) for r in rows]) for k in ("m", "n", "k")},
        measured_s=np.array([float(r["latency_us"]) * 1e-6 for r in rows]),
        shape_key=np.array([f"{r['n']}x{r['k']}" for r in rows]),
    )


def deepgemm_rows(kernel: str) -> Rows:
    """DeepGEMM README (H800): kernel 'dense' or 'grouped_masked'. Transfer check, never fitted."""
    path = resources.files(__package__) / "public" / "deepgemm_h800.csv"
    rows = [r for r in _read(path) if r["kernel"] == kernel]
    g = np.array([float(r["groups"]) for r in rows])
    m, n, k = (np.array([float(r[c]) for r in rows]) for c in ("m", "n", "k"))
    t = 2 * g * m * n * k / (np.array([float(r["tflops"]) for r in rows]) * 1e12)
    return Rows(
        operator=f"deepgemm_{kernel}",
        source="DeepGEMM README 2025-02 (H800)",
        fmt="fp8",
        hardware=np.array(["h800"] * len(rows)),
        inputs={"groups": g, "m": m, "n": n, "k": k},
        measured_s=t,
        shape_key=np.array([f"{int(a)}x{int(b)}" for a, b in zip(n, k, strict=True)]),
    )


def deepgemm_h20_rows(kernel: str = "masked") -> Rows:
    """DeepGEMM masked grouped GEMMs on H20 (issue #114, PR #192): 'masked' or 'masked_swapab'. Transfer
    check of the Hopper profile to a GPU without tables of its own; never fitted."""
    path = resources.files(__package__) / "public" / "deepgemm_h20.csv"
    rows = [r for r in _read(path) if r["kernel"] == kernel]
    g, m, n, k = (np.array([float(r[c]) for r in rows]) for c in ("groups", "m", "n", "k"))
    return Rows(
        operator=f"deepgemm_h20_{kernel}",
        source="DeepGEMM #114 / #192 (H20)",
        fmt="fp8",
        hardware=np.array(["h20"] * len(rows)),
        inputs={"groups": g, "m": m, "n": n, "k": k},
        measured_s=np.array([float(r["us"]) * 1e-6 for r in rows]),
        shape_key=np.array([f"{int(a)}x{int(b)}" for a, b in zip(n, k, strict=True)]),
    )


# --- predictions through the operator code ---------------------------------------------------------


def _hw(name: str):
    from afdscope.catalog.hardware_catalog import load_hardware

    return load_hardware(name, "datasheet")


def predict(rows: Rows, kernel: GemmKernel, mask=None) -> np.ndarray:
    """Predicted seconds for `rows` with explicit kernel values (the operators' own functions)."""
    from afdscope.ops.experts import GemmCalibration, _rates, expert_layer_time_s, gemm_kernel_time
    from afdscope.specs.scenario import Precision

    mask = np.ones(len(rows.measured_s), bool) if mask is None else mask
    out = np.empty(int(mask.sum()))
    hws = rows.hardware[mask]
    for name in sorted(set(hws)):
        sel = hws == name
        hw = _hw(name)
        x = {k: v[mask][sel] for k, v in rows.inputs.items()}
        if rows.operator == "moe":
            cal = GemmCalibration(grouped=kernel, count_distinct_experts=False)
            prec = Precision(weights=rows.fmt)
            # hidden / inter are the same for every row of the table (one model shape)
            out[sel] = expert_layer_time_s(
                hw,
                x["experts"] * x["rows_per_expert"],
                x["experts"],
                int(x["hidden"][0]),
                int(x["inter"][0]),
                prec,
                cal,
            )
        else:
            from afdscope.specs.scenario import DTYPE_BYTES

            bw, peak = _rates(hw, rows.fmt, "peak")
            w = DTYPE_BYTES[rows.fmt]
            g = x.get("groups", np.ones_like(x["m"]))
            t = gemm_kernel_time(kernel, bw, peak, g * x["m"], x["n"], x["k"], w, g, w).time_s
            out[sel] = t
    return out


def _errors(pred, meas) -> np.ndarray:
    return pred / meas - 1.0


def _levenberg_marquardt(residuals, x, iterations: int, h: float, ridge: float, tol: float) -> np.ndarray:
    """Minimise sum(residuals(x)**2): Levenberg–Marquardt with a forward-difference Jacobian (step h),
    Marquardt scaling plus `ridge`·I, damping ÷3 on success and ×4 on failure; stops after `iterations`,
    when no step improves, or when the largest step component is below `tol`."""
    damping = 1e-2
    for _ in range(iterations):
        r0 = residuals(x)
        jac = np.array([(residuals(x + d) - r0) / h for d in np.eye(len(x)) * h]).T
        jtj, grad = jac.T @ jac, jac.T @ r0
        improved = False
        while damping < 1e8:
            step = np.linalg.solve(jtj + damping * (np.diag(np.diag(jtj)) + ridge * np.eye(len(x))), -grad)
            if np.sum(residuals(x + step) ** 2) < np.sum(r0**2):
                x, damping, improved = x + step, damping / 3, True
                break
            damping *= 4
        if not improved or np.max(np.abs(step)) < tol:
            break
    return x


def fit_kernel(rows_list: list[Rows], start: GemmKernel, fit_k0: bool) -> tuple[GemmKernel, dict]:
    """Levenberg–Marquardt on log(pred/meas) over the training shapes; returns the kernel and fit stats."""
    train = [np.array([k not in held_out(list(r.shape_key)) for k in r.shape_key]) for r in rows_list]
    # Dense kernels also get the per-K latency t_k (fit_k0 marks them: the tables span K widely).
    names = ["e_mem", "e_mma", "t_min_s"] + (["k0", "t_k_s"] if fit_k0 else [])

    def unpack(x) -> GemmKernel:
        v = dict(
            e_mem=1 / (1 + math.exp(-x[0])), e_mma=1 / (1 + math.exp(-x[1])), t_min_s=math.exp(min(x[2], 0.0))
        )
        if fit_k0:
            v["k0"] = math.exp(min(x[3], 12.0))
            v["t_k_s"] = math.exp(min(x[4], 0.0))
        return replace(start, **v)

    def residuals(x, masks):
        k = unpack(x)
        return np.concatenate(
            [
                np.log(predict(r, k, m) / r.measured_s[m])
                for r, m in zip(rows_list, masks, strict=True)
                if m.any()
            ]
        )

    def logit(p):
        return math.log(p / (1 - p))

    x = np.array(
        [logit(min(start.e_mem, 0.99)), logit(min(start.e_mma, 0.99)), math.log(max(start.t_min_s, 1e-7))]
        + ([math.log(max(start.k0, 1.0)), math.log(max(start.t_k_s, 1e-10))] if fit_k0 else [])
    )
    x = _levenberg_marquardt(lambda x: residuals(x, train), x, iterations=60, h=1e-5, ridge=1e-9, tol=1e-6)
    kernel = unpack(x)
    stats = {"fitted": names}
    for label, masks in (("train", train), ("held_out", [~m for m in train])):
        err = np.concatenate(
            [
                _errors(predict(r, kernel, m), r.measured_s[m])
                for r, m in zip(rows_list, masks, strict=True)
                if m.any()
            ]
            or [np.array([])]
        )
        stats[label] = _summary(err)
    return kernel, stats


def _summary(err) -> dict:
    if len(err) == 0:
        return {"n": 0}
    a = np.abs(err)
    return {
        "n": int(len(a)),
        "median_abs_error": round(float(np.median(a)), 4),
        "max_abs_error": round(float(a.max()), 4),
    }


# --- the families -------------------------------------------------------------------------------------

FAMILY_SYSTEMS = {"hopper": ("h100_sxm", "h200_sxm"), "blackwell": ("b200_sxm", "b300_sxm", "gb200", "gb300")}


DENSE_START = {"e_mem": 0.8, "e_mma": 0.5, "t_min_s": 5e-6, "k0": 100.0, "t_k_s": 0.5e-9}


def fit_family(family: str) -> dict:
    """{(kernel, fmt): (GemmKernel, stats, measured_on)} for one family's tables."""
    systems = FAMILY_SYSTEMS.get(family, ())
    results = {}
    moe = [r for r in (moe_rows(s) for s in systems) if r is not None]
    if moe:
        best = None
        for tile in TILE_CHOICES:
            start, _ = gemm_kernel(family, "grouped", "fp8")
            k, stats = fit_kernel(moe, replace(start, tile_m=tile), fit_k0=False)
            score = stats["train"]["median_abs_error"]
            if best is None or score < best[2]:
                best = (k, stats, score)
        results[("grouped", "fp8")] = (best[0], best[1], sorted({str(h) for r in moe for h in r.hardware}))
    for fmt in ("fp8", "bf16", "fp4"):
        rows = [r for r in (gemm_rows(s, fmt) for s in systems) if r is not None]
        if not rows:
            continue
        # A fixed start, not the shipped values: the fit must not depend on the profile it rewrites
        # (from k0 ≈ 0 its log parameter has no gradient and stays stuck).
        start = replace(gemm_kernel(family, "dense", fmt)[0], **DENSE_START)
        k, stats = fit_kernel(rows, start, fit_k0=True)
        results[("dense", fmt)] = (k, stats, sorted({str(h) for r in rows for h in r.hardware}))
    attention = fit_attention_fp8(family)
    if attention is not None:
        results[("attention", "fp8")] = attention
    if family in CORE_FIT_FAMILIES:
        results[("attention_core", "bf16")] = fit_attention_core(family, "bf16")
    comm = fit_comm_nvlink(family)
    if comm is not None:
        results[("comm", "ll_nvlink")] = comm
    from afdscope.calibration.fit_allreduce import fit_allreduce

    all_reduce = fit_allreduce(family)
    if all_reduce is not None:
        results[("comm", "all_reduce")] = all_reduce
    return results


def _entry_yaml(k: GemmKernel, stats: dict, measured_on: list, source: str) -> dict:
    return {
        "e_mem": round(k.e_mem, 4),
        "e_mma": round(k.e_mma, 4),
        "tile_m": k.tile_m,
        "t_min_us": round(k.t_min_s * 1e6, 3),
        "k0": round(k.k0, 1),
        "overlap_p": k.overlap_p,
        **({"t_k_ns": round(k.t_k_s * 1e9, 4)} if k.t_k_s else {}),
        "measured_on": measured_on,
        "source": source,
        "fit": stats,
    }


def _family(hw_name: str) -> str:
    """The calibration family of a catalog device (its YAML's `calibration_profile`)."""
    from afdscope.calibration.profiles import family_of

    return family_of(_hw(hw_name))


def _nvlink_design(family: str):
    """(X, measured, tokens, hardware) of a family's NVLink-only DeepEP low-latency calls, dispatch and
    combine: time = α + bytes-at-peak-bandwidth / e_bw, linear in (1, the peak-bandwidth time)."""
    from afdscope.catalog.model_catalog import load_model
    from afdscope.ops.comm import DEFAULT_COMM, deepep_low_latency_rows, ep_comm

    v3 = load_model("deepseek-v3")
    ideal = replace(DEFAULT_COMM, latency_nvlink_s=0.0, latency_rdma_s=0.0, nvlink_from_profile=False)
    rows = [
        r for r in deepep_low_latency_rows(v3) if r["tier"] == "nvlink" and _family(r["hardware"]) == family
    ]
    x, y, tok, hws = [], [], [], []
    for r in rows:
        hw = _hw(r["hardware"])
        c = ep_comm(v3, hw, float(r["tokens"]), r["ep"], ideal)
        # The bandwidth term at the peak scale-up bandwidth (ep_comm charged the sustained fraction).
        for t, meas in ((c.dispatch_s, r["dispatch_s"]), (c.combine_s, r["combine_s"])):
            x.append((1.0, float(t) * hw.sustained.scale_up))
            y.append(meas)
            tok.append(r["tokens"])
            hws.append(r["hardware"])
    return np.array(x), np.array(y), np.array(tok), hws


def fit_comm_nvlink(family: str) -> tuple[dict, dict, list] | None:
    """α and e_bw of the NVLink-only low-latency all-to-all, least squares on relative error over the
    training token counts (every 4th token count held out, as the GEMM fits hold out shapes)."""
    x, y, tok, hws = _nvlink_design(family)
    if not len(y):
        return None
    train = np.array([t not in held_out(sorted(set(tok.tolist()))) for t in tok])
    w = 1.0 / y
    coef, *_ = np.linalg.lstsq(x[train] * w[train, None], y[train] * w[train], rcond=None)
    values = {"alpha_us": round(float(coef[0]) * 1e6, 3), "e_bw": round(1.0 / float(coef[1]), 4)}
    pred = x @ np.array([values["alpha_us"] * 1e-6, 1.0 / values["e_bw"]])
    stats = {
        "fitted": ["alpha_us", "e_bw"],
        "train": _summary(pred[train] / y[train] - 1),
        "held_out": _summary(pred[~train] / y[~train] - 1),
    }
    return values, stats, sorted(set(hws))


def fit_all(write: bool = False, families=("hopper", "blackwell")) -> dict:
    """Refit every family with tables; with `write`, rewrite calibration/profiles/<family>.yaml."""
    report = {}
    for family in families:
        results = fit_family(family)
        report[family] = results
        if not write or not results:
            continue
        data = load_profile(family)
        for (kernel, fmt), (k, stats, measured_on) in results.items():
            if kernel == "comm":
                old = data.setdefault("comm", {}).get(fmt, {})
                data["comm"][fmt] = k | {
                    "measured_on": measured_on,
                    "source": old.get("source", ""),
                    "fit": stats,
                }
                continue
            if kernel == "attention_core":  # the core terms of an entry whose other values are copied
                entry = data["attention"][fmt]
                entry.update({key: round(val, 4) for key, val in k.items()})
                entry["fit"] = stats
                entry["core_measured_on"] = measured_on
                continue
            if kernel == "attention":
                old = data["attention"].get(fmt, {})
                data["attention"][fmt] = {key: round(val, 4) for key, val in k.items()} | {
                    "measured_on": measured_on,
                    "source": old.get("source", ""),
                    "fit": stats,
                }
                continue
            old = data["gemm"][kernel].get(fmt, {})
            data["gemm"][kernel][fmt] = _entry_yaml(k, stats, measured_on, old.get("source", ""))
        _write_profile(family, data)
    return report


def _write_profile(family: str, data: dict) -> None:
    """Rewrite calibration/profiles/<family>.yaml with `data` (keeping its `#` header lines) and clear every
    cache that read the profiles."""
    from afdscope.calibration.profiles import attention_entry, comm_entry, small_ops_entry

    path = Path(str(_profiles_dir() / f"{family}.yaml"))
    header = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    atomic_write(path, "\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False, width=110))
    for cached in (load_profile, gemm_kernel, attention_entry, small_ops_entry, comm_entry, _error_table):
        cached.cache_clear()


def main() -> None:  # python -m afdscope.calibration.fit
    if not (resources.files(__package__) / "measured").is_dir():
        raise AfdscopeError("no calibration/measured tables; run `make calibration-data` first")
    for family, results in fit_all(write=True).items():
        for (kernel, fmt), (k, stats, _) in results.items():
            print(family, kernel, fmt, k, stats)


# --- the error table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorRow:
    operator: str
    hardware: str
    source: str
    n: int
    median_abs_error: float
    max_abs_error: float
    profile: str
    status: str  # measured (held-out shapes of the GPU's own table), inherited (transfer, all rows), check
    # (every row of a table the entry was not fitted on), preset

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _error_row(operator: str, hardware: str, source: str, abs_err, profile: str, status: str) -> ErrorRow:
    """An ErrorRow from the absolute relative errors of its rows (median and worst, 4 decimals)."""
    a = np.asarray(abs_err, dtype=float)
    return ErrorRow(
        operator,
        hardware,
        source,
        int(len(a)),
        round(float(np.median(a)), 4),
        round(float(a.max()), 4),
        profile,
        status,
    )


def _table_rows(rows: Rows, kernel_name: str, transfer: bool) -> list[ErrorRow]:
    mask = (
        np.ones(len(rows.measured_s), bool)
        if transfer
        else np.array([k in held_out(list(rows.shape_key)) for k in rows.shape_key])
    )
    out = []
    for hw_name in sorted({str(h) for h in rows.hardware[mask]}):
        sel = mask & (rows.hardware == hw_name)
        hw = _hw(hw_name)
        from afdscope.calibration.profiles import family_of

        kernel, use = gemm_kernel(family_of(hw), kernel_name, rows.fmt, hw_name)
        err = np.abs(_errors(predict(rows, kernel, sel), rows.measured_s[sel]))
        out.append(_error_row(rows.operator, hw_name, rows.source, err, use.profile, use.status))
    return out


def error_table() -> list[ErrorRow]:
    """One row per (operator, hardware, source): held-out error of the shipped profiles on each GPU's own
    table, and transfer error (every row) on public tables of GPUs without tables of their own. Computed
    once per process (the tables and profiles it reads only change through `fit_all`/`fit_ascend`, which
    clear it)."""
    return list(_error_table())


@functools.cache
def _error_table() -> tuple[ErrorRow, ...]:
    from afdscope.calibration.fit_allreduce import allreduce_error_rows

    table: list[ErrorRow] = []
    for system in SYSTEMS:
        moe = moe_rows(system)
        if moe is not None:
            table += _table_rows(moe, "grouped", transfer=False)
        for fmt in ("fp8", "bf16", "fp4"):
            g = gemm_rows(system, fmt)
            if g is not None:
                table += _table_rows(replace(g, operator=f"gemm_{fmt}"), "dense", transfer=False)
    table += _table_rows(deepgemm_rows("grouped_masked"), "grouped", transfer=True)
    table += _table_rows(deepgemm_rows("dense"), "dense", transfer=True)
    for kernel in ("masked", "masked_swapab"):
        table += _table_rows(deepgemm_h20_rows(kernel), "grouped", transfer=True)
    return tuple(
        table
        + mla_error_rows()
        + mla_core_error_rows()
        + attention_layer_error_rows()
        + deepep_error_rows()
        + allreduce_error_rows()
        + [ascend_comm_error_row()]
    )


MLA_SOURCES = {
    "sglang": "aiconfigurator mla_decode.csv (SGLang module, eager)",
    "trtllm": "aiconfigurator mla_decode.csv (TRT-LLM module; KV length = step)",
}


def mla_rows(system: str, framework: str = "sglang") -> Rows | None:
    """MLA decode-module rows with FP8 KV and DeepGEMM-style FP8 projections; num_heads = 128 / attention TP.
    SGLang's table leaves out the q_a / kv_a down-projection; TRT-LLM's times the whole module."""
    rows = [
        r
        for r in _measured(system, "mla_decode")
        if r["framework"] == framework and r["kv_cache_dtype"] == "fp8" and r["gemm_dtype"] == "fp8_block"
    ]
    if not rows:
        return None
    return Rows(
        operator=f"mla_module_{framework}",
        source=MLA_SOURCES[framework],
        fmt="fp8",
        hardware=np.array([SYSTEMS[system]] * len(rows)),
        inputs={
            k: np.array([float(r[c]) for r in rows])
            for k, c in (("heads", "num_heads"), ("batch", "batch_size"), ("kv", "kv_len"))
        },
        measured_s=np.array([float(r["latency_us"]) * 1e-6 for r in rows]),
        shape_key=np.array([int(r["num_heads"]) for r in rows]),
    )


MLA_TERMS = ("kv", "mma", "proj_bytes", "proj_flops", "small", "scan", "rows", "heads")


def mla_terms(rows: Rows) -> dict[str, np.ndarray]:
    """Per row, the attention operator's terms at unit efficiencies (ops.attention's equation): KV read
    (one pass), core MMA (unpadded; _core_s pads it), projection weight read and projection MMAs (seconds
    at peak), small ops (seconds), query heads per GPU, attended tokens (for the per-request scan floor)
    and query rows / peak bandwidth (for the per-row traffic). At TP = 128 / heads, without the TP
    all-reduce (not in the module) and, for SGLang's table, without the q_a / kv_a down-projection (not
    timed)."""
    from afdscope.catalog.model_catalog import load_model
    from afdscope.ops.attention import DEFAULT_ATTENTION, attention_layer_parts, mean_attended_tokens
    from afdscope.specs.scenario import Precision

    prec = Precision(weights="fp8", kv="fp8", attention="fp8")  # the tables: FP8 KV, block-FP8 GEMMs
    v3 = load_model("deepseek-v3")
    a = v3.attention
    unit = replace(
        DEFAULT_ATTENTION,
        hbm_efficiency=1.0,
        compute_efficiency=1.0,
        projection_efficiency=1.0,
        overhead_s=0.0,
        from_profile=False,
        head_tile=1,
    )
    down = v3.hidden_size * ((a.q_lora_rank or 0) + a.kv_lora_rank + a.qk_rope_head_dim)
    out = {k: np.zeros(len(rows.measured_s)) for k in MLA_TERMS}
    for name in sorted({str(h) for h in rows.hardware}):
        hw = _hw(name)
        f_gemm = hw.peak_flops("fp8")
        for heads in sorted(set(rows.inputs["heads"])):
            sel = (rows.hardware == name) & (rows.inputs["heads"] == heads)
            tp = int(128 // heads)
            batch, kv = rows.inputs["batch"][sel], rows.inputs["kv"][sel]
            p = attention_layer_parts(v3, hw, batch / tp, kv, prec, tp=tp, calibration=unit)
            timed = 1 - down / a.params_per_gpu(v3.hidden_size, tp) if rows.operator.endswith("sglang") else 1
            out["kv"][sel], out["mma"][sel] = p.kv_read_s, p.core_math_s
            out["proj_bytes"][sel] = p.projection_weight_bytes * timed / hw.hbm_bandwidth
            out["proj_flops"][sel] = p.projection_flops * timed / f_gemm
            out["small"][sel] = p.small_ops_s
            out["scan"][sel] = mean_attended_tokens(v3, kv)
            out["rows"][sel] = batch / hw.hbm_bandwidth
            out["heads"][sel] = heads
    return out


def _core_s(kv_s, mma_s, attended_tokens, heads, v: dict) -> np.ndarray:
    """ops.attention's core from unit-efficiency terms (one KV pass) and the profile entry `v` (soft maxima
    p = 2; `heads` query heads per GPU for the entry's KV passes)."""
    from afdscope.ops.attention import core_row_padding, kv_passes
    from afdscope.ops.experts import soft_max

    pass_heads, max_heads = int(v.get("kv_pass_heads", 0)), int(v.get("kv_pass_max_heads", 0))
    passes = kv_passes(heads, pass_heads, max_heads)
    kv_s = kv_s * (1 + v.get("kv_repass_share", 0.0) * (passes - 1))
    tile = int(v.get("head_tile", ATTENTION_HEAD_TILE))
    mma_s = mma_s * core_row_padding(heads, 1, tile, pass_heads, max_heads)
    core = soft_max(kv_s / v["hbm_efficiency"], mma_s / v["compute_efficiency"], 2.0)
    return soft_max(core, attended_tokens * v.get("scan_ns_per_token", 0.0) * 1e-9, 2.0)


def _attention_predict(t: dict[str, np.ndarray], v: dict) -> np.ndarray:
    """ops.attention's equation on `mla_terms` with the profile entry `v` (overlaps p = 2, q as the entry)."""
    from afdscope.ops.experts import soft_max

    core = _core_s(t["kv"], t["mma"], t["scan"], t["heads"], v)
    e_pc = v.get("projection_compute_efficiency") or v["projection_efficiency"]
    q = float(v.get("projection_overlap", math.inf))
    proj = soft_max(t["proj_bytes"] / v["projection_efficiency"], t["proj_flops"] / e_pc, q)
    extra = t["rows"] * v.get("extra_bytes_per_token", 0.0)
    return core + proj + t["small"] + extra + v["overhead_us"] * 1e-6


def _mla_subset(t: dict[str, np.ndarray], sel) -> dict[str, np.ndarray]:
    return {k: x[sel] for k, x in t.items()}


def predict_mla(rows: Rows, family: str | None = None) -> np.ndarray:
    """The attention operator with the profile's FP8-KV entry of each row's GPU."""
    from afdscope.calibration.profiles import attention_entry, family_of

    out = np.empty(len(rows.measured_s))
    terms = mla_terms(rows)
    for name in sorted({str(h) for h in rows.hardware}):
        sel = rows.hardware == name
        entry, _ = attention_entry(family or family_of(_hw(name)), "fp8", name)
        out[sel] = _attention_predict(_mla_subset(terms, sel), entry)
    return out


# Hopper WGMMA M; SM100's wide MLA decode kernel also tiles 64 query heads (its low-latency one 16: KV_PASSES)
ATTENTION_HEAD_TILE = 64
PROJECTION_OVERLAP = 2.0  # soft knee between the projections' weight reads and MMAs, not fitted
FP8_ATTENTION_FITTED = (
    "hbm_efficiency",
    "compute_efficiency",
    "projection_efficiency",
    "projection_compute_efficiency",
    "overhead_us",
    "extra_bytes_per_token",
)
_FP8_EFFICIENCIES = FP8_ATTENTION_FITTED[:4]  # capped at 1 (the fractions of a peak)
# Values of the FP8 entries taken from the kernel-only fit (fit_attention_core), where the family has them.
FROM_KERNEL_TABLE = ("scan_ns_per_token", "kv_repass_share", "kv_pass_heads", "kv_pass_max_heads")


# The FP8 entries are fitted on TRT-LLM's MLA decode-module tables: its attention kernel reads FP8 KV natively
# and the table reaches the KV-bound regime (batch x KV up to 16.7 M tokens; SGLang's stops at 262 k, where
# the KV term is barely identifiable). aiconfigurator's kernel-level tables (generation_mla_perf, b = 64,
# 131,071 KV tokens, 16 heads, H100) show why SGLang's Hopper table cannot stand for FP8 attention: FA3 with
# FP8 KV takes 17.3 ms against 3.2 ms with BF16 KV, TRT-LLM's FP8 kernel 1.67 ms against 3.1 ms (0.86 of
# peak HBM on 576 B per token). SGLang's module tables are reported as a check (error_table).
FP8_ATTENTION_FRAMEWORK = "trtllm"


def fit_attention_fp8(family: str) -> tuple[dict, dict, list] | None:
    """FP8 attention (FP8 KV, FP8 MMAs): every value of ops.attention's equation but the structural ones
    (head tile 64, KV passes, overlaps p = q = 2) and those taken from the kernel-only table
    (FROM_KERNEL_TABLE), fitted on the family's TRT-LLM MLA decode-module tables (FP8_ATTENTION_FRAMEWORK)
    by least squares on log(predicted / measured); every 4th head count (i.e.
    attention-TP degree) held out. Efficiencies are capped at 1 (a capped one is not limiting on these
    shapes). The per-request scan floor and the repeated-pass share are the kernel-only FP8 table's
    (fit_attention_core): the module tables stop at 16,384 tokens, where a lone request's scan hides under
    the module's fixed time, and the pass share is a property of the core kernel alone."""
    core = fit_attention_core(family, "fp8")[0]
    from_core = {k: core[k] for k in FROM_KERNEL_TABLE if k in core}
    tables = (mla_rows(s, FP8_ATTENTION_FRAMEWORK) for s in FAMILY_SYSTEMS.get(family, ()))
    rows = [r for r in tables if r is not None]
    if not rows:
        return None
    parts = [mla_terms(r) for r in rows]
    terms = {k: np.concatenate([p[k] for p in parts]) for k in MLA_TERMS}
    meas = np.concatenate([r.measured_s for r in rows])
    held = np.concatenate([np.array([k in held_out(list(r.shape_key)) for k in r.shape_key]) for r in rows])

    def values(x):
        v = {k: float(math.exp(min(xi, 30.0))) for k, xi in zip(FP8_ATTENTION_FITTED, x, strict=True)}
        fixed = from_core | {"projection_overlap": PROJECTION_OVERLAP}
        return v | {k: min(v[k], 1.0) for k in _FP8_EFFICIENCIES} | fixed

    train = ~held
    t_train = _mla_subset(terms, train)
    x = _levenberg_marquardt(
        lambda x: np.log(_attention_predict(t_train, values(x)) / meas[train]),
        np.log([0.5, 0.5, 0.6, 0.4, 20.0, 1000.0]),
        iterations=300,
        h=1e-6,
        ridge=1e-12,
        tol=1e-9,
    )
    v = {k: round(val, 4) for k, val in values(x).items()} | {"head_tile": ATTENTION_HEAD_TILE}
    err = _attention_predict(terms, v) / meas - 1
    stats = {
        "fitted": list(FP8_ATTENTION_FITTED),
        "from_kernel_table": f"{', '.join(from_core)}: fit_attention_core on the kernel-only FP8 table "
        "(mla_core.csv)",
        "train": _summary(err[train]),
        "held_out": _summary(err[held]),
    }
    return v, stats, sorted({str(h) for r in rows for h in r.hardware})


# --- the attention kernel alone (calibration/measured/<system>/mla_core.csv) ------------------------------

MLA_CORE_KV = {"bf16": "bfloat16", "fp8": "fp8"}
# Families whose BF16 attention entry has no layer table of its own (its projections and fixed term are
# copied from hopper's): the core terms are fitted on the family's TRT-LLM kernel table instead.
CORE_FIT_FAMILIES = ("blackwell",)
CORE_MIN_TOKENS = 65536  # batch x KV tokens below which the KV-dependent part is within the kernel's noise
CORE_FITTED = ("hbm_efficiency", "compute_efficiency", "scan_ns_per_token")


def mla_core_rows(system: str, kv: str, framework: str = "trtllm") -> dict[str, np.ndarray] | None:
    """The attention kernel's KV-dependent part per row: measured(KV) − measured(KV = 1) for the same heads
    and batch, with the operator's unit-efficiency core terms at both lengths (suffix 1 and 0; DeepSeek-V3,
    TP = 128 / heads), rows with batch x KV >= CORE_MIN_TOKENS. A row more than twice as slow as the same
    heads and batch at the next longer KV is a timing glitch and dropped (one: H100, FP8, 32 heads, batch
    16, 16,383 tokens, 1,425 µs against 129 µs at 32,767)."""
    from afdscope.catalog.model_catalog import load_model
    from afdscope.ops.attention import DEFAULT_ATTENTION, attention_layer_parts, mean_attended_tokens
    from afdscope.specs.scenario import Precision

    rows = [r for r in _measured(system, "mla_core") if r["framework"] == framework]
    rows = [r for r in rows if r["kv_cache_dtype"] == MLA_CORE_KV[kv]]
    if not rows:
        return None
    base = {(r["num_heads"], r["batch_size"]): float(r["latency_us"]) for r in rows if r["kv_len"] == "1"}
    series: dict[tuple, list[tuple[int, float]]] = {}
    for r in rows:
        series.setdefault((r["num_heads"], r["batch_size"]), []).append(
            (int(r["kv_len"]), float(r["latency_us"]))
        )
    glitch = {
        (key, a[0])
        for key, points in series.items()
        for a, b in itertools.pairwise(sorted(points))
        if a[1] > 2 * b[1]
    }
    keep = [
        r
        for r in rows
        if (r["num_heads"], r["batch_size"]) in base
        and int(r["kv_len"]) >= 2
        and int(r["batch_size"]) * int(r["kv_len"]) >= CORE_MIN_TOKENS
        and ((r["num_heads"], r["batch_size"]), int(r["kv_len"])) not in glitch
    ]
    heads, batch, length = (
        np.array([float(r[c]) for r in keep]) for c in ("num_heads", "batch_size", "kv_len")
    )
    base_s = np.array([base[(r["num_heads"], r["batch_size"])] for r in keep])
    v3, hw = load_model("deepseek-v3"), _hw(SYSTEMS[system])
    prec = Precision(weights="fp8", kv=kv, attention=kv)
    unit = replace(
        DEFAULT_ATTENTION, hbm_efficiency=1.0, compute_efficiency=1.0, from_profile=False, head_tile=1
    )
    out = {k: np.zeros(len(keep)) for k in ("kv0", "kv1", "mma0", "mma1", "scan0", "scan1")}
    for h in sorted(set(heads)):
        sel, tp = heads == h, int(128 // h)
        for suffix, ctx in (("0", np.ones(int(sel.sum()))), ("1", length[sel])):
            p = attention_layer_parts(v3, hw, batch[sel] / tp, ctx, prec, tp=tp, calibration=unit)
            out["kv" + suffix][sel], out["mma" + suffix][sel] = p.kv_read_s, p.core_math_s
            out["scan" + suffix][sel] = mean_attended_tokens(v3, ctx)
    measured = (np.array([float(r["latency_us"]) for r in keep]) - base_s) * 1e-6
    return out | {"heads": heads, "batch": batch, "length": length, "measured": measured}


def predict_core_delta(t: dict[str, np.ndarray], v: dict) -> np.ndarray:
    """ops.attention's core at the row's KV length minus at KV = 1, with entry `v`."""
    h = t["heads"]
    return _core_s(t["kv1"], t["mma1"], t["scan1"], h, v) - _core_s(t["kv0"], t["mma0"], t["scan0"], h, v)


# The family's decode kernels that stream the KV once per group of query heads (ops.attention.kv_passes):
# TRT-LLM's SM100 swap-AB MLA kernel, 16 heads per CTA, chosen for <= 32 heads (fmhaKernels.h). Hopper's
# kernels measure the same time at 16 and 32 heads (mla_core.csv), i.e. one pass.
KV_PASSES = {"blackwell": {"kv_pass_heads": 16, "kv_pass_max_heads": 32}}


def fit_attention_core(family: str, kv: str) -> tuple[dict, dict, list]:
    """The core terms (KV efficiency, MMA efficiency, per-request scan floor and, where the family's kernel
    passes over the KV more than once (KV_PASSES), the share a further pass costs) on the family's TRT-LLM
    kernel tables' KV-dependent parts; the 64-head rows held out. Efficiencies capped at 1."""
    tables = {s: mla_core_rows(s, kv) for s in FAMILY_SYSTEMS[family]}
    systems = [s for s, rows in tables.items() if rows is not None]
    t = {k: np.concatenate([tables[s][k] for s in systems]) for k in tables[systems[0]]}
    held = t["heads"] == 64
    passes = KV_PASSES.get(family, {})
    fitted = CORE_FITTED + (("kv_repass_share",) if passes else ())

    def values(x):
        e = np.minimum(np.exp(x), 1.0)
        v = {
            "hbm_efficiency": float(e[0]),
            "compute_efficiency": float(e[1]),
            "scan_ns_per_token": float(np.exp(x[2])),
        }
        return v | ({"kv_repass_share": float(np.exp(x[3]))} | passes if passes else {})

    train = {k: a[~held] for k, a in t.items()}
    x = _levenberg_marquardt(
        lambda x: np.log(np.maximum(predict_core_delta(train, values(x)), 1e-12) / train["measured"]),
        np.log([0.8, 0.6, 1.0, 0.5][: len(fitted)]),
        iterations=300,
        h=1e-6,
        ridge=1e-12,
        tol=1e-10,
    )
    v = values(x)
    err = predict_core_delta(t, v) / t["measured"] - 1
    stats = {"fitted": list(fitted), "train": _summary(err[~held]), "held_out": _summary(err[held])}
    return v, stats, [SYSTEMS[s] for s in systems]


def mla_core_error_rows() -> list[ErrorRow]:
    """Each attention entry's core against the TRT-LLM kernel tables (KV-dependent part; rows of batch x KV
    >= CORE_MIN_TOKENS): held-out heads where the entry's core was fitted on them, every row otherwise."""
    from afdscope.calibration.profiles import attention_entry, family_of

    out = []
    for system in SYSTEMS:
        hw = _hw(SYSTEMS[system])
        for kv in MLA_CORE_KV:
            t = mla_core_rows(system, kv)
            if t is None:
                continue
            entry, use = attention_entry(family_of(hw), kv, hw.name)
            fitted = hw.name in entry.get("core_measured_on", ())
            sel = t["heads"] == 64 if fitted else np.ones(len(t["measured"]), bool)
            err = np.abs(predict_core_delta(t, entry)[sel] / t["measured"][sel] - 1)
            status = "measured" if fitted else "check"
            source = (
                f"measured/{system}/mla_core.csv (TRT-LLM kernel, {MLA_CORE_KV[kv]} KV, KV-dependent part)"
            )
            out.append(_error_row(f"mla_core_{kv}", SYSTEMS[system], source, err, use.profile, status))
    return out


def mla_error_rows() -> list[ErrorRow]:
    """The attention operator against both MLA decode-module tables of every GPU: held-out head counts (TP
    degrees) of TRT-LLM's, which the FP8 entries are fitted on (operator `mla_module`), and every row of
    SGLang's (`mla_module_check`: another framework's module and, on Hopper, another FP8 kernel)."""
    from afdscope.calibration.profiles import attention_entry, family_of

    out = []
    for system in SYSTEMS:
        hw = _hw(SYSTEMS[system])
        family = family_of(hw)
        _, use = attention_entry(family, "fp8", hw.name)
        for framework in MLA_SOURCES:
            rows = mla_rows(system, framework)
            if rows is None:
                continue
            fitted = framework == FP8_ATTENTION_FRAMEWORK
            h = held_out(list(rows.shape_key))
            sel = (
                np.array([k in h for k in rows.shape_key]) if fitted else np.ones(len(rows.measured_s), bool)
            )
            err = np.abs(predict_mla(rows)[sel] / rows.measured_s[sel] - 1)
            operator = "mla_module" if fitted else "mla_module_check"
            status = use.status if fitted else "check"
            out.append(_error_row(operator, SYSTEMS[system], rows.source, err, use.profile, status))
    return out


def attention_layer_error_rows() -> list[ErrorRow]:
    """The attention operator (BF16 entries) against Step-3's 16 layer times (H800, H20, A800; the table the
    entry was fitted on, so all rows, no hold-out: an in-sample check)."""
    from afdscope.calibration.profiles import attention_entry, family_of
    from afdscope.catalog.model_catalog import load_model
    from afdscope.ops.attention import (
        DEFAULT_ATTENTION,
        MICROBENCH_BATCH_PER_GPU,
        attention_layer_time_s,
        load_attention_microbench,
        microbench_precision,
    )

    rows = load_attention_microbench()
    out = []
    for name in sorted({r["hardware_key"] for r in rows}):
        hw = _hw(name)
        err = np.array(
            [
                abs(
                    float(
                        attention_layer_time_s(
                            load_model(r["model_key"]),
                            hw,
                            MICROBENCH_BATCH_PER_GPU,
                            r["context_tokens"],
                            microbench_precision(hw),
                            calibration=DEFAULT_ATTENTION,
                        )
                    )
                    / (r["layer_us"] * 1e-6)
                    - 1
                )
                for r in rows
                if r["hardware_key"] == name
            ]
        )
        _, use = attention_entry(family_of(hw), "bf16", name)
        out.append(
            _error_row("attention_layer", name, "Step-3 Table 9 (in-sample)", err, use.profile, use.status)
        )
    return out


def deepep_error_rows() -> list[ErrorRow]:
    """ops.comm (DEFAULT_COMM, α per tier) against the DeepEP low-latency tables at DeepSeek-V3's shape,
    per (GPU, tier), dispatch and combine pooled. In-sample: α is fitted on these rows (ops.comm)."""
    from afdscope.catalog.model_catalog import load_model
    from afdscope.ops.comm import DEFAULT_COMM, deepep_low_latency_rows, ep_comm

    v3 = load_model("deepseek-v3")
    rows = deepep_low_latency_rows(v3)
    out = []
    for hw_name, tier in sorted({(r["hardware"], r["tier"]) for r in rows}):
        sel = [r for r in rows if r["hardware"] == hw_name and r["tier"] == tier]
        hw = _hw(hw_name)
        if tier == "nvlink":
            # The profile's α and e_bw were fitted with every 4th token count held out: report those.
            held = held_out(
                sorted(
                    {
                        r["tokens"]
                        for r in rows
                        if r["tier"] == "nvlink" and _family(r["hardware"]) == _family(hw_name)
                    }
                )
            )
            sel = [r for r in sel if r["tokens"] in held] or sel
        err = []
        for r in sel:
            c = ep_comm(v3, hw, r["tokens"], r["ep"], DEFAULT_COMM)
            err += [float(c.dispatch_s) / r["dispatch_s"] - 1, float(c.combine_s) / r["combine_s"] - 1]
        out.append(
            _error_row(
                f"deepep_ll_{tier}",
                hw_name,
                f"{sel[0]['source']} " + ("(held-out token counts)" if tier == "nvlink" else "(in-sample α)"),
                np.abs(err),
                f"{_family(hw_name)}/comm.ll_nvlink" if tier == "nvlink" else "ops.comm.DEFAULT_COMM",
                "measured" if tier == "nvlink" else "preset",
            )
        )
    return out


# --- Ascend: public kernel-level figures ------------------------------------------------------------

ASCEND_HARDWARE = "ascend-910c"
# hopper/attention.bf16 keys the ascend entry keeps (no public Ascend kernel figure measures them)
ASCEND_ATTENTION_INHERITED = ("hbm_efficiency", "projection_efficiency", "overhead_us")


def ascend_kernel_rows() -> list[dict[str, str]]:
    """calibration/public/ascend_kernels.csv: one public kernel-level Ascend figure per row, with source."""
    rows = _read(resources.files(__package__) / "public" / "ascend_kernels.csv")
    for r in rows:
        if not r.get("source"):
            raise AfdscopeError(f"ascend_kernels.csv: row {r.get('kernel')!r} has no source")
    return rows


# afd_transfer.csv rows that time one scale-up all-to-all kernel on CloudMatrix384 (per NPU = 2 dies), with
# the call that reproduces them: CloudMatrix-Infer's EP256 dispatch/combine at 128 tokens per die,
# xDeepServe's AFD A2E/E2A with 480 attention + 288 expert dies at 96 tokens per attention die. xDeepServe's
# colocated EP288 rows (averages over heavy stragglers; the validation case xds-colocated-ep288) are not used.
ASCEND_COMM_ROWS = {
    ("CloudMatrix-Infer", "EP dispatch"): ("ep", "dispatch"),
    ("CloudMatrix-Infer", "EP combine"): ("ep", "combine"),
    ("xDeepServe", "A2E (attention->experts)"): ("afd", "dispatch"),
    ("xDeepServe", "E2A (experts->attention)"): ("afd", "combine"),
}


def ascend_comm_terms() -> tuple[np.ndarray, np.ndarray]:
    """(seconds each row's bytes take at the peak UB bandwidth, measured seconds) for ASCEND_COMM_ROWS."""
    from afdscope.calibration import read_table
    from afdscope.catalog.model_catalog import load_model
    from afdscope.ops.comm import DEFAULT_COMM, afd_comm, ep_comm

    r1, hw = load_model("deepseek-r1"), _hw(ASCEND_HARDWARE)
    peak = hw.model_copy(update={"sustained": hw.sustained.model_copy(update={"scale_up": 1.0})})
    bare = replace(DEFAULT_COMM, latency_nvlink_s=0.0, latency_rdma_s=0.0, nvlink_from_profile=False)
    calls = {"ep": ep_comm(r1, peak, 256, 128, bare), "afd": afd_comm(r1, peak, peak, 192, 240, 144, bare)}
    table = read_table("afd_transfer.csv")
    measured = {(r["system"], r["pattern"]): float(r["latency_us"]) * 1e-6 for r in table}
    tau = [float(getattr(calls[c], f"{d}_s")) for c, d in ASCEND_COMM_ROWS.values()]
    return np.array(tau), np.array([measured[key] for key in ASCEND_COMM_ROWS])


def _ub_all_to_all_s(tau, alpha_us: float, e_bw: float) -> np.ndarray:
    """t = α + bytes / (UB peak · e_bw), with `tau` the bytes' time at the peak."""
    return alpha_us * 1e-6 + tau / e_bw


def fit_ascend_comm() -> tuple[dict, dict, list]:
    """α and e_bw of CloudMatrix384's scale-up (UB) all-to-all, t = α + bytes / (UB peak · e_bw), least
    squares on log(predicted / measured) over the four kernel-level rows (e_bw capped at 1). Too few rows to
    hold any out: the error is in-sample."""
    tau, meas = ascend_comm_terms()

    def predict(x):
        return _ub_all_to_all_s(tau, math.exp(x[0]) * 1e6, min(math.exp(x[1]), 1.0))

    start = np.log([50e-6, 0.5])
    x = _levenberg_marquardt(lambda x: np.log(predict(x) / meas), start, 200, h=1e-7, ridge=1e-12, tol=1e-10)
    values = {"alpha_us": round(math.exp(x[0]) * 1e6, 3), "e_bw": round(min(math.exp(x[1]), 1.0), 4)}
    err = _ub_all_to_all_s(tau, values["alpha_us"], values["e_bw"]) / meas - 1
    stats = {"fitted": ["alpha_us", "e_bw"], "train": _summary(err), "held_out": {"n": 0}}
    return values, stats, [ASCEND_HARDWARE]


def ascend_comm_error_row() -> ErrorRow:
    """The shipped ascend/comm.ll_nvlink against its four rows (in-sample)."""
    from afdscope.calibration.profiles import comm_entry

    tau, meas = ascend_comm_terms()
    entry, use = comm_entry("ascend", "ll_nvlink", ASCEND_HARDWARE)
    err = np.abs(_ub_all_to_all_s(tau, entry["alpha_us"], entry["e_bw"]) / meas - 1)
    source = "afd_transfer.csv: CloudMatrix-Infer EP, xDeepServe A2E/E2A (in-sample)"
    return _error_row("ub_all_to_all", ASCEND_HARDWARE, source, err, use.profile, use.status)


def fit_ascend(write: bool = False) -> dict:
    """The ascend profile entries that public kernel figures determine, {(kernel, fmt): (values, stats,
    measured_on)}; with `write`, rewrite them into calibration/profiles/ascend.yaml.

    attention.bf16.compute_efficiency = AMLA's achieved MLA-decode rate (a Cube-bound shape, so the core
    MMA term alone) / the catalog's BF16 peak of ascend-910c. One figure sets one value: the residual is 0
    by construction and nothing is held out. The entry's other values are hopper/attention.bf16's, copied
    (no Ascend figure measures them). GEMM entries and small_ops have no public kernel figure here and stay
    inherited (no entry written). Nothing is fitted to end-to-end throughput."""
    rows = [r for r in ascend_kernel_rows() if r["used_for"] == "attention.bf16.compute_efficiency"]
    if len(rows) != 1 or rows[0]["quantity"] != "achieved_tflops":
        raise AfdscopeError("ascend_kernels.csv: expected one achieved_tflops row for attention.bf16")
    peak = _hw(ASCEND_HARDWARE).peak_flops("bf16")
    e_core = float(rows[0]["value"]) * 1e12 / peak
    hopper = load_profile("hopper")["attention"]["bf16"]
    values = {k: hopper[k] for k in ASCEND_ATTENTION_INHERITED} | {"compute_efficiency": round(e_core, 4)}
    order = ("hbm_efficiency", "compute_efficiency", "projection_efficiency", "overhead_us")
    values = {k: values[k] for k in order}
    stats = {
        "fitted": ["compute_efficiency"],
        "inherited_from_hopper": list(ASCEND_ATTENTION_INHERITED),
        "train": {"n": 1, "median_abs_error": 0.0, "max_abs_error": 0.0},
        "held_out": {"n": 0},
    }
    results = {
        ("attention", "bf16"): (values, stats, [ASCEND_HARDWARE]),
        ("comm", "ll_nvlink"): fit_ascend_comm(),
    }
    if write:
        data = load_profile("ascend")
        comm, comm_stats, comm_on = results[("comm", "ll_nvlink")]
        old_comm = (data.get("comm") or {}).get("ll_nvlink", {})
        data.setdefault("comm", {})["ll_nvlink"] = comm | {
            "measured_on": comm_on,
            "source": old_comm.get("source", ""),
            "fit": comm_stats,
        }
        old = (data.get("attention") or {}).get("bf16", {})
        data.setdefault("attention", {})["bf16"] = values | {
            "measured_on": [ASCEND_HARDWARE],
            "source": old.get("source", ""),
            "fit": stats | {k: v for k, v in old.get("fit", {}).items() if k == "note"},
        }
        _write_profile("ascend", data)
    return results


if __name__ == "__main__":
    main()
