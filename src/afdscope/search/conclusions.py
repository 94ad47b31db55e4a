"""The paper's three conclusions (arXiv 2602.09721 §3–§5) tested end to end with the calibrated evaluators,
in tokens/s per GPU and $ per 1M output tokens over a small grid of GPUs, models and TPOT SLOs (issue 12 §5).

(a) dead zone: on a standard cluster (8-GPU nodes, RDMA between them) adding FFN nodes past the scale-up
    plateau (N_F > K/ρ nodes, `regime_boundaries`) cannot raise HFU; tested: does tokens/s per GPU rise
    (or $/1M fall) when FFN nodes are added to a fixed attention side?
(b) imbalance: AFD's whole-node scaling loses more to routing imbalance than EP's continuous batch;
    tested: the best AFD keeps less of its balanced tokens/s per GPU (and $/1M) under the modelled skew
    than the best EP does. The cost of whole-node attention (per-GPU vs whole-node counts) is reported.
(c) superpods, coarse experts (small H/M) and lower sparsity (N_exp/K) favour AFD; tested pairwise: the
    AFD/EP ratio is higher on the favoured side of each pair that differs in one of these.

Each evidence row says whether it agrees; `verdict_of` turns the share that agrees into the verdict.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.calibration import DEFAULT_CALIBRATION
from afdscope.errors import AfdscopeError
from afdscope.paper.ffn_rank import regime_boundaries
from afdscope.paper.options import preset as paper_preset
from afdscope.search.run import SearchResult, search
from afdscope.search.space import Constraint, SearchSpace, eplb_redundant
from afdscope.specs.deployment import AfdDeployment
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew

# The verdict rule: the share of evidence rows that agree with the claim.
HOLDS_SHARE = 0.8  # ≥ 80 % agree: "holds"
PARTLY_SHARE = 0.3  # 30 – 80 %: "partly"; below: "does not hold"
# A change under 2 % is "no change" (below the evaluators' own resolution of a best point).
TOLERANCE = 0.02


@dataclass(frozen=True)
class Grid:
    models: tuple[str, ...] = ("deepseek-v3", "qwen3-235b", "step3", "ernie-4.5-300b")
    standard: tuple[str, ...] = ("h800", "h100", "h20")  # 8-GPU nodes, RDMA scale-out
    superpod: tuple[str, ...] = ("gb200", "gb300")  # NVL72: AFD traffic stays on NVLink
    slos_s: tuple[float, ...] = (0.03, 0.05)
    sigma: float = 0.8  # claim (b) also under the paper's uniform σ (load factor 1/σ on both modes)
    context_tokens: int = 4096
    space: SearchSpace = SearchSpace(
        max_gpus=128, attention_tp=(1,), expert_tp=(1,), micro_batches=(3,), eplb_shares=(0.125,)
    )
    ffn_nodes_added: int = 4  # claim (a): FFN nodes added past the plateau (or the first that fits)


DEFAULT_GRID = Grid()
QUICK_GRID = Grid(
    models=("deepseek-v3", "step3"),
    standard=("h800",),
    superpod=("gb200",),
    slos_s=(0.05,),
    space=SearchSpace(
        max_gpus=64,
        max_batch_per_gpu=256,
        ep_overlaps=("2bo",),
        attention_tp=(1,),
        expert_tp=(1,),
        micro_batches=(3,),
        eplb_shares=(0.125,),
    ),
    ffn_nodes_added=2,
)


@dataclass(frozen=True)
class Claim:
    claim: str
    verdict: str  # "holds" | "partly" | "does not hold"
    reason: str
    evidence: list[dict] = field(default_factory=list)

    @property
    def agreeing(self) -> tuple[int, int]:
        decided = [r["agrees"] for r in self.evidence if r["agrees"] is not None]
        return sum(decided), len(decided)

    def as_dict(self) -> dict:
        return {
            "claim": self.claim,
            "verdict": self.verdict,
            "reason": self.reason,
            "evidence": self.evidence,
        }


def verdict_of(agrees) -> str:
    """'holds' when ≥ 80 % of the decided rows agree, 'partly' from 30 %, else 'does not hold'. Rows whose
    agreement is None (a mode infeasible) are left out; no decided row at all is an error."""
    decided = [bool(a) for a in agrees if a is not None]
    if not decided:
        raise AfdscopeError("no evidence row could be decided; widen the grid (more GPUs or a looser SLO)")
    share = sum(decided) / len(decided)
    return "holds" if share >= HOLDS_SHARE else "partly" if share >= PARTLY_SHARE else "does not hold"


def _r(x, digits=4):
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def _share(rows) -> str:
    ok = [r["agrees"] for r in rows if r["agrees"] is not None]
    return f"{sum(ok)} of {len(ok)} rows agree"


def _tps(r: SearchResult, mode: str):
    best = getattr(r, mode).best
    return None if best is None else best.tokens_per_s_per_gpu


def _usd(r: SearchResult, mode: str):
    best = getattr(r, mode).best_cost
    return None if best is None else best.usd_per_million_output_tokens


def _div(a, b):
    return None if a is None or b is None or b == 0 else a / b


def _best_on(ev, limit_s, column=None):
    """(tokens/s per GPU, $/1M, HFU, bottleneck, attention GPUs) of an evaluation's best feasible point
    (`column`: only that index of the attention-GPU axis)."""
    ok = ev.meets(limit_s).copy()
    if column is not None:
        ok[:, np.arange(ok.shape[1]) != column] = False
    if not ok.any():
        return None
    tps = np.where(ok, ev.tokens_per_s_per_gpu, -np.inf)
    i = np.unravel_index(int(np.argmax(tps)), tps.shape)
    cost = ev.usd_per_million_tokens
    usd = None if cost is None else float(np.min(np.where(ok, np.broadcast_to(cost, ok.shape), np.inf)))
    p = ev.point(i)
    return (
        p.tokens_per_s_per_gpu,
        usd,
        p.hfu_ffn,
        p.bottleneck,
        int(np.broadcast_to(ev.attention_gpus, ok.shape)[i]),
    )


def _sweep_ffn(model, hw, scenario, grid, slo_s):
    """Claim (a) on one (model, standard GPU, SLO): FFN nodes from the end of the scale-up plateau (the
    first that is feasible) onwards, each with its best attention side (whole nodes, total ≤ max_gpus),
    and with the attention side fixed where the first FFN size is best."""
    g = hw.gpus_per_node
    bounds = regime_boundaries(model, hw, paper_preset("paper"))
    start = max(1, math.ceil(bounds.scale_up_end - 1e-9))
    m = grid.space.micro_batches[0]
    batches = np.arange(m, grid.space.max_batch_per_gpu + 1, m, dtype=float)[:, None]
    cal = DEFAULT_CALIBRATION
    points, fixed = [], None
    for n in range(start, grid.space.max_gpus // g):
        ffn = n * g
        attn = np.arange(g, grid.space.max_gpus - ffn + 1, g, dtype=float)
        red = eplb_redundant(model.n_routed_experts, ffn, grid.space.eplb_shares[-1])
        dep = AfdDeployment(
            attention_hardware=hw, ffn_hardware=hw, attention_gpus=g, ffn_gpus=ffn, micro_batches=m,
            redundant_experts=red,
        )  # fmt: skip
        ev = evaluate_afd(model, dep, scenario, batches, cal, attention_gpus=attn[None, :])
        best = _best_on(ev, slo_s)
        if best is None:
            continue
        fixed = best[4] if fixed is None else fixed
        at_fixed = _best_on(ev, slo_s, int(np.flatnonzero(attn == fixed)[0])) if fixed in attn else None
        points.append((n, *best, None if at_fixed is None else at_fixed[0]))
        if len(points) > grid.ffn_nodes_added:
            break
    if len(points) < 2:
        return None
    (_, t0, c0, _, b0, _, _), later = points[0], points[1:]
    top = max(later, key=lambda p: p[1])
    gain = top[1] / t0
    cost_gain = None if c0 is None else c0 / min(p[2] for p in later)
    rises = gain > 1 + TOLERANCE or (cost_gain is not None and cost_gain > 1 + TOLERANCE)
    return {
        "model": model.name, "hardware": hw.name, "slo_ms": slo_s * 1e3,
        "plateau_end_nodes": _r(bounds.scale_up_end, 3), "dead_zone_nodes": bounds.dead_zone_start,
        "ffn_nodes": [p[0] for p in points], "attention_gpus": [p[5] for p in points],
        "tokens_per_s_per_gpu": [_r(p[1], 1) for p in points], "usd_per_million": [_r(p[2]) for p in points],
        "hfu_ffn": [_r(p[3], 3) for p in points], "fixed_attention_gpus": fixed,
        "tokens_per_s_per_gpu_fixed_attention": [_r(p[6], 1) for p in points],
        "bottleneck_first": b0, "best_ffn_nodes": top[0], "gain": _r(gain), "cost_gain": _r(cost_gain),
        "agrees": not rises,
    }  # fmt: skip


def _grain(model) -> float:
    """H / M: smaller is coarser experts."""
    return model.hidden_size / model.moe_intermediate_size


def _sparsity(model) -> float:
    """N_exp / K: smaller is less sparse."""
    return model.n_routed_experts / model.top_k


def _falls_after_peak(values) -> bool:
    """True when every value after the largest is no larger than the one before it."""
    v = [x for x in values if x is not None]
    peak = v.index(max(v))
    return all(b <= a for a, b in zip(v[peak:], v[peak + 1 :], strict=False))


def _sub_node(model, r: SearchResult, scenario, grid, slo_s, skew):
    """The best AFD (modelled skew) re-evaluated with attention counts of any GPU number (not whole nodes)."""
    d = r.afd.best.deployment
    m = d.micro_batches
    batches = np.arange(m, grid.space.max_batch_per_gpu + 1, m, dtype=float)[:, None]
    attn = np.arange(1, grid.space.max_gpus - d.ffn_gpus + 1, dtype=float)[None, :]
    dep = d.replace(whole_nodes=False, attention_gpus=1)
    ev = evaluate_afd(model, dep, scenario, batches, DEFAULT_CALIBRATION, skew, attention_gpus=attn)
    best = _best_on(ev, slo_s)
    return None if best is None else best[0]


def paper_conclusions(grid: Grid = DEFAULT_GRID, progress=None) -> list[Claim]:
    """The three claims with their evidence rows and verdicts (see the module docstring)."""
    t0 = time.perf_counter()
    scenario = Scenario(context_tokens=grid.context_tokens)
    models = {n: load_model(n) for n in grid.models}
    hws = {n: load_hardware(n) for n in grid.standard + grid.superpod}
    results: dict[tuple, SearchResult] = {}
    skews = {  # the paper's ideal, the default modelled skew, and the paper's uniform σ on the experts
        "balanced": "balanced",
        "modelled": None,
        f"sigma {grid.sigma:g}": RoutingSkew(expert_load_factor=1.0 / grid.sigma),
    }
    for (mn, m), (hn, hw), slo in (
        (a, b, s) for a in models.items() for b in hws.items() for s in grid.slos_s
    ):
        for kind, skew in skews.items():
            c = Constraint(tpot_slo_s=slo)
            results[mn, hn, slo, kind] = search(
                m, scenario, c, [hw], None, None, grid.space, DEFAULT_CALIBRATION, skew
            )
        if progress:
            progress(f"searched {mn} on {hn} at {slo * 1e3:g} ms")

    # (a) the dead zone, end to end.
    rows_a = [
        row
        for mn in grid.models
        for hn in grid.standard
        for slo in grid.slos_s
        if (row := _sweep_ffn(models[mn], hws[hn], scenario, grid, slo)) is not None
    ]
    rising = [r for r in rows_a if not r["agrees"]]
    why = Counter(r["bottleneck_first"] for r in rising).most_common(1)
    falls = sum(_falls_after_peak(r["tokens_per_s_per_gpu"]) for r in rows_a)
    reason_a = (
        f"{_share(rows_a)}: adding FFN nodes past the scale-up plateau (attention re-sized each time) "
        + (
            f"raises tokens/s per GPU in {len(rising)} rows (up to {max(r['gain'] for r in rising):.2f}×), "
            f"where the first FFN size is mostly bound by {why[0][0]} (median FFN HFU there "
            f"{statistics.median(r['hfu_ffn'][0] for r in rising):.1%}: too few FFN GPUs stream the expert "
            "weights within the stage, which the paper's communication-bound HFU leaves out); "
            if rising
            else "never raises tokens/s per GPU or lowers $/1M by more than 2 %; "
        )
        + f"past its peak each added node lowers tokens/s per GPU in {falls} of {len(rows_a)} rows"
    )

    # (b) imbalance: AFD vs EP retention under the modelled skew; whole-node vs per-GPU attention.
    rows_b = []
    for mn, hn, slo, kind in (
        (a, b, c, k) for a in grid.models for b in hws for c in grid.slos_s for k in skews
    ):
        if kind == "balanced":
            continue
        bal, mod = results[mn, hn, slo, "balanced"], results[mn, hn, slo, kind]
        ep_keep, afd_keep = _div(_tps(mod, "ep"), _tps(bal, "ep")), _div(_tps(mod, "afd"), _tps(bal, "afd"))
        ep_cost, afd_cost = _div(_usd(bal, "ep"), _usd(mod, "ep")), _div(_usd(bal, "afd"), _usd(mod, "afd"))
        sub = None if mod.afd.best is None else _sub_node(models[mn], mod, scenario, grid, slo, skews[kind])
        decided = None not in (ep_keep, afd_keep)
        rows_b.append({
            "model": mn, "hardware": hn, "slo_ms": slo * 1e3, "skew": kind,
            "ep_balanced": _r(_tps(bal, "ep"), 1), "ep_skewed": _r(_tps(mod, "ep"), 1),
            "afd_balanced": _r(_tps(bal, "afd"), 1), "afd_skewed": _r(_tps(mod, "afd"), 1),
            "ep_kept": _r(ep_keep), "afd_kept": _r(afd_keep), "ep_cost_kept": _r(ep_cost),
            "afd_cost_kept": _r(afd_cost), "ratio_balanced": _r(bal.verdict.ratio),
            "ratio_skewed": _r(mod.verdict.ratio), "afd_bottleneck": mod.afd.best and mod.afd.best.bottleneck,
            "afd_per_gpu_attention": _r(sub, 1), "whole_node_cost": _r(_div(sub, _tps(mod, "afd"))),
            "agrees": (afd_keep < ep_keep - 1e-9 and afd_cost < ep_cost - 1e-9) if decided else None,
        })  # fmt: skip
    kept = [r for r in rows_b if r["agrees"] is not None]

    def med(key, rows=kept):
        return statistics.median(r[key] for r in rows if r[key] is not None)

    per_kind = "; ".join(
        f"{k}: EP keeps a median {med('ep_kept', rk):.0%} of its balanced tokens/s per GPU, AFD "
        f"{med('afd_kept', rk):.0%} ({_share(rk)})"
        for k in skews
        if (rk := [r for r in kept if r["skew"] == k])
    )
    slack = sum(r["afd_bottleneck"] == "attention" for r in kept)
    reason_b = (
        f"{_share(rows_b)}. {per_kind}. Whole-node attention costs AFD at most "
        f"{max(r['whole_node_cost'] or 1.0 for r in kept) - 1:.1%} against per-GPU counts (median "
        f"{med('whole_node_cost') - 1:.1%}). "
        + (
            f"The skew lands on each EP layer's critical path (busiest expert GPU, collective stragglers, "
            f"slowest DP rank), while {slack} of {len(kept)} best AFDs are attention-bound, so their FFN "
            "stage has slack that absorbs the busiest FFN GPU"
            if med("afd_kept") >= med("ep_kept")
            else "AFD's fixed stage time cannot refill what the busiest FFN GPU wastes"
        )
    )

    # (c) what favours AFD: pairwise comparisons of the AFD/EP ratio (tokens/s per GPU and $/1M).
    def ratio(mn, hn, slo):
        """AFD/EP in tokens/s per GPU and in $/1M: 0 where only EP is feasible, inf where only AFD is."""
        r = results[mn, hn, slo, "modelled"]
        if r.ep.best is None or r.afd.best is None:
            x = None if r.ep.best is r.afd.best else (0.0 if r.afd.best is None else math.inf)
            return x, x
        return r.verdict.ratio, _div(_usd(r, "ep"), _usd(r, "afd"))

    def row(factor, fav, oth, slo):
        (rf, cf), (ro, co) = ratio(*fav, slo), ratio(*oth, slo)
        agrees = None if None in (rf, ro) or rf == ro else rf > ro and (cf is None or co is None or cf >= co)
        return {
            "factor": factor, "model": fav[0] if fav[0] == oth[0] else f"{fav[0]} vs {oth[0]}",
            "hardware": fav[1] if fav[1] == oth[1] else f"{fav[1]} vs {oth[1]}", "slo_ms": slo * 1e3,
            "favoured_ratio": _r(rf), "other_ratio": _r(ro), "favoured_cost_ratio": _r(cf),
            "other_cost_ratio": _r(co), "agrees": agrees,
        }  # fmt: skip

    rows_c = []
    for slo in grid.slos_s:
        for mn in grid.models:
            rows_c += [row("superpod", (mn, p), (mn, s), slo) for p in grid.superpod for s in grid.standard]
        for hn in hws:
            for a, b in combinations(grid.models, 2):
                ma, mb = models[a], models[b]
                for factor, key in (("coarse experts", _grain), ("lower sparsity", _sparsity)):
                    ka, kb = key(ma), key(mb)
                    if not math.isclose(ka, kb):
                        fav, oth = ((a, hn), (b, hn)) if ka < kb else ((b, hn), (a, hn))
                        rows_c.append(row(factor, fav, oth, slo))
    parts = []
    for factor in ("superpod", "coarse experts", "lower sparsity"):
        sub = [r for r in rows_c if r["factor"] == factor]
        if any(r["agrees"] is not None for r in sub):
            parts.append(f"{factor}: {verdict_of(r['agrees'] for r in sub)} ({_share(sub)})")
    gains = {  # standard → superpod: how much each mode's best tokens/s per GPU rises
        mode: [
            _div(_tps(results[mn, p, slo, "modelled"], mode), _tps(results[mn, s, slo, "modelled"], mode))
            for mn in grid.models for p in grid.superpod for s in grid.standard for slo in grid.slos_s
        ]
        for mode in ("ep", "afd")
    }  # fmt: skip
    g = {m: statistics.median(x for x in v if x is not None) for m, v in gains.items() if any(v)}
    by_model = {
        mn: [
            x
            for hn in hws
            for slo in grid.slos_s
            if (x := ratio(mn, hn, slo)[0]) not in (None, 0.0, math.inf)
        ]
        for mn in grid.models
    }
    reason_c = (
        f"{_share(rows_c)}; " + "; ".join(parts) + ". "
        + (f"From a standard cluster to a superpod EP gains a median {g['ep']:.2f}×, AFD {g['afd']:.2f}× "
           "(EP's all-to-all moves onto NVLink too). " if len(g) == 2 else "")
        + "Median AFD/EP where both modes are feasible: "
        + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in by_model.items() if v)
        + " (model pairs also differ in attention type, KV size and top-k)"
    )  # fmt: skip

    claims = [
        Claim("(a) on standard clusters adding FFN nodes cannot raise HFU (the dead zone)",
              verdict_of(r["agrees"] for r in rows_a), reason_a, rows_a),
        Claim("(b) AFD's whole-node scaling costs more to imbalance than EP's continuous batch",
              verdict_of(r["agrees"] for r in rows_b), reason_b, rows_b),
        Claim("(c) superpod interconnects, coarse-grained experts and lower sparsity favour AFD",
              verdict_of(r["agrees"] for r in rows_c), reason_c, rows_c),
    ]  # fmt: skip
    if progress:
        progress(f"{len(results)} searches and the sweeps in {time.perf_counter() - t0:.1f} s")
    return claims
