"""What a search sweeps: the latency constraint, the search space, and the evaluator groups it makes.

Each group is one evaluator call covering a whole set of configurations at once — every batch size (and,
for AFD, every attention node count) for one GPU count / FFN size / micro-batch count / hardware pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.ep import evaluate_ep
from afdscope.deploy.result import Evaluation
from afdscope.errors import AfdscopeError
from afdscope.specs.deployment import AfdDeployment, EpDeployment, SharedOn, eplb_redundant
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel


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
    # EPLB replicas tried per expert group, as a share of the experts: 0 (the slots an uneven split leaves
    # free only) and 1/8 (DeepSeek's and SGLang's 32 for 256 experts), rounded up to fill every GPU's
    # slots (`eplb_redundant`). A --redundant-experts given by hand replaces them.
    eplb_shares: tuple[float, ...] = (0.0, 0.125)
    # EPLB slots given by hand (None: the `eplb_shares` above), and where AFD runs the shared experts.
    redundant_experts: int | None = None
    shared_experts_on: SharedOn = "attention"

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


def _redundants(model: MoEModel, group: int, space: SearchSpace, given: int | None) -> list[int]:
    if given is not None:
        return [given]
    return sorted({eplb_redundant(model.n_routed_experts, group, f) for f in space.eplb_shares})


@dataclass(frozen=True)
class Group:
    """One evaluator call: `evaluate` is the evaluator with every argument bound (a `functools.partial`),
    `size` the number of configurations its swept arrays hold."""

    mode: str
    evaluate: Callable[[], Evaluation]
    size: int


def ep_groups(model, hardware, scenario, space, calibration, skew=None) -> list[Group]:
    groups = []
    for hw in hardware:
        unit = hw.gpus_per_node
        for overlap in space.ep_overlaps:
            step = 2 if overlap == "2bo" else 1
            batches = np.arange(step, space.max_batch_per_gpu + 1, step, dtype=float)
            for gpus in range(unit, space.max_gpus + 1, unit):
                for tp in space.attention_tps(model):
                    if gpus % tp:
                        continue
                    for redundant in _redundants(model, gpus, space, space.redundant_experts):
                        dep = EpDeployment(
                            hardware=hw,
                            gpus=gpus,
                            overlap=overlap,
                            attention_tp=tp,
                            redundant_experts=redundant,
                        )
                        call = partial(evaluate_ep, model, dep, scenario, batches, calibration, skew)
                        groups.append(Group("ep", call, batches.size))
    return groups


def afd_unit(attention_hw: Hardware, ffn_hw: Hardware) -> int:
    """GPU granularity of each role: whole nodes, or half nodes (a compute tray) inside one Superpod."""
    if attention_hw.name == ffn_hw.name and attention_hw.is_superpod:
        return max(1, attention_hw.gpus_per_node // 2)
    return attention_hw.gpus_per_node


def afd_groups(model, attention_hws, ffn_hws, scenario, space, calibration, skew=None) -> list[Group]:
    groups = []
    for a_hw in attention_hws:
        for f_hw in ffn_hws:
            unit = afd_unit(a_hw, f_hw)
            for m in space.micro_batches:
                batches = np.arange(m, space.max_batch_per_gpu + 1, m, dtype=float)[:, None]
                for ffn in range(unit, space.max_gpus, unit):
                    for tp in space.attention_tps(model):
                        step = int(np.lcm(unit, tp))
                        attn = np.arange(step, space.max_gpus - ffn + 1, step, dtype=float)[None, :]
                        if attn.size == 0:
                            continue
                        for etp in space.expert_tps(model, ffn, f_hw.gpus_per_node):
                            group = max(ffn // etp, 1)
                            given = space.redundant_experts
                            for redundant in _redundants(model, group, space, given):
                                dep = AfdDeployment(
                                    attention_hardware=a_hw,
                                    ffn_hardware=f_hw,
                                    attention_gpus=step,
                                    ffn_gpus=ffn,
                                    micro_batches=m,
                                    attention_tp=tp,
                                    expert_tp=etp,
                                    shared_experts_on=space.shared_experts_on,
                                    whole_nodes=False,
                                    redundant_experts=redundant,
                                )
                                call = partial(
                                    evaluate_afd,
                                    model,
                                    dep,
                                    scenario,
                                    batches,
                                    calibration,
                                    skew,
                                    attention_gpus=attn,
                                )
                                groups.append(Group("afd", call, batches.size * attn.size))
    return groups
