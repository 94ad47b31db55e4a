"""The default routing skew: what a deployment loses to imbalance, from afdscope's own models
(docs/imbalance.md "The default skew"; issue 12 §2).

* `modelled_skew`: expert and byte load factors of the busiest expert GPU from the routing Monte Carlo
  (a power-law popularity per model family, EPLB placement with the deployment's redundant slots), a
  straggler factor for the collectives and the slowest attention-DP rank's KV over the mean.
* `collective_straggler`: E[max of N mean-1 log-normal rank times] (a collective ends with its slowest
  rank); `fit_collective_cv` inverts it on a measured mean/unloaded ratio.
* `attention_dp_factor`: 1 + cv/√B · E[max of N standard normals] (CLT over B requests per rank).

The Monte Carlo runs once per (model, mode, group, redundant, gpus per node, α, placement) on a fixed grid
of total tokens per layer (`TOKEN_GRID`, `DRAWS` draws each, seed `SEED`) and is interpolated in log
tokens, so an evaluator's sweep costs one `np.interp`.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.routing.placement import Placement, eplb_placement
from afdscope.routing.popularity import Popularity
from afdscope.routing.samplers import _route_counts
from afdscope.routing.sampling import _layout
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.model import MoEModel
from afdscope.specs.skew import RoutingSkew

# Rank power law p_i ∝ i^−α fitted to aiconfigurator's "top 20 % of experts carry X % of tokens"
# (calibration/expert_load_skew.csv): DeepSeek-V3/R1 30–40 % → α 0.37 (35 %, 0.33–0.41 over the range);
# Qwen3-235B ~65 % → α 0.91. Families without a published figure take DeepSeek's (docs/imbalance.md).
POPULARITY_ALPHA = {"deepseek": 0.37, "qwen3_moe": 0.91}
ALPHA_SOURCE = {
    "deepseek": "DeepSeek-V3 fit: top 20 % carry 35 % (aiconfigurator)",
    "qwen3_moe": "Qwen3-235B fit: top 20 % carry 65 % (aiconfigurator)",
}
TOKEN_GRID = 2.0 ** np.arange(21)  # total tokens entering one MoE layer: 1 … 1,048,576, a factor 2 apart
# Monte Carlo layers per grid point (counts sampler; mean of max/mean over draws): DRAWS where a GPU sees
# few assignments, fewer where it sees many — the per-draw spread of max/mean falls as 1/√(assignments
# per GPU), so DRAWS · 8 / (assignments per GPU) draws (at least MIN_DRAWS, at most MAX_SMALL_DRAWS below
# 8 per GPU) keep the mean's error at the level DRAWS gives at 8 per GPU.
DRAWS = 192
MIN_DRAWS = 32
MAX_SMALL_DRAWS = 64
SEED = 0
# xDeepServe §7.1 (EP288 dies, CloudMatrix384): MoE dispatch mean 234 µs, minimum 185 µs. Taking the
# minimum as the unloaded kernel and the mean as E[max over 288 ranks] × the modelled byte factor of
# that layout (1.102: DeepSeek-R1, 256 expert dies + 256 EPLB slots, 96 tokens per die from 288 dies)
# gives E[max] = 1.2649 / 1.102 = 1.148 → cv 0.0485 (`fit_collective_cv`; tests/test_routing_defaults.py).
# Without netting out the byte factor: cv 0.083.
COLLECTIVE_CV = 0.0485
# A decode request's KV is its input plus a uniform position in its output: cv = (O/√12)/(I + O/2);
# 1K in / 1K out (CloudMatrix-Infer's 1K/1K case, the validation set) gives 0.192 (`decode_context_cv`).
CONTEXT_CV = 0.192

_Z = np.linspace(-10.0, 14.0, 4801)  # quadrature grid for the maximum of N standard normals
_LOG_CDF = np.log(0.5 * np.array([math.erfc(-z / math.sqrt(2.0)) for z in _Z]) + 1e-300)
_LOG_PDF = -0.5 * _Z**2 - 0.5 * math.log(2.0 * math.pi)


def popularity_alpha(model: MoEModel) -> tuple[float, str]:
    """(α, where it comes from) of the default rank power law for `model`'s family."""
    family = "qwen3_moe" if model.model_type == "qwen3_moe" else "deepseek"
    source = ALPHA_SOURCE[family]
    if family == "deepseek" and not model.model_type.startswith("deepseek"):
        source = f"no published figure for {model.model_type}; {source}"
    return POPULARITY_ALPHA[family], source


def _max_density(ranks) -> np.ndarray:
    """Density of the max of N standard normals on _Z, N broadcast on leading axes: N φ Φ^(N−1)."""
    n = np.asarray(ranks, dtype=float)[..., None]
    return np.exp(np.log(n) + _LOG_PDF + (n - 1.0) * _LOG_CDF)


def _check_ranks(ranks) -> np.ndarray:
    n = np.asarray(ranks, dtype=float)
    if not (np.all(np.isfinite(n)) and np.all(n >= 1)):
        raise AfdscopeError(f"ranks = {ranks!r}: give a number of ranks >= 1")
    return n


@functools.lru_cache(maxsize=4096)
def _expected_max_normal_scalar(n: float) -> float:
    return max(float(np.trapezoid(_Z * _max_density(n), _Z)), 0.0)


def expected_max_normal(ranks):
    """E[max of N i.i.d. standard normals] (0 for N = 1, 1/√π for N = 2); quadrature, error < 1e-6."""
    n = _check_ranks(ranks)
    if n.ndim == 0:
        return _expected_max_normal_scalar(float(n))
    return np.maximum(np.trapezoid(_Z * _max_density(n), _Z, axis=-1), 0.0)


def collective_straggler(ranks, cv=COLLECTIVE_CV):
    """E[max of `ranks` i.i.d. log-normal rank times of mean 1 and coefficient of variation `cv`]:
    ∫ exp(s·z − s²/2) N φ(z) Φ(z)^(N−1) dz with s² = ln(1 + cv²). Broadcasts ranks against cv."""
    if np.ndim(ranks) == 0 and np.ndim(cv) == 0:
        return _straggler_scalar(float(ranks), float(cv))
    return _straggler(ranks, cv)


@functools.lru_cache(maxsize=4096)
def _straggler_scalar(ranks: float, cv: float) -> float:
    return _straggler(ranks, cv)


def _straggler(ranks, cv):
    n = _check_ranks(ranks)
    c = np.asarray(cv, dtype=float)
    if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
        raise AfdscopeError(f"cv = {cv!r}: a coefficient of variation is a finite number >= 0")
    s = np.sqrt(np.log1p(c * c))[..., None]
    out = np.trapezoid(np.exp(s * _Z - 0.5 * s * s) * _max_density(n), _Z, axis=-1)
    out = np.maximum(out, 1.0)
    return float(out) if out.ndim == 0 else out


def fit_collective_cv(mean_over_unloaded: float, ranks: int) -> float:
    """The cv at which collective_straggler(ranks, cv) equals a measured mean/unloaded ratio (bisection)."""
    if not (math.isfinite(mean_over_unloaded) and mean_over_unloaded >= 1):
        raise AfdscopeError(f"mean/unloaded = {mean_over_unloaded!r}: a ratio >= 1")
    lo, hi = 0.0, 5.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if collective_straggler(ranks, mid) < mean_over_unloaded else (lo, mid)
    return 0.5 * (lo + hi)


def decode_context_cv(input_tokens, output_tokens, input_cv=0.0):
    """cv of a decode request's KV length: input (mean I, cv input_cv) + a uniform position in [0, O]."""
    i, o, ci = (np.asarray(x, dtype=float) for x in (input_tokens, output_tokens, input_cv))
    return np.sqrt((ci * i) ** 2 + o**2 / 12.0) / (i + o / 2.0)


def attention_dp_factor(ranks, requests_per_rank, context_cv=CONTEXT_CV):
    """The slowest of `ranks` attention-DP ranks' total KV over the mean, each rank summing B i.i.d.
    request lengths of coefficient of variation `context_cv`: 1 + cv/√B · E[max of N standard normals]
    (CLT; B below 1 counts as 1). Vectorised over requests_per_rank (and ranks)."""
    b = np.asarray(requests_per_rank, dtype=float)
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise AfdscopeError(f"requests per rank = {requests_per_rank!r}: give a number > 0")
    out = 1.0 + np.asarray(context_cv, dtype=float) / np.sqrt(np.maximum(b, 1.0)) * expected_max_normal(ranks)
    return float(out) if out.ndim == 0 else out


def _eplb_any(pi: np.ndarray, n: int, gpus: int, redundant: int) -> Placement:
    """EPLB also where N + R slots do not split evenly: zero-load dummies fill the ⌈(N + R)/G⌉·G slots
    (what the evaluator's memory pays for) and become empty slots."""
    pad = -(n + redundant) % gpus
    if not pad:
        return eplb_placement(pi, n, gpus, redundant)
    p = eplb_placement(np.concatenate([pi, np.zeros(pad)]), n + pad, gpus, redundant)
    slots = np.where(p.slot_expert >= n, -1, p.slot_expert)
    return Placement(slots, p.replicas[:n], "eplb")


_TABLES: dict[tuple, dict[int, tuple[float, float]]] = {}


def draws_at(tokens: float, top_k: int, group: int) -> int:
    """Monte Carlo draws for one grid point (see DRAWS)."""
    per_gpu = tokens * top_k / group
    return int(
        np.clip(round(DRAWS * 8 / max(per_gpu, 1e-9)), MIN_DRAWS, MAX_SMALL_DRAWS if per_gpu < 8 else DRAWS)
    )


def _table(
    model: MoEModel,
    mode: str,
    group: int,
    redundant: int,
    per_node: int,
    alpha: float,
    eplb: bool,
    needed: np.ndarray,
):
    """(log grid, expert factor, byte factor) on the TOKEN_GRID points `needed` (indices): the mean over
    `draws_at` draws of max/mean per draw, computed once per point and cached on what routing depends on."""
    key = (
        model.name,
        model.n_routed_experts,
        model.top_k,
        model.n_group,
        model.topk_group,
        model.hidden_size,
    )
    key = (*key, mode, group, redundant, per_node, alpha, eplb)
    done = _TABLES.setdefault(key, {})
    missing = [int(i) for i in needed if int(i) not in done]
    if missing:
        done.update(_compute_points(model, mode, group, redundant, per_node, alpha, eplb, missing))
    idx = sorted(int(i) for i in needed)
    return (
        np.log(TOKEN_GRID[idx]),
        np.array([done[i][0] for i in idx]),
        np.array([done[i][1] for i in idx]),
    )


def _compute_points(model, mode, group, redundant, per_node, alpha, eplb, points):
    pop = Popularity.power_law(model.n_routed_experts, alpha)
    ffn = group if mode == "afd" else None
    lay = _layout(model, pop, group, ffn, mode, 0, True, False, per_node)
    if eplb:
        lay = dataclasses.replace(
            lay, placement=_eplb_any(lay.pi, lay.n, group, redundant), pop_space=lay.shuffle
        )
    out = {}
    for i in points:
        # Each grid point draws from its own stream (SEED, point), so a value never depends on which
        # other points were asked for first: the same evaluation gives the same skew in any order.
        draws = draws_at(TOKEN_GRID[i], model.top_k, group)
        counts = _route_counts(np.random.default_rng((SEED, i)), lay, np.full(draws, TOKEN_GRID[i]))
        ratio = []
        for name in ("tokens", "copies"):
            mx, mean = counts[f"{name}_max"], counts[f"{name}_mean"]
            ratio.append(
                float(np.maximum(np.divide(mx, mean, out=np.ones_like(mx), where=mean > 0), 1.0).mean())
            )
        out[i] = (ratio[0], ratio[1])
    return out


def modelled_skew(
    model: MoEModel,
    deployment: EpDeployment | AfdDeployment,
    tokens_per_micro_batch,
    *,
    eplb: bool | int | None = None,
    alpha: float | None = None,
    attention_gpus=None,
    query_positions: int = 1,
    collective_cv: float = COLLECTIVE_CV,
    context_cv=CONTEXT_CV,
) -> RoutingSkew:
    """The default skew of `deployment` at `tokens_per_micro_batch` tokens per GPU (EP) or per attention
    GPU (AFD) and micro-batch (a number or an array; the factors come back in its shape).

    eplb: None/True — EPLB placement by expected load with the deployment's redundant slots (none: the
    experts are still placed by popularity, no replicas); an int — that many redundant slots instead;
    False — experts contiguous by id (no EPLB). alpha: the power law (default per family,
    `popularity_alpha`). attention_gpus (AFD): overrides the deployment's count (an array broadcasts).
    query_positions: tokens per request per step (1 + MTP drafts), for the requests per DP rank."""
    t = np.asarray(tokens_per_micro_batch, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise AfdscopeError(f"tokens per micro-batch = {tokens_per_micro_batch!r}: give a number > 0")
    if isinstance(deployment, EpDeployment):
        mode, group, per_node = "ep", deployment.gpus, 1
        senders = dp = deployment.gpus
        ranks = deployment.gpus
    elif isinstance(deployment, AfdDeployment):
        mode, tp = "afd", deployment.expert_tp
        group = max(1, deployment.ffn_gpus // tp)  # an expert's TP shards act as one routing rank
        per_node = max(1, deployment.ffn_hardware.gpus_per_node // tp)
        senders = np.asarray(deployment.attention_gpus if attention_gpus is None else attention_gpus, float)
        dp, ranks = senders, senders + deployment.ffn_gpus
    else:
        raise AfdscopeError("deployment: give an EpDeployment or an AfdDeployment")
    dp = np.maximum(np.asarray(dp, dtype=float) // deployment.attention_tp, 1.0)
    given = deployment.redundant_for(model)
    redundant = given if eplb is None or eplb is True else int(eplb or 0)
    if eplb is False and given:
        raise AfdscopeError(
            f"eplb=False with {given} redundant experts: replicas need EPLB; "
            "set redundant_experts=0 or leave eplb unset"
        )
    if isinstance(eplb, int) and not isinstance(eplb, bool) and eplb < 0:
        raise AfdscopeError(f"eplb = {eplb}: give a number of redundant slots >= 0 (or True/False)")
    a, a_source = (alpha, "given") if alpha is not None else popularity_alpha(model)
    use_eplb = eplb is not False
    log_total = np.log(np.maximum(t * senders, 1.0))
    # The grid points that bracket every total asked for (computed once, then cached).
    lo = np.searchsorted(np.log(TOKEN_GRID), float(np.min(log_total)), side="right") - 1
    hi = np.searchsorted(np.log(TOKEN_GRID), float(np.max(log_total)), side="left")
    needed = np.arange(max(lo, 0), min(hi, TOKEN_GRID.size - 1) + 1)
    grid, expert_t, bytes_t = _table(model, mode, group, redundant, per_node, float(a), use_eplb, needed)
    expert_f, comm_f = np.interp(log_total, grid, expert_t), np.interp(log_total, grid, bytes_t)
    attn = attention_dp_factor(dp, t * deployment.attention_tp / query_positions, context_cv)
    placement = f"EPLB {redundant} slots" if use_eplb else "contiguous (no EPLB)"
    return RoutingSkew(
        expert_load_factor=expert_f if t.ndim or np.ndim(senders) else float(expert_f),
        comm_load_factor=comm_f if t.ndim or np.ndim(senders) else float(comm_f),
        comm_straggler=collective_straggler(ranks, collective_cv),
        attention_factor=attn,
        source=f"modelled: {placement}, power law α {a:g} ({a_source})",
    )
