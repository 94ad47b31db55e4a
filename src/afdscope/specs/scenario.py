"""What is being served: context length, numeric formats, multi-token prediction.

Immutable and validated once; the operator models and deployment evaluators read it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

WeightDtype = Literal["fp8", "bf16", "fp4", "int8"]
KvDtype = Literal["fp8", "bf16"]
ComputeDtype = Literal["fp8", "bf16"]
DispatchDtype = Literal["fp8", "fp4", "int8", "bf16"]
CombineDtype = Literal["bf16", "fp8", "int8"]

# Bytes per stored weight element. FP8 block scales (one FP32 per 128×128 block) and INT8 per-channel
# scales (one per output row of K ≥ 2,048 elements) are < 0.2 % and left out; MXFP4 carries one 8-bit
# scale per 32 elements: 4 + 8/32 bits.
DTYPE_BYTES: dict[str, float] = {"fp4": 0.53125, "fp8": 1.0, "int8": 1.0, "bf16": 2.0}


class Precision(BaseModel):
    """Numeric formats of one deployment.

    `weights` applies to every GEMM (attention projections, dense and shared MLPs, routed experts);
    `expert_weights`, when set, overrides it for the routed experts only (NVFP4 deployments quantise the
    routed experts and keep the rest FP8/BF16). `dispatch` and `combine` are the formats of the MoE
    all-to-all payloads (ops/comm.py adds their scales).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: WeightDtype = "fp8"  # every GEMM's weights (GEMMs run at this precision)
    expert_weights: WeightDtype | None = None  # routed experts only; None = same as `weights`
    kv: KvDtype = "bf16"  # KV cache
    attention: ComputeDtype = "bf16"  # core attention math (FlashMLA/FlashAttention)
    dispatch: DispatchDtype = "fp8"  # activations sent to the experts (EP dispatch / AFD A→F)
    combine: CombineDtype = "bf16"  # expert outputs sent back (EP combine / AFD F→A)

    @property
    def weight_bytes(self) -> float:
        return DTYPE_BYTES[self.weights]

    @property
    def expert_weight_dtype(self) -> str:
        """The routed experts' weight format (`expert_weights`, or `weights` when it is None)."""
        return self.expert_weights or self.weights

    @property
    def expert_weight_bytes(self) -> float:
        return DTYPE_BYTES[self.expert_weight_dtype]

    @property
    def kv_bytes(self) -> float:
        return DTYPE_BYTES[self.kv]

    @property
    def gemm_dtype(self) -> str:
        """The format GEMMs other than the routed experts run at; `Hardware.runnable_dtype` checks that the
        device has it."""
        return self.weights

    @property
    def expert_gemm_dtype(self) -> str:
        """The format the routed-expert GEMMs run at."""
        return self.expert_weight_dtype


class Scenario(BaseModel):
    """Decode of requests at a given mean context length."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    context_tokens: PositiveInt  # mean KV length per request during decode
    precision: Precision = Precision()
    mtp_draft_tokens: int = Field(0, ge=0, le=8)  # n draft tokens verified per step
    mtp_acceptance: float = Field(0.0, ge=0, le=1)  # probability each successive draft is accepted

    @property
    def query_positions(self) -> int:
        """Positions each request pushes through every layer per step: 1 + n, accepted or not."""
        return 1 + self.mtp_draft_tokens

    @property
    def tokens_per_step(self) -> float:
        """Expected output tokens per request per step: 1 + a + a² + … + aⁿ (a draft counts only if all
        before it were accepted)."""
        a = self.mtp_acceptance
        return 1.0 + sum(a**i for i in range(1, self.mtp_draft_tokens + 1))
