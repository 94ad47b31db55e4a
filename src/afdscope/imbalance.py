"""Temporary re-export shim: the routing Monte Carlo moved to afdscope.routing (issue 10).

Import from afdscope.routing instead; delete this module once cli and report import from there.
`load_factors` is the old name of `afdscope.routing.busiest_rank_load_factors` (deprecated).
"""

import warnings

from afdscope.routing import (
    EXACT_CELLS,
    Method,
    Mode,
    Placement,
    Popularity,
    RoutingStats,
    busiest_rank_load_factors,
    contiguous_placement,
    eplb_memory_bytes,
    eplb_placement,
    sample_load_factors,
    sigma_for_alpha,
    simulate_routing,
)


def load_factors(stats: RoutingStats, statistic: str | float = "mean"):
    """Deprecated: use afdscope.routing.busiest_rank_load_factors."""
    warnings.warn(
        "afdscope.imbalance.load_factors is deprecated; use afdscope.routing.busiest_rank_load_factors",
        DeprecationWarning,
        stacklevel=2,
    )
    return busiest_rank_load_factors(stats, statistic)


__all__ = [
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
    "load_factors",
    "sample_load_factors",
    "sigma_for_alpha",
    "simulate_routing",
]
