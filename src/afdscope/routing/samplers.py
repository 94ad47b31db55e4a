"""The two routing samplers behind afdscope.routing.sampling (docs/imbalance.md):

* "exact": every token picks exactly K distinct experts with inclusion probabilities exactly π, by
  systematic sampling in a random per-token order (group-limited: first `topk_group` groups, then experts
  inside them; where a group's pick rate is capped, a token may take K ± 1, K on average).
  O(T·N log N) per draw.
* "counts": per-expert counts ~ Binomial(T, π_e), independently; group-limited routing in two stages
  (tokens choosing group g ~ Binomial(T, ρ_g), then Binomial(T_g, π_e/ρ_g)). Exact marginals per expert;
  it drops the exactly-K-per-token coupling, which inflates a GPU's count variance by ≈ 1/(1 − f) for a
  GPU holding a share f of the load — but max/mean divides by the realised mean, whose own noise takes
  the same (1 − f) back, so max/mean matches the exact sampler to ≈ 1 % (tests/test_routing_sampling.py).
  AFD node dedup treats a slot's tokens as a random subset, which undercounts node copies by 4–7 %.
  O(N) per draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.routing.placement import Placement

# Counts sampler: draws per chunk, so arrays stay near this many expert cells.
_CHUNK_CELLS = 2**21


@dataclass(frozen=True)
class _Layout:
    """Everything about one routing problem that does not change between draws."""

    n: int
    k: int
    pi: np.ndarray  # inclusion probabilities, popularity index space
    shuffle: bool  # ranks → expert ids by a random permutation per draw
    groups: int  # 1 when routing is not group-limited
    topk_group: int
    placement: Placement
    pop_space: bool  # placement indexes popularity ranks (EPLB of a ranked popularity), not expert ids
    node_of_gpu: np.ndarray  # AFD: FFN node of each GPU; EP: each GPU its own endpoint
    nodes: int
    dedup: bool  # AFD: a token sends one copy per node it touches


def _group_inclusion(mass: np.ndarray, floor: np.ndarray, k: int) -> np.ndarray:
    """ρ_g = clip(λ·Π_g, floor_g, 1) with Σ_g ρ_g = k per row: a token picks k groups, each in proportion
    to the inclusion mass Π_g of its experts, at least as often as its hottest expert is picked.

    Where the hottest experts of more than k groups add up to over k picks, no group choice can meet them:
    the floors shrink in proportion to sum to k, and those experts get less than their share."""
    total = floor.sum(-1, keepdims=True)
    floor = np.where(total > k, floor * k / np.maximum(total, 1e-300), floor)
    if np.any((mass > 0).sum(-1) < k):
        raise AfdscopeError(f"fewer than topk_group = {k} groups hold experts with a non-zero share")
    lo = np.zeros(mass.shape[:-1])
    hi = 1.0 / np.min(np.where(mass > 0, mass, np.inf), axis=-1)  # every group with mass saturated
    for _ in range(60):  # bisection on λ: Σ clip(λ·Π, floor, 1) is non-decreasing in λ
        mid = 0.5 * (lo + hi)
        over = np.clip(mid[..., None] * mass, floor, 1.0).sum(-1) > k
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    return np.clip(0.5 * (lo + hi)[..., None] * mass, floor, 1.0)


def _draw_pi(rng, lay: _Layout, d: int):
    """Inclusion probabilities by expert id for d draws, and the permutation (rank of expert e) used."""
    if not lay.shuffle:
        return np.broadcast_to(lay.pi, (d, lay.n)), None
    perm = np.argsort(rng.random((d, lay.n)), axis=1)  # perm[d, e]: popularity rank on expert id e
    return lay.pi[perm], perm


def _to_space(x: np.ndarray, perm, lay: _Layout) -> np.ndarray:
    """Per-expert values by id → the placement's index space (popularity rank under a shuffled EPLB)."""
    if not lay.pop_space:
        return x
    out = np.empty_like(x)
    np.put_along_axis(out, perm, x, axis=1)
    return out


def _route_counts(rng, lay: _Layout, tokens: np.ndarray) -> dict:
    chunk = max(1, _CHUNK_CELLS // (lay.n + lay.placement.slot_expert.size))
    parts = [_counts_chunk(rng, lay, tokens[i : i + chunk]) for i in range(0, tokens.size, chunk)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _counts_chunk(rng, lay: _Layout, t: np.ndarray) -> dict:
    d, gs = t.size, lay.n // lay.groups
    pi_id, perm = _draw_pi(rng, lay, d)
    tn = t.astype(np.int64)
    if lay.groups > 1:
        rho = _group_inclusion(
            pi_id.reshape(d, lay.groups, gs).sum(-1), pi_id.reshape(d, lay.groups, gs).max(-1), lay.topk_group
        )
        t_group = rng.binomial(tn[:, None], rho)  # tokens choosing each group
        rho_e = np.repeat(rho, gs, axis=1)
        a = np.divide(pi_id, rho_e, out=np.zeros_like(rho_e), where=rho_e > 0)
        counts = rng.binomial(np.repeat(t_group, gs, axis=1), np.minimum(a, 1.0))
    else:
        t_group = None
        counts = rng.binomial(tn[:, None], pi_id)
    counts = _to_space(counts.astype(float), perm, lay)
    expected = _to_space(np.array(pi_id, dtype=float), perm, lay)
    return _reduce_counts(lay, counts, t.astype(float), t_group, perm, expected)


def _reduce_counts(lay: _Layout, counts, t, t_group, perm, expected) -> dict:
    pl = lay.placement
    e, share = pl._slots()
    ed, j, distinct = pl._distinct_slots()
    per_slot = counts[:, e]  # (d, gpus, slots)
    slot_load = per_slot * share
    gpu = slot_load.sum(-1)
    hits = ((per_slot > j) & distinct).sum(-1)
    out = {
        "tokens_max": gpu.max(-1),
        "tokens_mean": gpu.mean(-1),
        "distinct_max": hits.max(-1).astype(float),
        "expected_sigma": pl.expected_sigma(expected),
    }
    if not lay.dedup:
        out["copies_max"], out["copies_mean"] = out["tokens_max"], out["tokens_mean"]
        return out
    copies = _node_copies(lay, slot_load, t, t_group, perm)
    out["copies_max"], out["copies_mean"] = copies.max(-1), copies.mean(-1)
    return out


def _node_copies(lay: _Layout, slot_load, t, t_group, perm) -> np.ndarray:
    """Tokens touching each FFN node, under the counts sampler's independence: given a slot's count c
    out of the T_g tokens that could pick it, its tokens are a random c-subset; the union over a node's
    slots (then over groups, chosen independently) has size T_g·(1 − Π(1 − c/T_g))."""
    d = slot_load.shape[0]
    node = np.broadcast_to(lay.node_of_gpu[:, None], lay.placement.slot_expert.shape)
    if lay.groups == 1:
        log_miss = np.log1p(-np.minimum(slot_load / t[:, None, None], 1 - 1e-15))
        flat = np.arange(d)[:, None, None] * lay.nodes + node[None]
        per_node = np.bincount(flat.ravel(), weights=log_miss.ravel(), minlength=d * lay.nodes)
        return t[:, None] * -np.expm1(per_node.reshape(d, lay.nodes))
    gs = lay.n // lay.groups
    e, _ = lay.placement._slots()
    group_id = np.arange(lay.n) // gs  # by expert id
    if lay.pop_space:  # slot experts are ranks: their group is that of the id the rank landed on
        rank_group = np.empty_like(perm)
        np.put_along_axis(rank_group, perm, np.broadcast_to(group_id, perm.shape), axis=1)
        slot_group = rank_group[:, e]
    else:
        slot_group = np.broadcast_to(group_id[e], (d, *e.shape))
    tg = np.take_along_axis(t_group.astype(float), slot_group.reshape(d, -1), axis=1).reshape(slot_load.shape)
    x = np.divide(slot_load, tg, out=np.zeros_like(slot_load), where=tg > 0)
    log_miss = np.log1p(-np.minimum(x, 1 - 1e-15))
    flat = (np.arange(d)[:, None, None] * lay.nodes + node[None]) * lay.groups + slot_group
    bins = np.bincount(flat.ravel(), weights=log_miss.ravel(), minlength=d * lay.nodes * lay.groups)
    touched = t_group[:, None, :] * -np.expm1(bins.reshape(d, lay.nodes, lay.groups))  # U_{n,g}
    return t[:, None] * -np.expm1(np.log1p(-np.minimum(touched / t[:, None, None], 1 - 1e-15)).sum(-1))


def _systematic(rng, masses: np.ndarray) -> np.ndarray:
    """Rows of inclusion masses (each ≤ 1, row sum S) → a boolean pick of ⌊S⌋ or ⌈S⌉ columns (exactly S
    when S is an integer) with P(pick j) = masses[j] exactly: systematic sampling in a random order."""
    order = np.argsort(rng.random(masses.shape), axis=1)
    cum = np.cumsum(np.take_along_axis(masses, order, axis=1), axis=1)
    u = 1.0 - rng.random((masses.shape[0], 1))  # (0, 1]
    hi = np.floor(cum - u)
    lo = np.concatenate([np.full_like(u, -1.0), hi[:, :-1]], axis=1)
    picked = np.empty(masses.shape, dtype=bool)
    np.put_along_axis(picked, order, hi > lo, axis=1)
    return picked


def _route_exact(rng, lay: _Layout, tokens: np.ndarray) -> dict:
    pl = lay.placement
    e, _ = pl._slots()
    ed, j, distinct = pl._distinct_slots()
    empty = pl.slot_expert < 0
    gs = lay.n // lay.groups
    node_slots = np.broadcast_to(lay.node_of_gpu[:, None], e.shape).ravel()
    same_expert = (ed[:, :, None] == ed[:, None, :]) & ~empty[:, None, :]  # (gpus, slots, slots)
    replicated = bool(np.any(pl.replicas > 1))
    rows = {k: [] for k in ("tokens_max", "tokens_mean", "distinct_max", "copies_max", "copies_mean")}
    expected = []
    for t in tokens.astype(int):
        pi_id, perm = _draw_pi(rng, lay, 1)
        pi_id = pi_id[0]
        if lay.groups > 1:
            mass = pi_id.reshape(lay.groups, gs)
            rho = _group_inclusion(mass.sum(-1)[None], mass.max(-1)[None], lay.topk_group)[0]
            chosen = _systematic(rng, np.broadcast_to(rho, (t, lay.groups)))
            a = np.divide(pi_id, np.repeat(rho, gs), out=np.zeros(lay.n), where=np.repeat(rho, gs) > 0)
            masses = np.repeat(chosen, gs, axis=1) * np.minimum(a, 1.0)
        else:
            masses = np.broadcast_to(pi_id, (t, lay.n))
        picks = _to_space(_systematic(rng, masses), perm, lay)  # (t, n) in the placement's space
        expected.append(pl.expected_sigma(_to_space(pi_id[None], perm, lay))[0])
        # A replicated expert's token goes to one of its copies, uniformly.
        on_slot = picks[:, e] & ~empty  # (t, gpus, slots)
        if replicated:  # a replicated expert's tokens go round-robin to its copies: an even split
            replica = (np.cumsum(picks, axis=0) - 1) % pl.replicas
            on_slot &= replica[:, e] == j
        gpu = on_slot.sum((0, 2))
        hit = on_slot.any(0)
        # Distinct experts per GPU: any copy of the expert on that GPU was hit.
        hit_expert = distinct & (same_expert & hit[:, None, :]).any(-1)
        rows["tokens_max"].append(gpu.max())
        rows["tokens_mean"].append(gpu.mean())
        rows["distinct_max"].append(hit_expert.sum(-1).max())
        if lay.dedup:
            touched = np.zeros((t, lay.nodes), dtype=bool)
            flat = on_slot.reshape(t, -1)
            for n_ in range(lay.nodes):
                touched[:, n_] = flat[:, node_slots == n_].any(1)
            copies = touched.sum(0)
        else:
            copies = gpu
        rows["copies_max"].append(copies.max())
        rows["copies_mean"].append(copies.mean())
    out = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    out["expected_sigma"] = np.asarray(expected, dtype=float)
    return out
