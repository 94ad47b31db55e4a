"""Routing skew per simulated MoE layer: the busiest expert GPU's load over the mean, drawn by
afdscope.routing's Monte Carlo router. Balanced routing needs no draws and is the default."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from afdscope.deploy.options import DeployOptions
from afdscope.errors import AfdscopeError
from afdscope.sim.options import SimOptions
from afdscope.specs.model import MoEModel


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
    # The factors are max/mean ≥ 1 by construction; clip float dust so DeployOptions accepts them.
    return np.maximum(tokens_f, 1.0), np.maximum(bytes_f, 1.0)


def with_drawn_skew(options: DeployOptions, expert_f, comm_f) -> DeployOptions:
    """The options with drawn routing skew multiplied onto whatever they already carry (the
    --expert-load-factor / --comm-load-factor flags): one entry per routing draw."""
    return replace(
        options,
        expert_load_factor=np.asarray(options.expert_load_factor) * expert_f,
        comm_load_factor=np.asarray(options.comm_load_factor) * comm_f,
    )
