"""What is being served: context length, numeric formats, multi-token prediction.

Immutable and validated once; the operator models and deployment evaluators read it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

WeightDtype = Literal["fp8", "bf16", "fp4"]
KvDtype = Literal["fp8", "bf16"]
ComputeDtype = Literal["fp8", "bf16"]

# Bytes per stored element. FP8 block scales (one per 128×128 block) are < 0.01 % and left out;
# MXFP4 carries one 8-bit scale per 32 elements: 4 + 8/32 bits.
DTYPE_BYTES: dict[str, float] = {"fp4": 0.53125, "fp8": 1.0, "bf16": 2.0}


class Precision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: WeightDtype = "fp8"  # expert, dense-MLP and projection weights (GEMMs run at this precision)
    kv: KvDtype = "bf16"  # KV cache
    attention: ComputeDtype = "bf16"  # core attention math (FlashMLA/FlashAttention)

    @property
    def weight_bytes(self) -> float:
        return DTYPE_BYTES[self.weights]

    @property
    def kv_bytes(self) -> float:
        return DTYPE_BYTES[self.kv]

    @property
    def gemm_dtype(self) -> str:
        """The format GEMMs are written for; `Hardware.runnable_dtype` says what a device runs it at."""
        return self.weights


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
