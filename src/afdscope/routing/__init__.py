"""Routing imbalance from first principles: expert popularity → Monte Carlo routing → σ (spec beyond.md §F).

A MoE layer's busiest expert GPU sets its pace. This package derives how much busier than the mean it is,
instead of assuming a σ:

* `popularity`: `Popularity`, each expert's expected share of the token-expert assignments (what a trace
  measures), and the inclusion probabilities π_e = K·p_e capped at 1.
* `placement`: experts on GPUs, contiguous by expert id (`contiguous_placement`) or EPLB's greedy
  replication and packing (`eplb_placement`), and EPLB's weight memory (`eplb_memory_bytes`).
* `sampling`: `simulate_routing` / `sample_load_factors`, `draws` Monte Carlo layers of `tokens` tokens
  each → per-GPU assignments, distinct experts hit, received bytes (samplers in `samplers`).
* `statistics`: `RoutingStats` (σ = mean/max per draw), `busiest_rank_load_factors` and `sigma_for_alpha`,
  the numbers the deployment evaluator (RoutingSkew) and the paper's α formulas take.
* `defaults`: `modelled_skew`, the default RoutingSkew of a deployment (popularity per family, EPLB,
  collective stragglers `collective_straggler`, attention-DP spread `attention_dp_factor`).
"""

from afdscope.routing.defaults import (
    attention_dp_factor,
    collective_straggler,
    decode_context_cv,
    expected_max_normal,
    fit_collective_cv,
    modelled_skew,
    popularity_alpha,
)
from afdscope.routing.placement import Placement, contiguous_placement, eplb_memory_bytes, eplb_placement
from afdscope.routing.popularity import Popularity
from afdscope.routing.sampling import EXACT_CELLS, Method, Mode, sample_load_factors, simulate_routing
from afdscope.routing.statistics import RoutingStats, busiest_rank_load_factors, sigma_for_alpha

__all__ = [
    "attention_dp_factor",
    "collective_straggler",
    "decode_context_cv",
    "expected_max_normal",
    "fit_collective_cv",
    "modelled_skew",
    "popularity_alpha",
    "EXACT_CELLS",
    "Method",
    "Mode",
    "Placement",
    "Popularity",
    "RoutingStats",
    "busiest_rank_load_factors",
    "contiguous_placement",
    "eplb_memory_bytes",
    "eplb_placement",
    "sample_load_factors",
    "sigma_for_alpha",
    "simulate_routing",
]
