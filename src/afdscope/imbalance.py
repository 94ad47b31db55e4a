"""Routing imbalance from first principles: expert popularity → Monte Carlo routing → σ (spec beyond.md §F).

A MoE layer's busiest expert GPU sets its pace. This module derives how much busier than the mean it is,
instead of assuming a σ:

* `Popularity`: each expert's expected share of the token-expert assignments (what a trace measures).
  A token includes expert e with probability π_e = K·p_e, capped at 1 (a token picks an expert at most
  once); capped experts pass their excess on to the others in proportion (`Popularity.inclusion`).
* Placement: experts on GPUs, contiguous by expert id (expert e on GPU ⌊e·G/N⌋), or EPLB's greedy
  replication and packing (`eplb_placement`).
* `simulate_routing`: `draws` Monte Carlo layers of `tokens` tokens each → per-GPU assignments, distinct
  experts hit, received bytes; σ = mean/max per draw.
* `load_factors` / `sigma_for_alpha`: the numbers the deployment evaluator (DeployOptions) and the paper's
  α formulas take.

Ranked popularity (power law): which expert ids are hot is unknown and differs between layers, so every
draw assigns the ranks to expert ids by a fresh random permutation. A draw therefore stands for one
(layer, step) pair, and the spread over draws is the spread over layers and steps.

Two samplers (docs/imbalance.md):
* "exact": every token picks exactly K distinct experts with inclusion probabilities exactly π, by
  systematic sampling in a random per-token order (group-limited: first `topk_group` groups, then experts
  inside them; where a group's pick rate is capped, a token may take K ± 1, K on average).
  O(T·N log N) per draw.
* "counts": per-expert counts ~ Binomial(T, π_e), independently; group-limited routing in two stages
  (tokens choosing group g ~ Binomial(T, ρ_g), then Binomial(T_g, π_e/ρ_g)). Exact marginals per expert;
  it drops the exactly-K-per-token coupling, which inflates a GPU's count variance by ≈ 1/(1 − f) for a
  GPU holding a share f of the load — but max/mean divides by the realised mean, whose own noise takes
  the same (1 − f) back, so max/mean matches the exact sampler to ≈ 1 % (tests/test_imbalance.py). AFD
  node dedup treats a slot's tokens as a random subset, which undercounts node copies by 4–7 %.
  O(N) per draw.
"""

from __future__ import annotations

import csv
import heapq
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.specs.model import MoEModel

Mode = Literal["ep", "afd"]
Method = Literal["auto", "counts", "exact"]

# "auto" samples per token while draws × tokens × experts stays below this (≈ 0.5 s), else counts.
EXACT_CELLS = 2**23
# Counts sampler: draws per chunk, so arrays stay near this many expert cells.
_CHUNK_CELLS = 2**21


# ---------------------------------------------------------------- popularity


@dataclass(frozen=True, eq=False)
class Popularity:
    """Each expert's expected share of the token-expert assignments (sums to 1).

    `ranked`: the shares are by popularity rank and the hot experts' ids are unknown; routing then maps
    ranks onto expert ids by a random permutation per draw. Otherwise index e is expert id e.
    """

    probabilities: np.ndarray
    name: str = "custom"
    ranked: bool = False

    def __post_init__(self) -> None:
        p = np.array(self.probabilities, dtype=float)  # a private copy: the caller's array may change
        if p.ndim != 1 or p.size == 0:
            raise AfdscopeError(f"popularity '{self.name}': give a non-empty 1-D array of shares")
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise AfdscopeError(f"popularity '{self.name}': shares must be finite and >= 0")
        if abs(p.sum() - 1.0) > 1e-6:
            raise AfdscopeError(
                f"popularity '{self.name}': shares sum to {p.sum():.6g}, not 1; normalise them (p / p.sum())"
            )
        p = p / p.sum()
        p.flags.writeable = False
        object.__setattr__(self, "probabilities", p)

    @property
    def n_experts(self) -> int:
        return self.probabilities.size

    @classmethod
    def uniform(cls, n: int) -> Popularity:
        _check_count(n, "experts")
        return cls(np.full(n, 1.0 / n), "uniform")

    @classmethod
    def power_law(cls, n: int, alpha: float) -> Popularity:
        """p_i ∝ i^−α over ranks i = 1..n; ranks land on random expert ids (one permutation per draw)."""
        _check_count(n, "experts")
        _check_exponent(alpha, "power-law alpha")
        p = np.arange(1, n + 1, dtype=float) ** -float(alpha)
        return cls(p / p.sum(), f"power-law alpha={alpha:g}", ranked=True)

    @classmethod
    def zipf(cls, n: int, s: float) -> Popularity:
        """The same rank law, 1/rank^s, but rank = expert id + 1: expert 0 is the hottest and a contiguous
        placement puts the hottest experts on the same GPU — the worst case of the power law."""
        _check_count(n, "experts")
        _check_exponent(s, "Zipf exponent")
        p = np.arange(1, n + 1, dtype=float) ** -float(s)
        return cls(p / p.sum(), f"zipf s={s:g}")

    @classmethod
    def from_counts(cls, counts, name: str = "counts") -> Popularity:
        c = np.asarray(counts, dtype=float)
        if c.ndim != 1 or not np.all(np.isfinite(c)) or np.any(c < 0) or c.sum() <= 0:
            raise AfdscopeError(f"popularity '{name}': counts must be finite, >= 0 and not all 0")
        return cls(c / c.sum(), name)

    @classmethod
    def from_csv(cls, path: str | Path, n_experts: int) -> Popularity:
        """Per-expert token counts from a CSV with a header `expert,count` (one row per expert id
        0..n−1, any order) or a single column `count` (row i is expert i). `#` lines are comments."""
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise AfdscopeError(f"{path}: cannot read popularity CSV ({reason}); check the path") from None
        rows = [
            (i, r)
            for i, r in enumerate(csv.reader(text.splitlines()), start=1)
            if r and any(x.strip() for x in r) and not r[0].lstrip().startswith("#")
        ]
        if not rows:
            raise AfdscopeError(f"{path}: empty; write a header 'expert,count' and one row per expert")
        header = [h.strip().lower() for h in rows[0][1]]
        if header not in (["expert", "count"], ["count"]):
            raise AfdscopeError(
                f"{path}: line {rows[0][0]}: header {','.join(rows[0][1])!r}; "
                "expected 'expert,count' (or a single column 'count')"
            )
        counts = np.full(n_experts, np.nan)
        for index, (line, row) in enumerate(rows[1:]):
            if len(row) != len(header):
                raise AfdscopeError(f"{path}: line {line}: {len(row)} fields, expected {len(header)}")
            try:
                value = float(row[-1])
            except ValueError:
                bad = row[-1].strip()
                raise AfdscopeError(f"{path}: line {line}: count {bad!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise AfdscopeError(f"{path}: line {line}: count {value:g}; counts must be finite and >= 0")
            if len(header) == 2:
                try:
                    e = int(row[0])
                except ValueError:
                    e = -1
                if not 0 <= e < n_experts:
                    raise AfdscopeError(
                        f"{path}: line {line}: expert {row[0].strip()!r}; ids are integers 0..{n_experts - 1}"
                    )
            else:  # one column: row i is expert i
                e = index
                if e >= n_experts:
                    raise AfdscopeError(f"{path}: line {line}: more than {n_experts} rows, one per expert")
            if not np.isnan(counts[e]):
                raise AfdscopeError(f"{path}: line {line}: expert {e} appears twice; give one row per expert")
            counts[e] = value
        missing = np.flatnonzero(np.isnan(counts))
        if missing.size:
            raise AfdscopeError(
                f"{path}: {missing.size} of {n_experts} experts have no row (first: expert {missing[0]}); "
                "give one row per expert of the model"
            )
        if counts.sum() <= 0:
            raise AfdscopeError(f"{path}: all counts are 0; give the tokens each expert received")
        return cls(counts / counts.sum(), path.name)

    def inclusion(self, top_k: int) -> np.ndarray:
        """π_e: probability that one token includes expert e (Σ π = K, each ≤ 1). A share above 1/K cannot
        be met (a token picks an expert once), so capped experts get π = 1 and the rest are scaled up."""
        return _inclusion(self.probabilities, top_k, self.name)

    def hottest_over_mean(self, top_k: int) -> float:
        """The busiest expert's expected load over the mean, after the cap at one pick per token."""
        pi = self.inclusion(top_k)
        return float(pi.max() / pi.mean())

    def top_share(self, fraction: float, top_k: int | None = None) -> float:
        """Share of all assignments the hottest `fraction` of experts carry (0.2: the top 20 %)."""
        p = self.probabilities if top_k is None else self.inclusion(top_k) / top_k
        n = max(1, round(fraction * p.size))
        return float(np.sort(p)[::-1][:n].sum())


def _check_count(n, what: str) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise AfdscopeError(f"{what} = {n!r}; it must be an integer >= 1")


def _check_exponent(a, what: str) -> None:
    if not (isinstance(a, int | float | np.floating) and math.isfinite(a) and 0 <= a <= 10):
        raise AfdscopeError(f"{what} = {a!r}; give a number in [0, 10] (1.01 fits DeepSeek-V3, 1.2 Qwen3)")


def _inclusion(p: np.ndarray, k: int, name: str) -> np.ndarray:
    if np.count_nonzero(p) < k:
        raise AfdscopeError(
            f"popularity '{name}': only {np.count_nonzero(p)} experts have a non-zero share; "
            f"top-{k} routing needs at least {k}"
        )
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    tail = np.cumsum(ps[::-1])[::-1]  # Σ_{j ≥ m} p_j
    m = np.arange(ps.size)
    # m capped experts (π = 1) leave K − m picks to the rest: the first m where that scaling stays ≤ 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        fits = (m < k) & (ps * (k - m) <= tail * (1 + 1e-12))
    capped = int(np.argmax(fits))
    pi_sorted = np.ones_like(ps)
    pi_sorted[capped:] = np.minimum(ps[capped:] * (k - capped) / tail[capped], 1.0)
    pi = np.empty_like(pi_sorted)
    pi[order] = pi_sorted
    return pi


# ---------------------------------------------------------------- placement


@dataclass(frozen=True, eq=False)
class Placement:
    """Expert slots on GPUs. `slot_expert[g, s]` is the expert in slot s of GPU g (−1: an empty slot on a
    GPU that got fewer experts); `replicas[e]` counts expert e's copies, which split its tokens evenly."""

    slot_expert: np.ndarray
    replicas: np.ndarray
    kind: str  # "contiguous" or "eplb"

    def __post_init__(self) -> None:
        for name in ("slot_expert", "replicas"):
            a = np.array(getattr(self, name), dtype=int)
            a.flags.writeable = False
            object.__setattr__(self, name, a)

    @property
    def gpus(self) -> int:
        return self.slot_expert.shape[0]

    @property
    def slots_per_gpu(self) -> int:
        return self.slot_expert.shape[1]

    @property
    def n_experts(self) -> int:
        return self.replicas.size

    @property
    def redundant(self) -> int:
        return int(self.replicas.sum()) - self.n_experts

    @property
    def extra_slots_per_gpu(self) -> int:
        """Expert slots per GPU beyond the ⌈N/G⌉ a plain placement needs: what EPLB costs in memory."""
        return self.slots_per_gpu - math.ceil(self.n_experts / self.gpus)

    def memory_cost_bytes(self, model: MoEModel, weight_bytes: float = 1.0) -> float:
        """Extra expert weights per GPU over all MoE layers: extra slots × 3·H·M × bytes × MoE layers."""
        return self.extra_slots_per_gpu * model.routed_expert_params * weight_bytes * model.n_moe_layers

    def gpu_loads(self, expert_loads) -> np.ndarray:
        """Per-GPU load (last axis) for per-expert loads (last axis), a replica taking 1/replicas."""
        loads = np.asarray(expert_loads, dtype=float)
        e, share = self._slots()
        return (loads[..., e] * share).sum(-1)

    def expected_sigma(self, expert_loads) -> np.ndarray:
        """mean/max of the per-GPU loads the expected expert loads give (σ at T → ∞)."""
        g = self.gpu_loads(expert_loads)
        return _ratio(g.mean(-1), g.max(-1), fill=1.0)

    def _slots(self):
        e = np.where(self.slot_expert < 0, 0, self.slot_expert)
        share = np.where(self.slot_expert < 0, 0.0, 1.0 / self.replicas[e])
        return e, share

    def _distinct_slots(self):
        """(expert, replica index j, counts) per slot: a slot's replica is hit when its expert got > j
        tokens; a second copy of an expert on the same GPU is no extra distinct expert."""
        e, _ = self._slots()
        j = np.zeros_like(e)
        counts = np.zeros(e.shape, dtype=bool)
        seen: dict[int, int] = {}
        for g in range(self.gpus):
            here: set[int] = set()
            for s in range(self.slots_per_gpu):
                x = int(self.slot_expert[g, s])
                if x < 0:
                    continue
                j[g, s] = seen.get(x, 0)
                seen[x] = j[g, s] + 1
                counts[g, s] = x not in here
                here.add(x)
        return e, j, counts


def contiguous_placement(n_experts: int, gpus: int) -> Placement:
    """Expert e on GPU ⌊e·G/N⌋: N/G consecutive experts per GPU, or ⌊N/G⌋ and ⌈N/G⌉ when G does not
    divide N (e.g. 256 experts over 144 GPUs: 112 GPUs hold 2, 32 hold 1)."""
    _check_count(n_experts, "experts")
    _check_count(gpus, "gpus")
    owner = np.arange(n_experts) * gpus // n_experts
    slots = math.ceil(n_experts / gpus)
    slot_expert = np.full((gpus, slots), -1)
    for g in range(gpus):
        mine = np.flatnonzero(owner == g)
        slot_expert[g, : mine.size] = mine
    return Placement(slot_expert, np.ones(n_experts, dtype=int), "contiguous")


def eplb_placement(
    popularity: Popularity | np.ndarray, n_experts: int, gpus: int, redundant: int, top_k: int | None = None
) -> Placement:
    """DeepSeek EPLB on expected loads: `redundant` times replicate the expert with the highest load per
    replica, then pack replicas (heaviest first) onto the least-loaded GPU with a free slot; every GPU gets
    (N + R)/G slots. Loads are the shares p, or the inclusion probabilities π when `top_k` is given."""
    _check_count(gpus, "gpus")
    if not isinstance(redundant, int | np.integer) or isinstance(redundant, bool) or redundant < 0:
        raise AfdscopeError(f"redundant experts = {redundant!r}; it must be an integer >= 0")
    if isinstance(popularity, Popularity):
        loads = popularity.probabilities if top_k is None else popularity.inclusion(top_k)
    else:
        loads = np.asarray(popularity, dtype=float)
    if loads.size != n_experts:
        raise AfdscopeError(f"popularity has {loads.size} experts, the model {n_experts}: one share each")
    if (n_experts + redundant) % gpus:
        lower = redundant - (n_experts + redundant) % gpus
        near = " or ".join(str(r) for r in (lower, lower + gpus) if r > 0)
        raise AfdscopeError(
            f"redundant experts = {redundant}: {n_experts} + {redundant} expert slots do not split evenly "
            f"over {gpus} GPUs (every GPU gets the same number of slots); use {near}"
        )
    if redundant > n_experts * (gpus - 1):
        raise AfdscopeError(
            f"redundant experts = {redundant}: more than one copy of every expert on every GPU; "
            f"use at most {n_experts * (gpus - 1)}"
        )
    replicas = np.ones(n_experts, dtype=int)
    heap = [(-float(w), e) for e, w in enumerate(loads)]  # max-heap on load per replica
    heapq.heapify(heap)
    for _ in range(redundant):
        _, e = heapq.heappop(heap)
        replicas[e] += 1
        if replicas[e] < gpus:  # a copy on every GPU already: no further copy helps
            heapq.heappush(heap, (-float(loads[e]) / replicas[e], e))
    items = np.repeat(np.arange(n_experts), replicas)
    weights = loads[items] / replicas[items]
    order = np.argsort(-weights, kind="stable")  # heaviest first; ties by expert id
    slots = (n_experts + redundant) // gpus
    gpu_load = np.zeros(gpus)
    used = np.zeros(gpus, dtype=int)
    slot_expert = np.full((gpus, slots), -1)
    for i in order:
        g = int(np.argmin(np.where(used < slots, gpu_load, np.inf)))
        slot_expert[g, used[g]] = items[i]
        used[g] += 1
        gpu_load[g] += weights[i]
    return Placement(slot_expert, replicas, "eplb")


def eplb_memory_bytes(model: MoEModel, gpus: int, redundant: int, weight_bytes: float = 1.0) -> float:
    """Weight bytes per GPU that `redundant` EPLB slots add over all MoE layers (the placement aside)."""
    extra = math.ceil((model.n_routed_experts + redundant) / gpus) - math.ceil(model.n_routed_experts / gpus)
    return extra * model.routed_expert_params * weight_bytes * model.n_moe_layers


# ---------------------------------------------------------------- routing statistics


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


def load_factors(stats: RoutingStats, statistic: str | float = "mean"):
    """(expert_load_factor, comm_load_factor) for `DeployOptions` (dataclasses.replace):

    "mean" — mean over draws of max/mean (step time adds up layer times, so this sets throughput);
    "p50"/"median"; a quantile q in (0, 1), e.g. 0.95 for the worst 5 % of layers; "draws" — the per-draw
    arrays (DeployOptions broadcasts them against its sweep)."""
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


# ---------------------------------------------------------------- Monte Carlo


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
    a simulator to pass as DeployOptions.expert_load_factor / comm_load_factor. `tokens_per_layer` is a
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
