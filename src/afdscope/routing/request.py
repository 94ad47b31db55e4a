"""One routing-imbalance request (what `afdscope imbalance` asks): its counts checked, the expert
popularity named by a word or a CSV, and the record it prints (inputs, σ statistics, load factors, the
EPLB memory cost).

Errors name the request's fields; a caller that takes them from flags passes `names` (field → flag) so
the message names what the user typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from afdscope.errors import AfdscopeError

FIELDS = ("tokens", "draws", "redundant", "mode", "gpus", "ffn_gpus", "gpus_per_node", "alpha", "popularity")
FIELD_NAMES: dict[str, str] = {f: f for f in FIELDS}
# Power-law exponent when none is given: DeepSeek-V3's fit.
DEFAULT_ALPHA = 1.01


def expert_gpus(
    tokens, draws, redundant, mode: str, gpus, ffn_gpus, gpus_per_node, names: Mapping = FIELD_NAMES
) -> int:
    """The GPUs holding the experts (`gpus` under EP, `ffn_gpus` under AFD), after checking the counts."""
    n = names
    if tokens < 1:
        raise AfdscopeError(f"{n['tokens']} {tokens}: give the tokens entering one MoE layer (>= 1)")
    if not 1 <= draws <= 1_000_000:
        raise AfdscopeError(f"{n['draws']} {draws}: give 1 to 1,000,000 Monte Carlo draws")
    if redundant < 0:
        raise AfdscopeError(f"{n['redundant']} {redundant}: give 0 (no EPLB) or more redundant expert slots")
    if mode == "ep":
        if gpus is None or ffn_gpus is not None:
            raise AfdscopeError(
                f"{n['mode']} ep needs {n['gpus']} N (the EP group size) and no {n['ffn_gpus']}"
            )
        count, name = gpus, n["gpus"]
    else:
        if ffn_gpus is None or gpus is not None:
            raise AfdscopeError(
                f"{n['mode']} afd needs {n['ffn_gpus']} F (the GPUs holding the experts) and no {n['gpus']}"
            )
        count, name = ffn_gpus, n["ffn_gpus"]
    if count < 1:
        raise AfdscopeError(f"{name} {count}: give at least 1 GPU")
    if gpus_per_node < 1:
        raise AfdscopeError(f"{n['gpus_per_node']} {gpus_per_node}: give at least 1")
    return count


def check_replicas(n_experts: int, redundant: int, expert_gpus: int, names: Mapping = FIELD_NAMES) -> None:
    """EPLB slots must split evenly over the expert GPUs; suggest the nearest counts that do."""
    if redundant and (n_experts + redundant) % expert_gpus:
        flag = names["redundant"]
        lower = redundant - (n_experts + redundant) % expert_gpus
        near = " or ".join(f"{flag} {r}" for r in (lower, lower + expert_gpus) if r > 0)
        raise AfdscopeError(
            f"{flag} {redundant}: {n_experts} + {redundant} expert slots do not split evenly over "
            f"{expert_gpus} GPUs; use {near}"
        )


def popularity_named(popularity: str, alpha: float | None, n_experts: int, names: Mapping = FIELD_NAMES):
    """(Popularity, exponent or None) from a word (uniform, power-law, zipf) or a CSV of expert counts."""
    from afdscope.routing.popularity import Popularity

    n = names
    kind = popularity.strip().lower().replace("_", "-")
    if kind in ("power-law", "powerlaw", "zipf"):
        a = DEFAULT_ALPHA if alpha is None else alpha
        if not 0 <= a <= 10:
            raise AfdscopeError(
                f"{n['alpha']} {a:g}: give an exponent in [0, 10] (1.01 DeepSeek-V3, 1.2 Qwen3)"
            )
        pop = Popularity.zipf(n_experts, a) if kind == "zipf" else Popularity.power_law(n_experts, a)
        return pop, a
    if alpha is not None:
        raise AfdscopeError(
            f"{n['alpha']} applies to {n['popularity']} power-law or zipf, not '{popularity}'"
        )
    if kind == "uniform":
        return Popularity.uniform(n_experts), None
    if kind.endswith(".csv") or Path(popularity).expanduser().exists():
        return Popularity.from_csv(popularity, n_experts), None
    raise AfdscopeError(
        f"{n['popularity']} '{popularity}': use uniform, power-law, zipf, or a path to a CSV of expert counts"
    )


def imbalance_summary(
    m, pop, a, stats, *, mode: str, gpus, ffn_gpus, gpus_per_node, tokens, draws, seed, redundant,
    group_limited, weights: str,
) -> dict:  # fmt: skip
    """The printed record: inputs, σ statistics, load factors and the EPLB memory cost."""
    from afdscope.routing.statistics import busiest_rank_load_factors
    from afdscope.specs.scenario import DTYPE_BYTES

    expert_f, comm_f = busiest_rank_load_factors(stats)
    grouped = bool(group_limited and (m.n_group or 1) > 1 and (m.topk_group or 0) < m.n_group)
    return {
        "model": m.name,
        "mode": mode,
        "gpus": gpus,
        "ffn_gpus": ffn_gpus,
        "gpus_per_node": gpus_per_node if mode == "afd" else None,
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
        "eplb_memory_gb_per_gpu": stats.placement.memory_cost_bytes(m, DTYPE_BYTES[weights]) / 1e9,
    }
