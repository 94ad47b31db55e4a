"""Routing Monte Carlo: `draws` layers of `tokens` tokens each → per-GPU assignments, distinct experts hit,
received bytes; σ = mean/max per draw (spec beyond.md §F).

One draw stands for one (layer, step) pair: a ranked popularity's ranks land on expert ids by a fresh
random permutation per draw, so the spread over draws is the spread over layers and steps. The two
samplers ("exact" per token, "counts" per expert) are in afdscope.routing.samplers.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.routing.placement import contiguous_placement, eplb_placement
from afdscope.routing.popularity import Popularity, _check_count
from afdscope.routing.samplers import _Layout, _route_counts, _route_exact
from afdscope.routing.statistics import RoutingStats
from afdscope.specs.model import MoEModel

Mode = Literal["ep", "afd"]
Method = Literal["auto", "counts", "exact"]

# "auto" samples per token while draws × tokens × experts stays below this (≈ 0.5 s), else counts.
EXACT_CELLS = 2**23


def simulate_routing(
    model: MoEModel,
    popularity: Popularity,
    tokens,
    draws: int,
    gpus: int | None = None,
    ffn_gpus: int | None = None,
    mode: Mode = "ep",
    redundant: int = 0,
    group_limited: bool = True,
    seed: int | np.random.Generator = 0,
    *,
    eplb: bool | None = None,
    gpus_per_node: int = 8,
    method: Method = "auto",
    dispatch_bytes: float | None = None,
) -> RoutingStats:
    """Route `tokens` tokens (entering one MoE layer: the whole EP group's, or all attention GPUs' under
    AFD, for one micro-batch; an int, or one per draw) `draws` times onto the expert GPUs.

    EP: `gpus` GPUs hold the experts. AFD: `ffn_gpus` GPUs do, `gpus_per_node` to an FFN node (the unit
    of node dedup; 1 dedups per GPU). Without EPLB experts sit contiguously by id; `redundant` > 0 (or
    `eplb=True`) places them with `eplb_placement` on the expected loads. `method`: "exact" (per token),
    "counts" (per expert, fast) or "auto" (exact while draws·tokens·experts ≤ EXACT_CELLS).
    `dispatch_bytes`: per assignment (default: the calibrated FP8 dispatch of H elements)."""
    layout = _layout(model, popularity, gpus, ffn_gpus, mode, redundant, group_limited, eplb, gpus_per_node)
    _check_count(draws, "draws")
    t = _tokens(tokens, draws)
    if method not in ("auto", "counts", "exact"):
        raise AfdscopeError(f"method '{method}': use auto, counts or exact")
    if method == "auto":
        method = "exact" if draws * float(t.mean()) * layout.n <= EXACT_CELLS else "counts"
    if dispatch_bytes is None:
        from afdscope.ops.comm import DEFAULT_COMM

        dispatch_bytes = float(DEFAULT_COMM.dispatch_bytes(model.hidden_size))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    route = _route_exact if method == "exact" else _route_counts
    out = route(rng, layout, t)
    return RoutingStats(
        mode=mode,
        method=method,
        tokens=t,
        gpus=layout.placement.gpus,
        nodes=layout.nodes,
        popularity=popularity.name,
        placement=layout.placement,
        dispatch_bytes=dispatch_bytes,
        tokens_max=out["tokens_max"],
        tokens_mean=out["tokens_mean"],
        distinct_max=out["distinct_max"],
        bytes_max=out["copies_max"] * dispatch_bytes,
        bytes_mean=out["copies_mean"] * dispatch_bytes,
        expected_sigma=out["expected_sigma"],
    )


def sample_load_factors(
    model: MoEModel,
    popularity: Popularity,
    tokens_per_layer,
    draws: int | tuple[int, ...],
    gpus: int | None = None,
    ffn_gpus: int | None = None,
    mode: Mode = "ep",
    redundant: int = 0,
    group_limited: bool = True,
    seed: int | np.random.Generator = 0,
    **kwargs,
) -> tuple[np.ndarray, np.ndarray]:
    """(tokens factor, bytes factor): max/mean per draw, shaped like `draws` (e.g. (steps, layers)), for
    a simulator to pass as RoutingSkew.expert_load_factor / comm_load_factor. `tokens_per_layer` is a
    number or an array broadcastable to `draws` (rounded to whole tokens)."""
    shape = (draws,) if isinstance(draws, int | np.integer) else tuple(draws)
    n = int(np.prod(shape))
    t = np.broadcast_to(np.asarray(tokens_per_layer, dtype=float), shape).reshape(-1)
    stats = simulate_routing(
        model, popularity, t, n, gpus, ffn_gpus, mode, redundant, group_limited, seed, **kwargs
    )
    return stats.tokens_factor.reshape(shape), stats.bytes_factor.reshape(shape)


def _tokens(tokens, draws: int) -> np.ndarray:
    t = np.asarray(tokens, dtype=float)
    if t.ndim == 0:
        t = np.full(draws, float(t))
    if t.shape != (draws,) or not np.all(np.isfinite(t)) or np.any(np.round(t) < 1):
        raise AfdscopeError(f"tokens = {tokens!r}: give a whole number >= 1 (or one per draw)")
    return np.round(t)


def _layout(model, popularity, gpus, ffn_gpus, mode, redundant, group_limited, eplb, gpus_per_node):
    n, k = model.n_routed_experts, model.top_k
    if not isinstance(popularity, Popularity):
        raise AfdscopeError("popularity: give a Popularity (uniform, power_law, zipf or from_csv)")
    if popularity.n_experts != n:
        raise AfdscopeError(
            f"popularity '{popularity.name}' has {popularity.n_experts} experts, {model.name} has {n}; "
            "give one share per routed expert"
        )
    if mode == "ep":
        if gpus is None:
            raise AfdscopeError("mode 'ep' needs gpus (the EP group size)")
        expert_gpus = gpus
    elif mode == "afd":
        if ffn_gpus is None:
            raise AfdscopeError("mode 'afd' needs ffn_gpus (the GPUs holding the experts)")
        expert_gpus = ffn_gpus
        _check_count(gpus_per_node, "gpus_per_node")
    else:
        raise AfdscopeError(f"mode '{mode}': use 'ep' or 'afd'")
    _check_count(expert_gpus, "gpus" if mode == "ep" else "ffn_gpus")
    pi = popularity.inclusion(k)
    shuffle = popularity.ranked and not np.allclose(pi, pi[0])  # a uniform law has no hot ids to hide
    use_eplb = redundant > 0 if eplb is None else eplb
    if use_eplb:
        placement = eplb_placement(pi, n, expert_gpus, redundant)
    else:
        if redundant:
            raise AfdscopeError(f"redundant experts = {redundant} with eplb=False: replicas need EPLB")
        placement = contiguous_placement(n, expert_gpus)
    groups, topk_group = 1, 1
    g, tg = model.n_group, model.topk_group
    if group_limited and g and tg and g > 1 and tg < g:
        if n % g:
            raise AfdscopeError(f"{model.name}: {n} experts do not split into n_group = {g} groups")
        groups, topk_group = g, tg
    if mode == "afd":
        nodes = math.ceil(expert_gpus / gpus_per_node)
        node_of_gpu = np.arange(expert_gpus) * nodes // expert_gpus
    else:
        nodes, node_of_gpu = expert_gpus, np.arange(expert_gpus)
    return _Layout(
        n=n,
        k=k,
        pi=pi,
        shuffle=shuffle,
        groups=groups,
        topk_group=topk_group,
        placement=placement,
        pop_space=use_eplb and shuffle,
        node_of_gpu=node_of_gpu,
        nodes=nodes,
        dedup=mode == "afd",
    )
