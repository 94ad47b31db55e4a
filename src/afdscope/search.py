"""Configuration search: for a model, candidate GPUs and a latency constraint, the best large-scale EP and
AFD deployments, their Pareto fronts (tokens/s per GPU against tokens/s per user), and a verdict.

Each evaluator call covers a whole group of configurations at once — every batch size (and, for AFD,
every attention node count) for one GPU count / FFN size / micro-batch count / hardware pair — and is
reduced on the spot to the few points that can matter (its Pareto front, its fastest and its cheapest),
so memory stays flat however large the grid.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.ep import evaluate_ep
from afdscope.deploy.options import DEFAULT_OPTIONS, DeployOptions
from afdscope.deploy.result import DeploymentResult, Evaluation
from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario


@dataclass(frozen=True)
class Constraint:
    """A TPOT SLO, or equivalently a floor on tokens/s per user (TPOT = 1 / tokens/s per user)."""

    tpot_slo_s: float | None = None
    min_tokens_per_s_per_user: float | None = None

    def __post_init__(self):
        given = [v for v in (self.tpot_slo_s, self.min_tokens_per_s_per_user) if v is not None]
        if len(given) != 1:
            raise AfdscopeError("give exactly one of a TPOT SLO or a minimum tokens/s per user")
        if not np.isfinite(given[0]) or given[0] <= 0:
            raise AfdscopeError(f"latency constraint {given[0]!r}: give a positive, finite value")

    @property
    def tpot_limit_s(self) -> float:
        if self.tpot_slo_s is not None:
            return self.tpot_slo_s
        return 1.0 / self.min_tokens_per_s_per_user

    def describe(self) -> str:
        if self.tpot_slo_s is not None:
            return f"TPOT ≤ {self.tpot_slo_s * 1e3:g} ms"
        return f"≥ {self.min_tokens_per_s_per_user:g} tokens/s per user"


@dataclass(frozen=True)
class SearchSpace:
    max_gpus: int = 256
    max_batch_per_gpu: int = 1024
    ep_overlaps: tuple[str, ...] = ("2bo", "nbo")
    micro_batches: tuple[int, ...] = (2, 3, 4)
    # Tensor parallelism inside data-parallel attention groups, kept to sizes that split the K/V heads
    # (beyond them, or with MLA's latent, every GPU re-reads the group's whole KV cache).
    attention_tp: tuple[int, ...] = (1, 2, 4, 8)
    # Expert tensor parallelism on the AFD FFN side, tried where there are more FFN GPUs than experts.
    expert_tp: tuple[int, ...] = (1, 2, 4)

    def attention_tps(self, model: MoEModel) -> tuple[int, ...]:
        return tuple(t for t in self.attention_tp if t == 1 or t <= model.attention.num_kv_heads)

    def expert_tps(self, model: MoEModel, ffn_gpus: int, gpus_per_node: int) -> tuple[int, ...]:
        return tuple(
            e
            for e in self.expert_tp
            if e == 1
            or (
                ffn_gpus >= model.n_routed_experts
                and gpus_per_node % e == 0
                and ffn_gpus % e == 0
                and model.moe_intermediate_size % e == 0
            )
        )

    def __post_init__(self):
        if self.max_gpus < 2:
            raise AfdscopeError(f"max GPUs = {self.max_gpus}: a search needs at least 2 GPUs")
        if not 1 <= self.max_batch_per_gpu <= 65536:
            raise AfdscopeError(f"max batch per GPU = {self.max_batch_per_gpu}: give 1 … 65536")


DEFAULT_SPACE = SearchSpace()


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both x and y (larger is better), by ascending x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((-y, -x))  # x descending, ties by y descending
    ys = y[order]
    best_so_far = np.maximum.accumulate(np.r_[-np.inf, ys[:-1]])
    keep = order[ys > best_so_far]
    return keep[np.argsort(x[keep], kind="stable")]


@dataclass(frozen=True)
class ModeSearch:
    mode: str
    best: DeploymentResult | None  # highest tokens/s per GPU
    best_cost: DeploymentResult | None  # lowest $ per 1M output tokens
    pareto: tuple[DeploymentResult, ...]
    evaluated: int
    feasible: int
    why_none: str | None = None  # when nothing is feasible: the commonest reason

    def as_dict(self) -> dict:
        return {
            "best": None if self.best is None else self.best.as_dict(),
            "best_cost": None if self.best_cost is None else self.best_cost.as_dict(),
            "pareto": [p.as_dict() for p in self.pareto],
            "evaluated": self.evaluated,
            "feasible": self.feasible,
            "why_none": self.why_none,
        }


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # "afd", "ep", or None when neither is feasible
    ratio: float | None  # best AFD / best EP tokens/s per GPU
    reason: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SearchResult:
    ep: ModeSearch
    afd: ModeSearch
    verdict: Verdict
    constraint: Constraint
    seconds: float
    inputs: dict = field(default_factory=dict)

    @property
    def evaluated(self) -> int:
        return self.ep.evaluated + self.afd.evaluated

    def as_dict(self) -> dict:
        return {
            "ep": self.ep.as_dict(),
            "afd": self.afd.as_dict(),
            "verdict": self.verdict.as_dict(),
            "constraint": self.constraint.describe(),
            "evaluated_configs": self.evaluated,
            "seconds": self.seconds,
            "inputs": self.inputs,
        }


# --------------------------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class _Group:
    """One evaluator call: everything but the swept arrays."""

    mode: str
    evaluate: Callable[[], Evaluation]
    size: int


def _ep_groups(model, hardware, scenario, space, options) -> list[_Group]:
    groups = []
    for hw in hardware:
        unit = hw.gpus_per_node
        for overlap in space.ep_overlaps:
            opts = replace(options, ep_overlap=overlap)
            step = 2 if overlap == "2bo" else 1
            batches = np.arange(step, space.max_batch_per_gpu + 1, step, dtype=float)
            for gpus in range(unit, space.max_gpus + 1, unit):
                for tp in space.attention_tps(model):
                    if gpus % tp:
                        continue
                    groups.append(
                        _Group(
                            "ep",
                            lambda hw=hw, g=gpus, b=batches, o=opts, tp=tp: evaluate_ep(
                                model, hw, scenario, g, b, o, attention_tp=tp
                            ),
                            batches.size,
                        )
                    )
    return groups


def _afd_unit(attention_hw: Hardware, ffn_hw: Hardware) -> int:
    """GPU granularity of each role: whole nodes, or half nodes (a compute tray) inside one Superpod."""
    if attention_hw.name == ffn_hw.name and attention_hw.is_superpod:
        return max(1, attention_hw.gpus_per_node // 2)
    return attention_hw.gpus_per_node


def _afd_groups(model, attention_hws, ffn_hws, scenario, space, options) -> list[_Group]:
    groups = []
    for a_hw in attention_hws:
        for f_hw in ffn_hws:
            unit = _afd_unit(a_hw, f_hw)
            for m in space.micro_batches:
                batches = np.arange(m, space.max_batch_per_gpu + 1, m, dtype=float)[:, None]
                for ffn in range(unit, space.max_gpus, unit):
                    for tp in space.attention_tps(model):
                        step = int(np.lcm(unit, tp))
                        attn = np.arange(step, space.max_gpus - ffn + 1, step, dtype=float)[None, :]
                        if attn.size == 0:
                            continue
                        for etp in space.expert_tps(model, ffn, f_hw.gpus_per_node):
                            groups.append(
                                _Group(
                                    "afd",
                                    lambda a=a_hw, f=f_hw, n=ffn, m=m, b=batches, na=attn, tp=tp, e=etp: (
                                        evaluate_afd(
                                            model,
                                            a,
                                            f,
                                            scenario,
                                            na,
                                            n,
                                            m,
                                            b,
                                            options,
                                            whole_nodes=False,
                                            attention_tp=tp,
                                            expert_tp=e,
                                        )
                                    ),
                                    batches.size * attn.size,
                                )
                            )
    return groups


@dataclass
class _Candidates:
    """Points kept from every group: their metrics and where to find them again."""

    x: list = field(default_factory=list)  # tokens/s per user
    y: list = field(default_factory=list)  # tokens/s per GPU
    cost: list = field(default_factory=list)  # $ per 1M tokens (inf when unknown)
    gpus: list = field(default_factory=list)  # total GPUs of the deployment
    group: list = field(default_factory=list)
    index: list = field(default_factory=list)  # flat index inside the group's arrays
    reasons: dict = field(default_factory=dict)

    def add(self, gi: int, ev: Evaluation, limit_s: float) -> int:
        fits = ev.fits
        ok = ev.meets(limit_s)
        n_ok = int(ok.sum())
        if not n_ok:
            key = "memory" if not fits.any() else "slo"
            self.reasons[key] = self.reasons.get(key, 0) + 1
            if key == "memory" and ev.memory_reasons:
                self.reasons.setdefault("memory_text", ev.memory_reasons[0])
            return 0
        flat = np.flatnonzero(ok)
        x = ev.tokens_per_s_per_user.ravel()[flat]
        y = ev.tokens_per_s_per_gpu.ravel()[flat]
        cost = ev.usd_per_million_tokens
        c = (
            np.full(flat.size, np.inf)
            if cost is None
            else np.broadcast_to(cost, ev.step_s.shape).ravel()[flat]
        )
        keep = np.union1d(pareto_front(x, y), [int(np.argmax(y)), int(np.argmin(c))])
        self.x += list(x[keep])
        self.y += list(y[keep])
        self.cost += list(c[keep])
        self.gpus += list(np.broadcast_to(ev.total_gpus, ev.step_s.shape).ravel()[flat][keep])
        self.group += [gi] * keep.size
        self.index += list(flat[keep])
        return n_ok


def _search_mode(mode, groups, constraint, progress, done) -> tuple[ModeSearch, int]:
    cand = _Candidates()
    feasible = evaluated = 0
    for gi, g in enumerate(groups):
        feasible += cand.add(gi, g.evaluate(), constraint.tpot_limit_s)
        evaluated += g.size
        done += g.size
        if progress:
            progress(done)
    if not cand.x:
        why = _why_none(mode, cand.reasons, constraint)
        return ModeSearch(mode, None, None, (), evaluated, 0, why), done
    x, y, c = np.array(cand.x), np.array(cand.y), np.array(cand.cost)
    cache: dict[int, Evaluation] = {}

    def result(i: int) -> DeploymentResult:
        gi = cand.group[i]
        if gi not in cache:
            cache[gi] = groups[gi].evaluate()
        ev = cache[gi]
        return ev.point(np.unravel_index(cand.index[i], ev.step_s.shape))

    front = pareto_front(x, y)
    # Ties (equal throughput from different GPU counts) go to the cheaper, then the smaller deployment;
    # cost ties to the faster, then the smaller one.
    gpus = np.array(cand.gpus, dtype=float)
    # Costs and throughputs equal to 9 digits are equal (float noise must not pick a bigger deployment).
    c9, y9 = _rounded(c), _rounded(y)
    fastest = np.flatnonzero(y9 == y9.max())
    best = result(int(fastest[np.lexsort((gpus[fastest], c9[fastest]))[0]]))
    best_cost = None
    if np.isfinite(c).any():
        cheapest = np.flatnonzero(c9 == c9.min())
        best_cost = result(int(cheapest[np.lexsort((gpus[cheapest], -y9[cheapest]))[0]]))
    return ModeSearch(mode, best, best_cost, tuple(result(int(i)) for i in front), evaluated, feasible), done


def _rounded(v: np.ndarray) -> np.ndarray:
    """Values rounded to 9 significant digits (inf stays inf)."""
    finite = np.isfinite(v) & (v != 0)
    out = v.copy()
    scale = 10.0 ** (8 - np.floor(np.log10(np.abs(v[finite]))))
    out[finite] = np.round(v[finite] * scale) / scale
    return out


def _why_none(mode: str, reasons: dict, constraint: Constraint) -> str:
    if reasons.get("slo", 0) >= reasons.get("memory", 0):
        return f"no {mode.upper()} configuration meets {constraint.describe()}"
    return f"no {mode.upper()} configuration fits in memory (e.g. {reasons.get('memory_text', 'weights')})"


def _verdict(ep: ModeSearch, afd: ModeSearch) -> Verdict:
    if ep.best is None and afd.best is None:
        return Verdict(None, None, f"neither mode is feasible: {ep.why_none}; {afd.why_none}")
    if afd.best is None:
        return Verdict("ep", None, f"{afd.why_none}")
    if ep.best is None:
        return Verdict("afd", None, f"{ep.why_none}")
    ratio = afd.best.tokens_per_s_per_gpu / ep.best.tokens_per_s_per_gpu
    winner, loser = (afd, ep) if ratio > 1 else (ep, afd)
    return Verdict(
        winner.mode,
        ratio,
        f"{winner.mode.upper()} delivers {max(ratio, 1 / ratio):.2f}× the tokens/s per GPU; "
        f"{loser.mode.upper()} is limited by {limit_sentence(loser.best)}",
    )


def limit_sentence(r: DeploymentResult) -> str:
    """What holds a deployment back, in words a capacity planner uses."""
    layer = r.per_layer_us
    transfers = f"{layer['dispatch']:.0f} + {layer['combine']:.0f} µs of transfers per layer"
    if r.bottleneck == "communication" and r.mode == "afd":
        fabric = r.config.get("fabric", "scale-out")
        return f"{fabric} bandwidth between attention and FFN ({transfers}; FFN HFU {r.hfu_ffn:.0%})"
    if r.bottleneck == "communication":
        compute = layer["attention"] + layer["ffn"]
        return f"exposed all-to-all communication ({transfers} against {compute:.0f} µs of compute)"
    if r.bottleneck == "attention":
        per = "per GPU" if r.mode == "ep" else "per attention GPU"
        return f"attention time ({layer['attention']:.0f} µs per layer at {r.batch_per_gpu} requests {per})"
    if r.bottleneck == "ffn":
        return f"expert GEMM time ({layer['ffn']:.0f} µs per layer; FFN HFU {r.hfu_ffn:.0%})"
    return "memory capacity"


def search(
    model: MoEModel,
    scenario: Scenario,
    constraint: Constraint,
    hardware: Sequence[Hardware],
    attention_hardware: Sequence[Hardware] | None = None,
    ffn_hardware: Sequence[Hardware] | None = None,
    space: SearchSpace = DEFAULT_SPACE,
    options: DeployOptions = DEFAULT_OPTIONS,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Search EP over `hardware` and AFD over every (attention, FFN) hardware pair of the candidates
    (default: `hardware` for both roles). `progress(done, total)` is called as groups finish."""
    if not hardware:
        raise AfdscopeError("give at least one hardware candidate")
    t0 = time.perf_counter()
    attention_hardware = list(attention_hardware or hardware)
    ffn_hardware = list(ffn_hardware or hardware)
    ep_groups = _ep_groups(model, hardware, scenario, space, options)
    afd_groups = _afd_groups(model, attention_hardware, ffn_hardware, scenario, space, options)
    total = sum(g.size for g in ep_groups + afd_groups)

    def tick(done: int) -> None:
        if progress:
            progress(done, total)

    ep, done = _search_mode("ep", ep_groups, constraint, tick, 0)
    afd, _ = _search_mode("afd", afd_groups, constraint, tick, done)
    return SearchResult(
        ep=ep,
        afd=afd,
        verdict=_verdict(ep, afd),
        constraint=constraint,
        seconds=time.perf_counter() - t0,
        inputs={
            "model": model.name,
            "hardware": [h.name for h in hardware],
            "attention_hardware": [h.name for h in attention_hardware],
            "ffn_hardware": [h.name for h in ffn_hardware],
            "context_tokens": scenario.context_tokens,
            "mtp_draft_tokens": scenario.mtp_draft_tokens,
            "mtp_acceptance": scenario.mtp_acceptance,
            "max_gpus": space.max_gpus,
            "preset_overrides": {
                "expert_load_factor": float(np.max(options.expert_load_factor)),
                "comm_load_factor": float(np.max(options.comm_load_factor)),
                "redundant_experts": options.memory.redundant_experts,
            },
        },
    )
