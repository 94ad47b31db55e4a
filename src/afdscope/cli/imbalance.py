"""`afdscope imbalance`: routing imbalance from expert popularity (σ, EPLB, the evaluator's load factors).

The checks, the popularity parsing and the printed record are `afdscope.routing.request`'s; this command
maps the request's fields to its flags.
"""

from __future__ import annotations

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


def register(app: typer.Typer) -> None:
    app.command("imbalance")(imbalance_cmd)


# The request's fields as this command's flags, for the library's error messages.
FLAGS = {
    "tokens": "--tokens",
    "draws": "--draws",
    "redundant": "--redundant",
    "mode": "--mode",
    "gpus": "--gpus",
    "ffn_gpus": "--ffn-gpus",
    "gpus_per_node": "--gpus-per-node",
    "alpha": "--alpha",
    "popularity": "--popularity",
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
    from afdscope.routing.request import check_replicas, expert_gpus, imbalance_summary, popularity_named

    finite("--alpha", alpha)
    n_expert_gpus = expert_gpus(tokens, draws, redundant, mode.value, gpus, ffn_gpus, gpus_per_node, FLAGS)
    m = load_model(model)
    check_replicas(m.n_routed_experts, redundant, n_expert_gpus, FLAGS)
    pop, a = popularity_named(popularity, alpha, m.n_routed_experts, FLAGS)
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
    out = imbalance_summary(
        m,
        pop,
        a,
        stats,
        mode=mode.value,
        gpus=gpus,
        ffn_gpus=ffn_gpus,
        gpus_per_node=gpus_per_node,
        tokens=tokens,
        draws=draws,
        seed=seed,
        redundant=redundant,
        group_limited=group_limited,
        weights=weights.value,
    )
    if fmt is Fmt.json:
        print(to_json(out))
    elif fmt is Fmt.csv:
        print_rows([out], "csv")
    else:
        where = f"EP {gpus}" if mode is RoutingModeOpt.ep else f"AFD, {ffn_gpus} FFN GPUs"
        title = f"{m.name}: routing imbalance, {where}, {tokens} tokens/layer"
        print_rows([{"field": k, "value": v} for k, v in out.items()], "table", title)
