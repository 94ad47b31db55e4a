"""`make bench`: speed of the paper analyses and of CLI start-up. Prints medians; asserts nothing.

Targets (issue 2): the 48-cell matrix with N_F swept 1..64 under 50 ms of compute; `afdscope --help`
under 0.3 s.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from imbalance_bench import imbalance_rows
from sim_bench import sim_rows
from timing import median_s

from afdscope.catalog.hardware_catalog import PAPER_HARDWARE, load_hardware
from afdscope.catalog.model_catalog import PAPER_MODELS, load_model
from afdscope.paper.ceiling import hfu_matrix
from afdscope.paper.ffn_rank import RankProblem, rank_curve
from afdscope.paper.imbalance import imbalance_grid
from afdscope.paper.options import PaperOptions


def main() -> None:
    options = PaperOptions()
    models = [load_model(m) for m in PAPER_MODELS]
    hws = [load_hardware(h, "paper") for h in PAPER_HARDWARE]
    n_f = np.arange(1, 65)

    rows = [
        (
            "matrix: 8 GPUs × 6 models × N_F 1..64 (hfu_matrix)",
            median_s(lambda: hfu_matrix(models, hws, options), 50),
        ),
        (
            "curve: 1 cell × N_F 1..64 (rank_curve)",
            median_s(lambda: rank_curve(RankProblem.single(models[0], hws[3]), n_f, options), 200),
        ),
        ("imbalance: Fig. 6 grid, 204 points", median_s(imbalance_grid, 50)),
        ("catalog: parse 14 models + 13 GPUs (cache cleared)", median_s(_cold_catalog, 5)),
    ]
    rows += _deploy_rows()
    rows += _search_rows()
    rows += imbalance_rows()
    rows += sim_rows()
    cli = [str(Path(sys.executable).parent / "afdscope"), "--help"]
    rows.append(
        (
            "afdscope --help (process start-up)",
            median_s(lambda: subprocess.run(cli, capture_output=True, check=True), 10),
        )
    )
    width = max(len(name) for name, _ in rows)
    print("afdscope benchmarks (median wall time)")
    for name, t in rows:
        print(f"  {name:<{width}}  {t * 1e3:9.3f} ms")
    grid = _DEPLOY_GRID
    for label, t in rows:
        if label.startswith("eval"):
            print(f"  {label.split(':')[0]}: {grid / t:,.0f} deployment evaluations per second")


def _search_rows():
    from afdscope.afd_map import afd_ep_map, axis
    from afdscope.search import Constraint, search
    from afdscope.specs.scenario import Scenario

    model, hw, scenario = load_model("deepseek-v3"), load_hardware("h800"), Scenario(context_tokens=4096)
    configs = search(model, scenario, Constraint(tpot_slo_s=0.05), [hw]).evaluated
    t_search = median_s(lambda: search(model, scenario, Constraint(tpot_slo_s=0.05), [hw]), 5)
    x, y = axis("scale-out-bandwidth"), axis("scale-up-bandwidth")
    xs, ys = x.values(*x.default_range, 64), y.values(*y.default_range, 64)
    t_map = median_s(lambda: afd_ep_map(model, hw, scenario, 0.05, x, y, xs, ys), 3)
    cli = [
        str(Path(sys.executable).parent / "afdscope"),
        "search",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--context",
        "4096",
        "--tpot-slo-ms",
        "50",
    ]
    t_cli = median_s(lambda: subprocess.run(cli, capture_output=True, check=True), 3)
    print(f"  (search: {configs:,} configurations, {configs / t_search:,.0f} per second)")
    return [
        ("search: deepseek-v3 × h800, 4096 ctx, 50 ms (library)", t_search),
        ("search: the same as `afdscope search` (whole process)", t_cli),
        ("map: 64 × 64, scale-out × scale-up bandwidth", t_map),
    ]


# Batch × context grid per GPU count; GPU counts loop (memory and expert placement are per count).
_BATCHES = np.arange(1, 257)
_CONTEXTS = np.array([1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072])
_GPU_COUNTS = (16, 32, 64, 128, 144, 256)
_DEPLOY_GRID = len(_BATCHES) * len(_CONTEXTS) * len(_GPU_COUNTS)


def _deploy_rows():
    from afdscope.deploy.afd import evaluate_afd
    from afdscope.deploy.ep import evaluate_ep
    from afdscope.specs.scenario import Scenario

    model = load_model("deepseek-v3")
    hw = load_hardware("h800")
    scenario = Scenario(context_tokens=4096)
    b, c = _BATCHES[:, None], _CONTEXTS[None, :]

    def ep():
        for g in _GPU_COUNTS:
            _ = evaluate_ep(model, hw, scenario, g, b, context_tokens=c).tokens_per_s_per_gpu

    def afd():
        for g in _GPU_COUNTS:
            _ = evaluate_afd(
                model, hw, hw, scenario, g, g // 2 // 8 * 8 or 8, 3, b, context_tokens=c
            ).tokens_per_s_per_gpu

    return [
        (f"eval ep: {_DEPLOY_GRID} configs (batch × context × GPUs)", median_s(ep, 10)),
        (f"eval afd: {_DEPLOY_GRID} configs (batch × context × GPUs)", median_s(afd, 10)),
    ]


def _cold_catalog() -> None:
    from afdscope.catalog import hardware_catalog, model_catalog

    hardware_catalog._load_packaged.cache_clear()
    model_catalog._load_catalog.cache_clear()
    for m in model_catalog.list_models():
        model_catalog.load_model(m)
    for h in hardware_catalog.list_hardware():
        hardware_catalog.load_hardware(h)


if __name__ == "__main__":
    main()
