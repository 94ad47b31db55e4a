"""`afdscope imbalance`: routing imbalance from expert popularity (σ, EPLB, the evaluator's load factors).

The argument checks, the popularity parsing and the summary dict below are routing logic that belongs in
the library (`afdscope.routing`: e.g. `routing/request.py` building a checked request and its summary);
they stay here until that room is free to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from afdscope.cli.common import finite
from afdscope.cli.options import (
    Fmt,
    FormatOpt,
    ModelOpt,
    RoutingMethodOpt,
    RoutingModeOpt,
    WeightsOpt,
    WOpt,
)
from afdscope.errors import AfdscopeError


def register(app: typer.Typer) -> None:
    app.command("imbalance")(imbalance_cmd)


def _expert_gpus(tokens, draws, redundant, mode, gpus, ffn_gpus, gpus_per_node) -> int:
    """The GPUs holding the experts, after checking the counts the user gave."""
    if tokens < 1:
        raise AfdscopeError(f"--tokens {tokens}: give the tokens entering one MoE layer (>= 1)")
    if not 1 <= draws <= 1_000_000:
        raise AfdscopeError(f"--draws {draws}: give 1 to 1,000,000 Monte Carlo draws")
    if redundant < 0:
        raise AfdscopeError(f"--redundant {redundant}: give 0 (no EPLB) or more redundant expert slots")
    if mode is RoutingModeOpt.ep:
        if gpus is None or ffn_gpus is not None:
            raise AfdscopeError("--mode ep needs --gpus N (the EP group size) and no --ffn-gpus")
        expert_gpus, flag = gpus, "--gpus"
    else:
        if ffn_gpus is None or gpus is not None:
            raise AfdscopeError("--mode afd needs --ffn-gpus F (the GPUs holding the experts) and no --gpus")
        expert_gpus, flag = ffn_gpus, "--ffn-gpus"
    if expert_gpus < 1:
        raise AfdscopeError(f"{flag} {expert_gpus}: give at least 1 GPU")
    if gpus_per_node < 1:
        raise AfdscopeError(f"--gpus-per-node {gpus_per_node}: give at least 1")
    return expert_gpus


def _check_replicas(n_experts: int, redundant: int, expert_gpus: int) -> None:
    """EPLB slots must split evenly over the expert GPUs; suggest the nearest counts that do."""
    if redundant and (n_experts + redundant) % expert_gpus:
        lower = redundant - (n_experts + redundant) % expert_gpus
        near = " or ".join(f"--redundant {r}" for r in (lower, lower + expert_gpus) if r > 0)
        raise AfdscopeError(
            f"--redundant {redundant}: {n_experts} + {redundant} expert slots do not split evenly over "
            f"{expert_gpus} GPUs; use {near}"
        )


def _popularity(popularity: str, alpha: float | None, n_experts: int):
    """(Popularity, exponent or None) from --popularity and --alpha."""
    from afdscope.routing import Popularity

    kind = popularity.strip().lower().replace("_", "-")
    if kind in ("power-law", "powerlaw", "zipf"):
        a = 1.01 if alpha is None else alpha
        if not 0 <= a <= 10:
            raise AfdscopeError(f"--alpha {a:g}: give an exponent in [0, 10] (1.01 DeepSeek-V3, 1.2 Qwen3)")
        pop = Popularity.zipf(n_experts, a) if kind == "zipf" else Popularity.power_law(n_experts, a)
        return pop, a
    if alpha is not None:
        raise AfdscopeError(f"--alpha applies to --popularity power-law or zipf, not '{popularity}'")
    if kind == "uniform":
        return Popularity.uniform(n_experts), None
    if kind.endswith(".csv") or Path(popularity).expanduser().exists():
        return Popularity.from_csv(popularity, n_experts), None
    raise AfdscopeError(
        f"--popularity '{popularity}': use uniform, power-law, zipf, or a path to a CSV of expert counts"
    )


def _summary(
    m,
    pop,
    a,
    stats,
    *,
    mode,
    gpus,
    ffn_gpus,
    gpus_per_node,
    tokens,
    draws,
    seed,
    redundant,
    group_limited,
    weights,
) -> dict:
    """The printed record: inputs, σ statistics, load factors and the EPLB memory cost."""
    from afdscope.routing import busiest_rank_load_factors
    from afdscope.specs.scenario import DTYPE_BYTES

    expert_f, comm_f = busiest_rank_load_factors(stats)
    grouped = bool(group_limited and (m.n_group or 1) > 1 and (m.topk_group or 0) < m.n_group)
    return {
        "model": m.name,
        "mode": mode.value,
        "gpus": gpus,
        "ffn_gpus": ffn_gpus,
        "gpus_per_node": gpus_per_node if mode is RoutingModeOpt.afd else None,
        "tokens": tokens,
        "draws": draws,
        "seed": seed,
        "method": stats.method,
        "popularity": pop.name,
        "alpha": a,
        "group_limited": grouped,
        "redundant": redundant,
        "placement": stats.placement.kind,
        "expert_slots_per_gpu": stats.placement.slots_per_gpu,
        "hottest_expert_over_mean": pop.hottest_over_mean(m.top_k),
        "top20_share": pop.top_share(0.2, m.top_k),
        **stats.summary(),
        "expert_load_factor": expert_f,
        "comm_load_factor": comm_f,
        "eplb_extra_slots_per_gpu": stats.placement.extra_slots_per_gpu,
        "eplb_memory_gb_per_gpu": stats.placement.memory_cost_bytes(m, DTYPE_BYTES[weights.value]) / 1e9,
    }


def imbalance_cmd(
    model: ModelOpt,
    tokens: Annotated[
        int, typer.Option("--tokens", help="Tokens entering one MoE layer (whole EP group, one micro-batch).")
    ],
    gpus: Annotated[int | None, typer.Option("--gpus", help="EP group size (--mode ep).")] = None,
    popularity: Annotated[
        str, typer.Option("--popularity", help="uniform, power-law, zipf, or a CSV of per-expert counts.")
    ] = "power-law",
    alpha: Annotated[
        float | None, typer.Option("--alpha", help="Power-law / Zipf exponent (default 1.01: DeepSeek-V3).")
    ] = None,
    redundant: Annotated[int, typer.Option("--redundant", help="EPLB redundant expert slots (0: none).")] = 0,
    mode: Annotated[RoutingModeOpt, typer.Option("--mode", help="ep or afd.")] = RoutingModeOpt.ep,
    ffn_gpus: Annotated[int | None, typer.Option("--ffn-gpus", help="Expert GPUs (--mode afd).")] = None,
    gpus_per_node: Annotated[
        int, typer.Option("--gpus-per-node", help="FFN GPUs per node: AFD sends a token once per node.")
    ] = 8,
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws (MoE layers × steps).")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    method: Annotated[
        RoutingMethodOpt, typer.Option("--method", help="exact (per token), counts (per expert) or auto.")
    ] = RoutingMethodOpt.auto,
    group_limited: Annotated[
        bool, typer.Option("--group-limited/--no-group-limited", help="DeepSeek-style group-limited routing.")
    ] = True,
    weights: WOpt = WeightsOpt.fp8,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Routing imbalance from expert popularity: σ = mean/max per layer, EPLB, and the load factors
    the evaluator takes.

    Example: afdscope imbalance --model deepseek-v3 --gpus 64 --tokens 8192 --alpha 1.01 --redundant 64
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.report.output import print_rows, to_json
    from afdscope.routing import simulate_routing

    finite("--alpha", alpha)
    expert_gpus = _expert_gpus(tokens, draws, redundant, mode, gpus, ffn_gpus, gpus_per_node)
    m = load_model(model)
    _check_replicas(m.n_routed_experts, redundant, expert_gpus)
    pop, a = _popularity(popularity, alpha, m.n_routed_experts)
    stats = simulate_routing(
        m,
        pop,
        tokens,
        draws,
        gpus=gpus,
        ffn_gpus=ffn_gpus,
        mode=mode.value,
        redundant=redundant,
        group_limited=group_limited,
        seed=seed,
        gpus_per_node=gpus_per_node,
        method=method.value,
    )
    out = _summary(
        m,
        pop,
        a,
        stats,
        mode=mode,
        gpus=gpus,
        ffn_gpus=ffn_gpus,
        gpus_per_node=gpus_per_node,
        tokens=tokens,
        draws=draws,
        seed=seed,
        redundant=redundant,
        group_limited=group_limited,
        weights=weights,
    )
    if fmt is Fmt.json:
        print(to_json(out))
    elif fmt is Fmt.csv:
        print_rows([out], "csv")
    else:
        where = f"EP {gpus}" if mode is RoutingModeOpt.ep else f"AFD, {ffn_gpus} FFN GPUs"
        title = f"{m.name}: routing imbalance, {where}, {tokens} tokens/layer"
        print_rows([{"field": k, "value": v} for k, v in out.items()], "table", title)
