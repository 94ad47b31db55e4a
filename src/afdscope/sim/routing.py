"""Routing skew per simulated MoE layer: the busiest expert GPU's load over the mean, drawn by
afdscope.routing's Monte Carlo router. Balanced routing needs no draws and is the default."""

from __future__ import annotations

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.sim.options import SimOptions
from afdscope.specs.model import MoEModel
from afdscope.specs.skew import RoutingSkew


def load_factors(
    model: MoEModel,
    sim: SimOptions,
    tokens_per_layer: float,
    shape: tuple[int, ...],
    seed: int,
    *,
    mode: str,
    expert_gpus: int,
    redundant: int = 0,
    gpus_per_node: int = 8,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """(expert load factor, comm load factor), flattened over `shape` (steps, MoE layers, micro-batches):
    one routing draw per layer instance, as the tokens of each micro-batch are routed afresh.
    `tokens_per_layer`: the tokens one micro-batch brings to a MoE layer (all attention GPUs / the group)."""
    if sim.routing == "balanced":
        return 1.0, 1.0
    from afdscope.routing import Popularity, sample_load_factors

    where = (
        {"gpus": expert_gpus} if mode == "ep" else {"ffn_gpus": expert_gpus, "gpus_per_node": gpus_per_node}
    )
    try:
        tokens_f, bytes_f = sample_load_factors(
            model,
            Popularity.power_law(model.n_routed_experts, sim.alpha),
            max(round(tokens_per_layer), 1),
            int(np.prod(shape)),
            mode=mode,
            redundant=redundant,
            seed=seed,
            **where,
        )
    except AfdscopeError as exc:
        # Name the routing option the imbalance model rejected (exponent, replicas, group limits).
        raise AfdscopeError(f"power-law routing, alpha {sim.alpha:g}: {exc}") from None
    # The factors are max/mean ≥ 1 by construction; clip float dust so RoutingSkew accepts them.
    return np.maximum(tokens_f, 1.0), np.maximum(bytes_f, 1.0)


def drawn_skew(base: RoutingSkew, given, expert_f, comm_f) -> RoutingSkew:
    """The skew a simulated layer runs at: `base` (what the closed form applied) when routing is not
    drawn; with drawn factors (one per routing draw) multiplied onto factors given by hand, or in place
    of modelled ones (the draws are the routing; the stragglers and the DP-KV term stay)."""
    if np.ndim(expert_f) == 0 and np.ndim(comm_f) == 0 and float(expert_f) == float(comm_f) == 1.0:
        return base
    if isinstance(given, RoutingSkew):
        return base.times(expert_f, comm_f)
    return base.replace(expert_load_factor=np.asarray(expert_f), comm_load_factor=np.asarray(comm_f))
