"""The paper analyses' results as flat rows (the keys the CLI's JSON/CSV promise)."""

from __future__ import annotations

from collections.abc import Sequence

from afdscope.paper.ceiling import Ceiling
from afdscope.paper.ffn_rank import RankCurve
from afdscope.paper.imbalance import ImbalanceGrid


def matrix_rows(cells: Sequence[Ceiling]) -> list[dict]:
    return [c.as_dict() for c in cells]


def curve_rows(curve: RankCurve) -> list[dict]:
    c = curve
    return [
        {
            "n_ffn_nodes": int(c.n_ffn_nodes[i]),
            "experts_per_gpu": int(c.experts_per_gpu[i]),
            "tokens_per_rank": float(c.tokens_per_rank[i]),
            "tokens_per_expert": float(c.tokens_per_expert[i]),
            "intensity": float(c.intensity[i]),
            "ofu": float(c.ofu[i]),
            "temporal_sparsity": float(c.temporal_sparsity[i]),
            "hfu": float(c.hfu[i]),
            "regime": str(c.regime_names[i]),
            "limited_by": str(c.limited_by_names[i]),
            "feasible": bool(c.feasible[i]),
            "infeasible_reason": (
                None if c.feasible[i] else ("hbm_capacity" if not c.capacity_ok[i] else "hbm_bandwidth")
            ),
        }
        for i in range(len(c.n_ffn_nodes))
    ]


def imbalance_rows(grid: ImbalanceGrid) -> list[dict]:
    g = grid
    return [
        {
            "n_ffn_nodes": int(g.n_ffn[i]),
            "n_attention_nodes": int(g.n_attention[i]),
            "lambda": float(g.lam[i]),
            "sigma": float(g.sigma[i]),
            "alpha_ep": float(g.alpha_ep[i]),
            "alpha_afd": float(g.alpha_afd[i]),
            "afd_worse": bool(g.afd_worse[i]),
        }
        for i in range(len(g.lam))
    ]
