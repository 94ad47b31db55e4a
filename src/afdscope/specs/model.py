"""A Mixture-of-Experts decoder as an immutable spec: shapes, parameter counts, KV-cache size.

Parameter counts are weight-matrix elements (norms, biases and rotary tables are <0.01 % and left out).
`total_params` counts every stored weight; what `active_params` counts of the vocabulary matrices differs
between publishers (see there). MTP (multi-token-prediction) modules are left out of both, as the published
figures leave them out, and are offered separately as `mtp_params`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

AttentionKind = Literal["mla", "gqa", "mfa"]


class AttentionSpec(BaseModel):
    """One decoder layer's attention. All layers share it; only their windows differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AttentionKind
    num_q_heads: PositiveInt
    # MLA caches one latent shared by all heads (absorbed form is MQA), so it is 1 there.
    num_kv_heads: PositiveInt
    head_dim: PositiveInt  # GQA/MFA: per-head dim; MLA: the q/k head dim, nope + rope
    q_lora_rank: PositiveInt | None = None
    kv_lora_rank: PositiveInt | None = None
    qk_nope_head_dim: PositiveInt | None = None
    qk_rope_head_dim: PositiveInt | None = None
    v_head_dim: PositiveInt | None = None
    share_q_dim: PositiveInt | None = None  # Step3 MFA: low-rank query projection
    sliding_window: PositiveInt | None = None  # the window (or chunk) of the windowed layers
    layer_windows: tuple[PositiveInt | None, ...] = ()  # per layer; None = full attention

    @model_validator(mode="after")
    def _check(self) -> AttentionSpec:
        if self.kind == "mla":
            missing = [
                f
                for f in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
                if getattr(self, f) is None
            ]
            if missing:
                raise ValueError(f"MLA attention needs {', '.join(missing)}")
        elif self.num_q_heads % self.num_kv_heads:
            raise ValueError(
                f"num_q_heads {self.num_q_heads} is not a multiple of num_kv_heads {self.num_kv_heads}"
            )
        return self

    def kv_elements_per_token_layer(self) -> int:
        """Cached elements per token in one layer: MLA keeps the compressed latent plus the shared rope
        key; GQA and MFA keep one K and one V vector per KV head (MFA has a single KV head)."""
        if self.kind == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    def kv_bytes_per_token_layer(self, kv_dtype_bytes: float = 2) -> float:
        """KV bytes one token costs one layer, as decode kernels store it. FP8 MLA (FlashMLA's FP8 cache,
        DeepSeek-V3.2): the latent in FP8 with one FP32 scale per 128 values, the RoPE part kept in
        BF16 — 512 + 4·4 + 64·2 = 656 B for DeepSeek (not 576). Otherwise elements × bytes per element
        (FP8 GQA caches carry per-tensor scales only)."""
        if self.kind == "mla" and kv_dtype_bytes == 1:
            latent = self.kv_lora_rank
            return latent + math.ceil(latent / 128) * 4.0 + self.qk_rope_head_dim * 2.0
        return self.kv_elements_per_token_layer() * kv_dtype_bytes

    def params(self, hidden_size: int) -> int:
        """Weight elements of the q/k/v/o projections of one layer."""
        h, heads = hidden_size, self.num_q_heads
        if self.kind == "mla":
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            q = (h * self.q_lora_rank + self.q_lora_rank * heads * qk) if self.q_lora_rank else h * heads * qk
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim)
            kv_b = self.kv_lora_rank * heads * (self.qk_nope_head_dim + self.v_head_dim)
            return q + kv_a + kv_b + heads * self.v_head_dim * h
        d = self.head_dim
        q = (h * self.share_q_dim + self.share_q_dim * heads * d) if self.share_q_dim else h * heads * d
        return q + 2 * h * self.num_kv_heads * d + heads * d * h

    def output_params(self, hidden_size: int) -> int:
        """Weight elements of the projections that run after the core: the output projection, and for
        MLA the absorbed W_UV before it (kv_b's value half). Both split by heads under tensor parallelism."""
        if self.kind == "mla":
            return (self.kv_lora_rank + hidden_size) * self.num_q_heads * self.v_head_dim
        return self.num_q_heads * self.head_dim * hidden_size

    def replicated_params(self, hidden_size: int, tp: int) -> int:
        """Projection weights every GPU of a tensor-parallel group of `tp` keeps whole: the low-rank
        down-projections (MLA q_a and kv_a, MFA's shared q), and K/V heads once tp exceeds them."""
        h = hidden_size
        if tp == 1:
            return 0
        if self.kind == "mla":
            return h * (self.q_lora_rank or 0) + h * (self.kv_lora_rank + self.qk_rope_head_dim)
        down = h * self.share_q_dim if self.share_q_dim else 0
        kv_heads_per_gpu = max(1.0, self.num_kv_heads / tp)
        return down + round(2 * h * self.head_dim * (kv_heads_per_gpu - self.num_kv_heads / tp))

    def params_per_gpu(self, hidden_size: int, tp: int = 1) -> float:
        """Projection weights on one GPU when `tp` GPUs split the heads (tp = 1: all of them)."""
        rep = self.replicated_params(hidden_size, tp)
        if self.kind == "mla" or self.share_q_dim:
            return rep + (self.params(hidden_size) - rep) / tp
        # GQA: split parts divide by tp; K/V heads beyond tp are replicated (rep holds the excess).
        return self.params(hidden_size) / tp + rep

    def kv_share(self, tp: int = 1) -> float:
        """Fraction of a request's KV one GPU of a `tp` group reads and keeps: the K/V heads split
        up to their count, then replicate; MLA's latent and MFA's single head replicate always."""
        return 1.0 / min(tp, self.num_kv_heads)


class MoEModel(BaseModel):
    """Shapes of a MoE decoder from its config.json. Layer indices are 0-based."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)  # catalog short name, or the config file's stem
    display_name: str
    source: str  # the config file it was read from
    model_type: str
    hidden_size: PositiveInt
    vocab_size: PositiveInt
    tie_word_embeddings: bool
    num_layers: PositiveInt  # decoder layers, MTP excluded
    moe_layers: tuple[NonNegativeInt, ...]
    n_routed_experts: PositiveInt
    top_k: PositiveInt
    moe_intermediate_size: PositiveInt
    n_shared_experts: NonNegativeInt
    shared_intermediate_size: NonNegativeInt  # of ONE shared expert; 0 if none
    dense_intermediate_size: NonNegativeInt  # of the dense layers' MLP; 0 if there are none
    n_group: PositiveInt | None = None
    topk_group: PositiveInt | None = None
    mtp_layers: NonNegativeInt = 0
    attention: AttentionSpec

    @model_validator(mode="after")
    def _check(self) -> MoEModel:
        if not self.moe_layers:
            raise ValueError("no MoE layers")
        if list(self.moe_layers) != sorted(set(self.moe_layers)) or self.moe_layers[-1] >= self.num_layers:
            raise ValueError(f"moe_layers must be distinct, sorted and < num_layers {self.num_layers}")
        if self.top_k > self.n_routed_experts:
            raise ValueError(f"top_k {self.top_k} exceeds n_routed_experts {self.n_routed_experts}")
        if self.n_dense_layers and not self.dense_intermediate_size:
            raise ValueError(f"{self.n_dense_layers} dense layers but dense_intermediate_size is 0")
        if (self.n_shared_experts > 0) != (self.shared_intermediate_size > 0):
            raise ValueError("n_shared_experts and shared_intermediate_size must both be 0 or both > 0")
        if len(self.attention.layer_windows) != self.num_layers:
            raise ValueError(f"attention.layer_windows needs {self.num_layers} entries")
        return self

    # --- layers -----------------------------------------------------------------------------------
    @property
    def n_moe_layers(self) -> int:
        return len(self.moe_layers)

    @property
    def n_dense_layers(self) -> int:
        return self.num_layers - self.n_moe_layers

    # --- parameters (weight elements) ---------------------------------------------------------------
    @property
    def routed_expert_params(self) -> int:
        """One routed expert: gate, up and down projections."""
        return 3 * self.hidden_size * self.moe_intermediate_size

    @property
    def router_params_per_layer(self) -> int:
        return self.hidden_size * self.n_routed_experts

    @property
    def shared_expert_params_per_layer(self) -> int:
        return self.n_shared_experts * 3 * self.hidden_size * self.shared_intermediate_size

    @property
    def dense_mlp_params_per_layer(self) -> int:
        return 3 * self.hidden_size * self.dense_intermediate_size

    @property
    def attention_params_per_layer(self) -> int:
        return self.attention.params(self.hidden_size)

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        """Stored LM-head weights: 0 when tied to the embedding (the matmul still runs over V x H)."""
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def _body_params(self, experts_per_layer: int) -> int:
        moe = self.router_params_per_layer + experts_per_layer * self.routed_expert_params
        moe += self.shared_expert_params_per_layer
        return (
            self.num_layers * self.attention_params_per_layer
            + self.n_dense_layers * self.dense_mlp_params_per_layer
            + self.n_moe_layers * moe
        )

    @property
    def total_params(self) -> int:
        """Every stored weight (a tied embedding once), MTP modules excluded."""
        return self.embedding_params + self.lm_head_params + self._body_params(self.n_routed_experts)

    @property
    def active_params(self) -> int:
        """Weights one token multiplies with: attention, router, top_k routed + shared experts, dense
        MLPs and the LM head (V x H even when tied); the input embedding is a row lookup, not counted.

        Publishers differ here. This is the DeepSeek / Kimi / StepFun / ERNIE / gpt-oss convention
        (gpt-oss's 5.13B is exactly this). Qwen and Meta also count the embedding table (add
        `embedding_params`); GLM counts neither (`active_non_embedding_params`), and MiniMax-M2's "10B"
        is that count (9.8B) rounded."""
        return self.vocab_size * self.hidden_size + self._body_params(self.top_k)

    @property
    def active_non_embedding_params(self) -> int:
        """`active_params` without the LM head: the per-token weights of the decoder layers alone."""
        return self._body_params(self.top_k)

    @property
    def mtp_params(self) -> int:
        """MTP modules (not in the totals): each is one MoE decoder layer plus the 2H -> H projection
        that merges the embedding with the previous hidden state; embedding and head are shared."""
        moe = self.router_params_per_layer + self.n_routed_experts * self.routed_expert_params
        layer = self.attention_params_per_layer + moe + self.shared_expert_params_per_layer
        return self.mtp_layers * (layer + 2 * self.hidden_size * self.hidden_size)

    # --- KV cache -----------------------------------------------------------------------------------
    def kv_bytes_per_token(self, kv_dtype_bytes: float = 2) -> float:
        """KV bytes one token adds over all decoder layers (windows cap context, not this)."""
        return self.num_layers * self.attention.kv_bytes_per_token_layer(kv_dtype_bytes)

    def attended_tokens(self, context):
        """Σ over decoder layers of the tokens a query attends to: min(context, window) per layer
        (chunked layers, Llama-4, attend to context mod chunk; the window is their upper bound).
        Vectorised over `context`."""
        import numpy as np

        ctx = np.asarray(context, dtype=float)
        windows = self.attention.layer_windows
        total = np.zeros_like(ctx)
        for w in set(windows):  # a few distinct windows
            total = total + windows.count(w) * (ctx if w is None else np.minimum(ctx, w))
        return total
