"""Routing statistics: per-draw σ = mean/max of per-GPU expert load, and the numbers the deployment
evaluator (RoutingSkew's load factors) and the paper's α formulas take (spec beyond.md §F)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from afdscope.errors import AfdscopeError

if TYPE_CHECKING:
    from afdscope.routing.placement import Placement


@dataclass(frozen=True, eq=False)
class RoutingStats:
    """Per-draw statistics of a routing Monte Carlo (one draw = one MoE layer at one step).

    Assignments are counted per expert GPU (EP: all `gpus`; AFD: the `ffn_gpus`). Received bytes are per
    endpoint: per GPU under EP (assignments × dispatch bytes), per FFN node under AFD (one token copy per
    node it touches × dispatch bytes).
    """

    mode: str
    method: str
    tokens: np.ndarray  # tokens entering the layer, per draw
    gpus: int  # expert GPUs
    nodes: int  # byte endpoints: GPUs (EP) or FFN nodes (AFD)
    popularity: str
    placement: Placement
    dispatch_bytes: float
    tokens_max: np.ndarray  # assignments on the busiest GPU
    tokens_mean: np.ndarray
    distinct_max: np.ndarray  # most distinct experts one GPU computes
    bytes_max: np.ndarray  # received bytes at the busiest endpoint
    bytes_mean: np.ndarray
    expected_sigma: np.ndarray  # mean/max of the expected loads (T → ∞): the popularity's share of σ

    @property
    def draws(self) -> int:
        return self.tokens_max.size

    @property
    def sigma(self) -> np.ndarray:
        """mean/max of per-GPU assignments, per draw."""
        return _ratio(self.tokens_mean, self.tokens_max, fill=1.0)

    @property
    def tokens_factor(self) -> np.ndarray:
        """max/mean of per-GPU assignments (= 1/σ), per draw."""
        return np.maximum(_ratio(self.tokens_max, self.tokens_mean, fill=1.0), 1.0)

    @property
    def bytes_factor(self) -> np.ndarray:
        return np.maximum(_ratio(self.bytes_max, self.bytes_mean, fill=1.0), 1.0)

    @property
    def sigma_mean(self) -> float:
        return float(self.sigma.mean())

    @property
    def sigma_p5(self) -> float:
        """σ of the worst 5 % of layers."""
        return float(np.percentile(self.sigma, 5))

    @property
    def max_over_mean_tokens(self) -> float:
        return float(self.tokens_factor.mean())

    @property
    def max_over_mean_bytes(self) -> float:
        return float(self.bytes_factor.mean())

    @property
    def distinct_experts_max(self) -> float:
        """Mean over draws of the most distinct experts one GPU computes (its grouped-GEMM count)."""
        return float(self.distinct_max.mean())

    def summary(self) -> dict:
        """Plain floats for reports."""
        return {
            "sigma_mean": self.sigma_mean,
            "sigma_p5": self.sigma_p5,
            "sigma_for_alpha": sigma_for_alpha(self),
            "sigma_expected": float(self.expected_sigma.mean()),
            "max_over_mean_tokens": self.max_over_mean_tokens,
            "max_over_mean_tokens_p95": float(np.percentile(self.tokens_factor, 95)),
            "max_over_mean_bytes": self.max_over_mean_bytes,
            "distinct_experts_max": self.distinct_experts_max,
        }


def _ratio(num, den, fill: float) -> np.ndarray:
    num, den = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    out = np.full(num.shape, fill)
    np.divide(num, den, out=out, where=den > 0)
    return out


def busiest_rank_load_factors(stats: RoutingStats, statistic: str | float = "mean"):
    """(expert_load_factor, comm_load_factor) for a `RoutingSkew`: the busiest expert
    GPU's assignments and the busiest endpoint's received bytes, each over the mean, reduced over draws.

    "mean" — mean over draws of max/mean (step time adds up layer times, so this sets throughput);
    "p50"/"median"; a quantile q in (0, 1), e.g. 0.95 for the worst 5 % of layers; "draws" — the per-draw
    arrays (a RoutingSkew broadcasts them against the evaluator's sweep)."""
    return _reduce(stats.tokens_factor, statistic), _reduce(stats.bytes_factor, statistic)


def sigma_for_alpha(stats: RoutingStats, statistic: str | float = "mean"):
    """σ for the paper's α_EP(λ, σ) = (λ + 1)/(λ + 1/σ): 1/σ is the FFN stage's slowdown and layer times
    add, so σ = 1 / (mean over draws of max/mean) — the harmonic mean of per-layer σ, not the mean."""
    return 1.0 / _reduce(stats.tokens_factor, statistic)


def _reduce(x: np.ndarray, statistic: str | float):
    if statistic == "draws":
        return x.copy()
    if statistic == "mean":
        return float(x.mean())
    if statistic in ("p50", "median"):
        return float(np.median(x))
    if isinstance(statistic, int | float) and not isinstance(statistic, bool) and 0 < statistic < 1:
        return float(np.quantile(x, statistic))
    raise AfdscopeError(f"statistic {statistic!r}: use 'mean', 'p50', 'draws' or a quantile in (0, 1)")
