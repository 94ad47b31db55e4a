"""What is deployed, as values: large-scale EP (`EpDeployment`) or attention-FFN disaggregation
(`AfdDeployment`) — hardware, GPU counts, overlap or micro-batches, tensor parallelism, where the
shared experts run, the whole-node rule and EPLB's redundant expert slots.

Structure only: how kernels perform is a `Calibration` (afdscope.deploy.calibration), how routing is
skewed a `RoutingSkew` (afdscope.specs.skew). The evaluators take and return these values, so nothing
rebuilds a deployment from strings.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.validated import Validated

Overlap = Literal["2bo", "sbo", "nbo"]
SharedOn = Literal["attention", "ffn", "dedicated"]
AFD_MICRO_BATCHES = (2, 3, 4)
# EPLB's usual replicas when a deployment names none: 1/8 of the experts (DeepSeek's and SGLang's 32 for
# 256), rounded up so every expert rank's slots are filled (the memory holds ⌈slots / ranks⌉ anyway).
USUAL_EPLB_SHARE = 0.125


def eplb_redundant(n_experts: int, ranks: int, share: float = USUAL_EPLB_SHARE) -> int:
    """Redundant slots for `share` of the experts over `ranks` expert ranks, filled up to every rank's
    ceil: 256 experts, share 1/8 on 72 GPUs → 288 slots → 32; on 128 GPUs → 384 → 128; share 0 → the
    free slots of an uneven split (256 on 48 → 288 → 32)."""
    slots = -(-round(n_experts * (1.0 + share)) // ranks) * ranks
    return slots - n_experts


class EpDeployment(Validated):
    """`gpus` GPUs, each running data-parallel attention and its share of the experts.

    overlap: two-batch (2bo: two micro-batches), single-batch (sbo: communication behind the shared
    expert) or none (nbo), paper Table 2. attention_tp: tensor parallelism inside each data-parallel
    attention group. redundant_experts: EPLB replica slots over the whole EP group, per MoE layer (None:
    the usual, `eplb_redundant`; 0: none).
    shared_expert_gpus: GPUs of the same hardware that run only the shared experts for every token
    (CloudMatrix-Infer, xDeepServe); 0 = every EP GPU runs its own tokens' shared experts.
    """

    hardware: Hardware
    gpus: int
    overlap: Overlap = "2bo"
    attention_tp: int = Field(1, ge=1)
    redundant_experts: int | None = Field(None, ge=0)
    shared_expert_gpus: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _counts(self):
        if self.gpus < 1:
            raise AfdscopeError(f"gpus = {self.gpus}: an EP deployment needs at least 1 GPU")
        if self.gpus % self.attention_tp:
            raise AfdscopeError(f"attention TP {self.attention_tp} does not divide {self.gpus} GPUs")
        return self

    mode: Literal["ep"] = "ep"

    @property
    def micro_batches(self) -> int:
        """Micro-batches per step: two under two-batch overlap, else one."""
        return 2 if self.overlap == "2bo" else 1

    @property
    def total_gpus(self) -> int:
        return self.gpus + self.shared_expert_gpus

    @property
    def replicated_moe(self) -> bool:
        """One tensor-parallel attention group spans every EP GPU: each holds all the group's tokens after
        the attention all-reduce, so the MoE needs no dispatch (ops.comm.replicated_moe_comm)."""
        return self.gpus > 1 and self.attention_tp == self.gpus

    def redundant_for(self, model: MoEModel) -> int:
        """EPLB replica slots for `model`: the ones given, or the usual."""
        if self.redundant_experts is not None:
            return self.redundant_experts
        return eplb_redundant(model.n_routed_experts, self.gpus)

    def experts_per_gpu(self, model: MoEModel) -> int:
        return math.ceil((model.n_routed_experts + self.redundant_for(model)) / self.gpus)


class AfdDeployment(Validated):
    """`attention_gpus` GPUs of `attention_hardware` run attention (and the dense layers, LM head, MTP
    and, by default, the shared experts); `ffn_gpus` GPUs of `ffn_hardware` hold the routed experts;
    `micro_batches` ping-pong between the sides.

    expert_tp: each expert cut into that many shards of M / expert_tp on as many FFN GPUs of one node.
    whole_nodes: both sides come in whole nodes unless the traffic stays inside one Superpod.
    attention_domains: D attention pools of attention_gpus / D GPUs each take turns on the one FFN pool,
    each with its own `micro_batches` (xDeepServe: three domains × two micro-batches over EP288).
    shared_experts_on "dedicated": `shared_expert_gpus` GPUs of `ffn_hardware` run only the shared experts.
    """

    attention_hardware: Hardware
    ffn_hardware: Hardware
    attention_gpus: int
    ffn_gpus: int
    micro_batches: int = 3
    attention_tp: int = 1
    expert_tp: int = 1
    shared_experts_on: SharedOn = "attention"
    whole_nodes: bool = True
    redundant_experts: int | None = Field(None, ge=0)  # EPLB slots on the FFN side (None: the usual)
    attention_domains: int = Field(1, ge=1)
    shared_expert_gpus: int = Field(0, ge=0)

    mode: Literal["afd"] = "afd"

    @model_validator(mode="after")
    def _counts(self):
        if self.attention_gpus < 1 or self.ffn_gpus < 1:
            raise AfdscopeError(
                f"attention GPUs = {self.attention_gpus}, FFN GPUs = {self.ffn_gpus}: "
                "AFD needs at least 1 of each"
            )
        if self.micro_batches not in AFD_MICRO_BATCHES:
            raise AfdscopeError(f"micro-batches = {self.micro_batches}: AFD pipelines use 2, 3 or 4")
        if self.attention_gpus % self.attention_domains:
            n, d = self.attention_gpus, self.attention_domains
            raise AfdscopeError(f"{d} attention domains do not divide {n} attention GPUs")
        if (self.shared_experts_on == "dedicated") != (self.shared_expert_gpus > 0):
            raise AfdscopeError(
                "shared experts on dedicated GPUs need shared_expert_gpus ≥ 1 (and only then)"
            )
        return self

    @property
    def total_gpus(self) -> int:
        return self.attention_gpus + self.ffn_gpus + self.shared_expert_gpus

    def redundant_for(self, model: MoEModel) -> int:
        """EPLB replica slots for `model` over the FFN side's expert ranks: the ones given, or the usual."""
        if self.redundant_experts is not None:
            return self.redundant_experts
        return eplb_redundant(model.n_routed_experts, max(self.ffn_gpus // self.expert_tp, 1))

    def experts_per_gpu(self, model: MoEModel) -> int:
        """Expert shards on one FFN GPU (EPLB replicas included)."""
        slots = model.n_routed_experts + self.redundant_for(model)
        return math.ceil(slots * self.expert_tp / self.ffn_gpus)


Deployment = EpDeployment | AfdDeployment
