"""Configuration search: for a model, candidate GPUs and a latency constraint, the best large-scale EP and
AFD deployments, their Pareto fronts (tokens/s per GPU against tokens/s per user), and a verdict.

Rooms: `space` (the constraint, the search space and its evaluator groups), `pareto` (non-dominated points),
`verdict` (which mode wins and why), `run` (the search loop), `map` (the AFD/EP ratio over two axes) and
`sensitivity` (one found deployment re-evaluated: σ sweeps, routing-derived σ, EPLB sizing).
"""

from afdscope.search.pareto import pareto_front
from afdscope.search.run import ModeSearch, SearchResult, search
from afdscope.search.space import DEFAULT_SPACE, Constraint, SearchSpace
from afdscope.search.verdict import Verdict, limit_sentence

__all__ = [
    "DEFAULT_SPACE",
    "Constraint",
    "ModeSearch",
    "SearchResult",
    "SearchSpace",
    "Verdict",
    "limit_sentence",
    "pareto_front",
    "search",
]
