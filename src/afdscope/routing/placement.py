"""Experts on GPUs: contiguous by expert id (expert e on GPU ⌊e·G/N⌋), or DeepSeek EPLB's greedy
replication and packing, and the weight memory EPLB's redundant slots cost (spec beyond.md §F)."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.routing.popularity import Popularity, _check_count
from afdscope.routing.statistics import _ratio
from afdscope.specs.model import MoEModel


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
