"""The paper's modelling choices as named options, and presets that bundle them.

`paper` reproduces arXiv 2602.09721 exactly. The two corrections of its §10 discussion are separate
switches so a user can see how much each moves the conclusions (spec: paper-model.md §10).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from afdscope.errors import AfdscopeError

Dedup = Literal["paper", "hypergeometric"]


class PaperOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    slo_s: float = Field(0.045, gt=0)  # TPOT target; the paper does not print it, 45 ms reproduces it
    accepted_tokens_per_step: float = Field(1.7, ge=1)  # L_acc with MTP
    step_gap_s: float = Field(0.015, ge=0)  # t_g: graph launch, sync, work outside the layer pipeline
    micro_batches: int = Field(3, ge=1)  # N_BO: three-batch overlap
    gpus_per_node: int = Field(8, ge=1)  # g: the paper's deployment unit, Superpods included
    weight_bytes: float = Field(1.0, gt=0)  # FP8 experts
    dispatch_bytes_per_element: float = Field(1.0, gt=0)  # FP8 A→F
    combine_bytes_per_element: float = Field(2.0, gt=0)  # BF16 F→A
    # §10.1: the paper charges dispatch + combine to one unidirectional link. A full-duplex NIC
    # carries one micro-batch's combine while receiving another's dispatch: max instead of sum.
    full_duplex: bool = False
    # §10.2: max(1, K/N_F) assumes every token reaches every FFN node while N_F ≤ K; uniform
    # routing reaches a node with probability 1 − C(N_exp − N_exp/N_F, K)/C(N_exp, K).
    dedup: Dedup = "paper"

    @property
    def bytes_per_token_element(self) -> float:
        """Bytes that bind one link per token and hidden element (3 in the paper, 2 full duplex)."""
        if self.full_duplex:
            return max(self.dispatch_bytes_per_element, self.combine_bytes_per_element)
        return self.dispatch_bytes_per_element + self.combine_bytes_per_element


PRESETS: dict[str, PaperOptions] = {
    "paper": PaperOptions(),
    "full-duplex": PaperOptions(full_duplex=True),
    "hypergeometric": PaperOptions(dedup="hypergeometric"),
    "corrected": PaperOptions(full_duplex=True, dedup="hypergeometric"),
}


def preset(name: str, **overrides) -> PaperOptions:
    """A named preset with some fields replaced (e.g. `preset("paper", slo_s=0.05)`)."""
    try:
        base = PRESETS[name.lower()]
    except KeyError:
        raise AfdscopeError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}") from None
    values = base.model_dump() | {k: v for k, v in overrides.items() if v is not None}
    from pydantic import ValidationError

    try:
        return PaperOptions(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise AfdscopeError(f"option '{field}' = {err.get('input')!r}: {err['msg'].lower()}") from None
