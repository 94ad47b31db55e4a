"""`make bench`: speed of the paper analyses, evaluators, search, simulator, validation and CLI start-up.

Prints every figure, writes them with the machine's facts to benchmarks/results.json (or $BENCH_OUT), and
exits with status 1 when a target of benchmarks/targets.py (the README's "Speed targets") is missed, naming
each miss and by how much. Figures are medians of repeated runs on a possibly shared machine.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import imbalance_bench
import numpy as np
import sim_bench
from targets import TARGETS, Target
from timing import Figure, median_s

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.json"
CLI = str(Path(sys.executable).parent / "afdscope")

# Batch × context grid per GPU count; GPU counts loop (memory and expert placement are per count).
_BATCHES = np.arange(1, 257)
_CONTEXTS = np.array([1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072])
_GPU_COUNTS = (16, 32, 64, 128, 144, 256)
_DEPLOY_GRID = len(_BATCHES) * len(_CONTEXTS) * len(_GPU_COUNTS)


def _cli_s(args: list[str], repeat: int) -> float:
    return median_s(lambda: subprocess.run([CLI, *args], capture_output=True, check=True), repeat)


def paper_rows() -> list[Figure]:
    from afdscope.catalog.hardware_catalog import PAPER_HARDWARE, load_hardware
    from afdscope.catalog.model_catalog import PAPER_MODELS, load_model
    from afdscope.paper.ceiling import hfu_matrix
    from afdscope.paper.ffn_rank import RankProblem, rank_curve
    from afdscope.paper.imbalance import imbalance_grid
    from afdscope.paper.options import PaperOptions

    options = PaperOptions()
    models = [load_model(m) for m in PAPER_MODELS]
    hws = [load_hardware(h, "paper") for h in PAPER_HARDWARE]
    n_f = np.arange(1, 65)
    one = RankProblem.single(models[0], hws[3])
    return [
        Figure(
            "matrix",
            f"matrix: {len(hws)} GPUs × {len(models)} models × N_F 1..64 (hfu_matrix)",
            1e3 * median_s(lambda: hfu_matrix(models, hws, options), 50),
            "ms",
        ),
        Figure(
            "curve",
            "curve: 1 cell × N_F 1..64 (rank_curve)",
            1e3 * median_s(lambda: rank_curve(one, n_f, options), 200),
            "ms",
        ),
        Figure(
            "imbalance-grid", "imbalance: Fig. 6 grid, 204 points", 1e3 * median_s(imbalance_grid, 50), "ms"
        ),
        Figure(
            "catalog",
            "catalog: parse every model and GPU (cache cleared)",
            1e3 * median_s(_cold_catalog, 5),
            "ms",
        ),
    ]


def _cold_catalog() -> None:
    from afdscope.catalog import hardware_catalog, model_catalog

    hardware_catalog._load_packaged.cache_clear()
    model_catalog._load_catalog.cache_clear()
    for m in model_catalog.list_models():
        model_catalog.load_model(m)
    for h in hardware_catalog.list_hardware():
        hardware_catalog.load_hardware(h)


def deploy_rows() -> list[Figure]:
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.afd import evaluate_afd
    from afdscope.deploy.ep import evaluate_ep
    from afdscope.specs.deployment import AfdDeployment, EpDeployment
    from afdscope.specs.scenario import Scenario

    model, hw, scenario = load_model("deepseek-v3"), load_hardware("h800"), Scenario(context_tokens=4096)
    b, c = _BATCHES[:, None], _CONTEXTS[None, :]
    eps = [EpDeployment(hardware=hw, gpus=g) for g in _GPU_COUNTS]
    afds = [
        AfdDeployment(
            attention_hardware=hw,
            ffn_hardware=hw,
            attention_gpus=g,
            ffn_gpus=g // 2 // 8 * 8 or 8,
            micro_batches=3,
        )
        for g in _GPU_COUNTS
    ]

    def ep():
        for dep in eps:
            _ = evaluate_ep(model, dep, scenario, b, context_tokens=c).tokens_per_s_per_gpu

    def afd():
        for dep in afds:
            _ = evaluate_afd(model, dep, scenario, b, context_tokens=c).tokens_per_s_per_gpu

    t_ep, t_afd = median_s(ep, 10), median_s(afd, 10)
    grid = f"{_DEPLOY_GRID:,} configs (batch × context × GPUs)"
    return [
        Figure("eval-ep", f"eval ep: {grid}", 1e3 * t_ep, "ms"),
        Figure("eval-afd", f"eval afd: {grid}", 1e3 * t_afd, "ms"),
        Figure(
            "eval-ep-rate", "eval ep: deployment evaluations per second", _DEPLOY_GRID / t_ep, "evaluations/s"
        ),
        Figure(
            "eval-afd-rate",
            "eval afd: deployment evaluations per second",
            _DEPLOY_GRID / t_afd,
            "evaluations/s",
        ),
    ]


def search_rows() -> list[Figure]:
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.search import Constraint, search
    from afdscope.search.map import afd_ep_map, axis
    from afdscope.specs.scenario import Scenario

    model, hw, scenario = load_model("deepseek-v3"), load_hardware("h800"), Scenario(context_tokens=4096)
    configs = search(model, scenario, Constraint(tpot_slo_s=0.05), [hw]).evaluated
    t_search = median_s(lambda: search(model, scenario, Constraint(tpot_slo_s=0.05), [hw]), 5)
    x, y = axis("scale-out-bandwidth"), axis("scale-up-bandwidth")
    xs, ys = x.values(*x.default_range, 64), y.values(*y.default_range, 64)
    t_map = median_s(lambda: afd_ep_map(model, hw, scenario, 0.05, x, y, xs, ys), 3)
    # The search above, as the console script runs it.
    args = ["search", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096"]
    args += ["--tpot-slo-ms", "50"]
    return [
        Figure("search", "search: deepseek-v3 × h800, 4096 ctx, 50 ms (library)", t_search, "s"),
        Figure("search-rate", "search: configurations evaluated per second", configs / t_search, "configs/s"),
        Figure("search-cli", "search: the same as `afdscope search` (whole process)", _cli_s(args, 3), "s"),
        Figure("map", "map: 64 × 64, scale-out × scale-up bandwidth", 1e3 * t_map, "ms"),
    ]


def cli_rows() -> list[Figure]:
    return [
        Figure(
            "validate",
            "afdscope validate --format json (whole process)",
            _cli_s(["validate", "-f", "json"], 3),
            "s",
        ),
        Figure("help", "afdscope --help (process start-up)", 1e3 * _cli_s(["--help"], 10), "ms"),
    ]


# Each group and the figures it reports (key → unit), so a target can be checked against a benchmark without
# running anything (tests/test_bench_targets.py); main() checks each group reports exactly these.
GROUPS: dict[Callable[[], list[Figure]], dict[str, str]] = {
    paper_rows: {"matrix": "ms", "curve": "ms", "imbalance-grid": "ms", "catalog": "ms"},
    deploy_rows: {
        "eval-ep": "ms",
        "eval-afd": "ms",
        "eval-ep-rate": "evaluations/s",
        "eval-afd-rate": "evaluations/s",
    },
    search_rows: {"search": "s", "search-rate": "configs/s", "search-cli": "s", "map": "ms"},
    imbalance_bench.imbalance_rows: dict.fromkeys(imbalance_bench.KEYS, "ms"),
    sim_bench.sim_rows: {**dict.fromkeys(sim_bench.KEYS[:-1], "ms"), "sim-rate": "events/s"},
    cli_rows: {"validate": "s", "help": "ms"},
}


def declared_units() -> dict[str, str]:
    """Every benchmark key and its unit."""
    return {k: u for keys in GROUPS.values() for k, u in keys.items()}


def machine() -> dict:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "system": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "git_commit": commit,
    }


def entry(fig: Figure, target: Target | None) -> dict:
    return {
        "key": fig.key,
        "name": fig.name,
        "figure": fig.value,
        "unit": fig.unit,
        "target": None if target is None else target.limit,
        "comparison": None if target is None else target.comparison,
        "pass": None if target is None else target.met(fig.value),
    }


def _num(x: float) -> str:
    """1,234,567 for large figures, 4 significant digits for small ones (2.5, 0.0123)."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def miss_line(target: Target, figure: float) -> str:
    """'search: 2.4 s, target < 2 s: 20.0 % over' — which target is missed and by how much."""
    how = "over" if target.comparison == "<" else "short"
    return (
        f"{target.key}: {_num(figure)} {target.unit}, target {target.text}: "
        f"{target.shortfall(figure):.1%} {how} ({_num(abs(figure - target.limit))} {target.unit})"
    )


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def main() -> int:
    out = Path(os.environ.get("BENCH_OUT") or DEFAULT_OUT)
    figures: list[Figure] = []
    errors: list[dict] = []
    print("afdscope benchmarks (medians of repeated runs)")
    for group, keys in GROUPS.items():
        try:
            got = group()
        except Exception as exc:  # a broken benchmark is reported and fails the run; the others still run
            traceback.print_exc()
            errors.append({"group": group.__name__, "error": f"{type(exc).__name__}: {exc}"})
            continue
        reported = {f.key: f.unit for f in got}
        if reported != keys:
            raise SystemExit(
                f"error: {group.__name__} reported {reported}, GROUPS declares {keys}; fix GROUPS"
            )
        figures += got
        for f in got:
            print(f"  {f.name:<82} {_num(f.value):>14} {f.unit}")

    targets = {t.key: t for t in TARGETS}
    measured = {f.key: f.value for f in figures}
    misses = [
        miss_line(t, measured[t.key]) for t in TARGETS if t.key in measured and not t.met(measured[t.key])
    ]
    unmeasured = [t.key for t in TARGETS if t.key not in measured]
    doc = {
        "machine": machine(),
        "benchmarks": [entry(f, targets.get(f.key)) for f in figures],
        "errors": errors,
        "passed": not (misses or unmeasured or errors),
    }
    _write(out, doc)

    print("\nSpeed targets (benchmarks/targets.py; README.md 'Speed targets')")
    for t in TARGETS:
        if t.key in measured:
            state = "pass" if t.met(measured[t.key]) else "MISS"
            print(f"  {state}  {t.key:<14} {_num(measured[t.key]):>14} {t.unit:<14} target {t.text}")
        else:
            print(f"  ----  {t.key:<14} not measured (its benchmark failed)")
    print(f"figures written to {out}")
    for line in misses:
        print(f"missed target: {line}", file=sys.stderr)
    for e in errors:
        print(f"benchmark failed: {e['group']}: {e['error']}", file=sys.stderr)
    return 0 if doc["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
