"""Per-GPU memory of a deployment by role, KV capacity and the largest decode batch that fits.

Everything is bytes (SI); pure functions. `context` and `kv_per_request` may be numpy arrays (they
broadcast); the weight functions take scalars. Formulas and defaults: docs/ops/memory.md.

Where weights live:
* large-scale EP: every GPU holds all attention (DP), the dense layers, shared experts, routers,
  embedding + LM head and the MTP module's non-expert part, plus ceil((N_exp + redundant)/gpus) routed
  experts of every MoE layer.
* AFD: attention GPUs hold everything but the routed experts (shared experts optionally on the FFN side);
  FFN GPUs hold ceil((N_exp + redundant)/ffn_gpus) routed experts per MoE layer.
* The MTP module (`MoEModel.mtp_params`) is one MoE decoder layer plus a 2H -> H projection, so it is split
  exactly like a decoder layer: its routed experts are sharded with the others, the rest sits where
  attention sits. Its bytes are kept in the `mtp` role (not `routed_experts`) so the decoder's roles stay
  comparable with and without MTP; the parts add up to `mtp_params`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision
from afdscope.units import GB

SharedExpertsOn = Literal["attention", "ffn"]


@dataclass(frozen=True)
class MemoryOptions:
    # vLLM's default gpu_memory_utilization is 0.9: the rest goes to the CUDA context (~0.5 GB), cuBLAS /
    # NCCL workspaces and allocator fragmentation, none of which the buffer term below counts.
    usable_hbm_fraction: float = 0.90
    # Activation + communication buffers per GPU for DeepEP-style low-latency decode: DeepEP's LL RDMA
    # buffer for DeepSeek-V3 (128 tokens/rank, H = 7168, 256 experts, double-buffered) is ~2 GB; MoE
    # masked-layout activations, logits (batch x vocab fp32) and CUDA-graph pools make up the rest.
    buffer_bytes: float = 4e9
    # FP8 checkpoints keep embeddings and the LM head in BF16 (DeepSeek-V3's quantization_config covers
    # the Linear layers only).
    embedding_dtype_bytes: float = 2.0
    # Router (gate) weights stay BF16 too: DeepSeek-V3's Gate is not a quantised Linear, and gpt-oss's
    # MXFP4 covers the expert MLPs only. ~0.2 GB per GPU for DeepSeek-V3, so worth keeping apart.
    router_dtype_bytes: float = 2.0
    # EPLB redundant expert slots over the whole EP group (or the FFN side under AFD), per MoE layer.
    redundant_experts: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.usable_hbm_fraction <= 1:
            raise AfdscopeError(f"usable_hbm_fraction = {self.usable_hbm_fraction}; it must be in (0, 1]")
        if self.buffer_bytes < 0:
            raise AfdscopeError(f"buffer_bytes = {self.buffer_bytes}; it must be >= 0")
        for name in ("embedding_dtype_bytes", "router_dtype_bytes"):
            if getattr(self, name) <= 0:
                raise AfdscopeError(f"{name} = {getattr(self, name)}; it must be > 0")
        if not _is_int(self.redundant_experts) or self.redundant_experts < 0:
            raise AfdscopeError(f"redundant_experts = {self.redundant_experts!r}; it must be an integer >= 0")


# Role -> how a message names it.
_ROLE_NAMES = {
    "attention": "attention weights",
    "dense_mlp": "dense MLPs",
    "embedding": "the embedding",
    "lm_head": "the LM head",
    "routed_experts": "experts",
    "shared_experts": "shared experts",
    "router": "routers",
    "mtp": "the MTP module",
}


@dataclass(frozen=True)
class WeightsPerGpu:
    """Resident weight bytes on one GPU, by role."""

    attention: float = 0.0
    dense_mlp: float = 0.0
    embedding: float = 0.0
    lm_head: float = 0.0
    routed_experts: float = 0.0
    shared_experts: float = 0.0
    router: float = 0.0
    mtp: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def largest(self) -> tuple[str, float]:
        """(role, bytes) of the biggest role."""
        return max(((f.name, getattr(self, f.name)) for f in fields(self)), key=lambda rb: rb[1])

    def as_gb(self) -> dict[str, float]:
        """Role -> GB (1e9 bytes), plus "total"; plain floats for JSON."""
        out = {f.name: float(getattr(self, f.name)) / GB for f in fields(self)}
        out["total"] = float(self.total) / GB
        return out


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _check_gpus(n: object, what: str) -> None:
    if not _is_int(n) or n < 1:
        raise AfdscopeError(f"{what} = {n!r}; it must be an integer >= 1")


def _experts_per_gpu(model: MoEModel, gpus: int, options: MemoryOptions) -> int:
    """Expert slots per GPU per MoE layer: every GPU gets the same number (the busiest one sets memory)."""
    return math.ceil((model.n_routed_experts + options.redundant_experts) / gpus)


def _mtp_parts(model: MoEModel, precision: Precision, options: MemoryOptions) -> tuple[float, float, float]:
    """MTP bytes as (non-expert, shared experts, one routed expert in every MTP layer). Mirrors
    `MoEModel.mtp_params`: mtp_layers x (attention + router + N_exp routed + shared + 2H^2)."""
    n, wb, h = model.mtp_layers, precision.weight_bytes, model.hidden_size
    non_expert = n * (model.attention_params_per_layer + 2 * h * h) * wb
    non_expert += n * model.router_params_per_layer * options.router_dtype_bytes
    shared = n * model.shared_expert_params_per_layer * wb
    per_expert = n * model.routed_expert_params * wb
    return non_expert, shared, per_expert


def ep_weights_per_gpu(
    model: MoEModel,
    gpus: int,
    precision: Precision,
    options: MemoryOptions | None = None,
    attention_tp: int = 1,
) -> WeightsPerGpu:
    """Weights on each GPU of a large-scale EP deployment over `gpus` GPUs (attention data-parallel,
    optionally tensor-parallel by `attention_tp` inside each data-parallel group)."""
    options = options or MemoryOptions()
    _check_gpus(gpus, "gpus")
    wb, slots = precision.weight_bytes, _experts_per_gpu(model, gpus, options)
    mtp_non_expert, mtp_shared, mtp_expert = _mtp_parts(model, precision, options)
    return WeightsPerGpu(
        attention=_attention_bytes(model, wb, attention_tp),
        dense_mlp=model.n_dense_layers * model.dense_mlp_params_per_layer * wb,
        embedding=model.embedding_params * options.embedding_dtype_bytes,
        lm_head=model.lm_head_params * options.embedding_dtype_bytes,
        routed_experts=model.n_moe_layers * slots * model.routed_expert_params * wb,
        shared_experts=model.n_moe_layers * model.shared_expert_params_per_layer * wb,
        router=model.n_moe_layers * model.router_params_per_layer * options.router_dtype_bytes,
        mtp=mtp_non_expert + mtp_shared + slots * mtp_expert,
    )


def afd_weights_per_gpu(
    model: MoEModel,
    attention_gpus: int,
    ffn_gpus: int,
    precision: Precision,
    options: MemoryOptions | None = None,
    shared_experts_on: SharedExpertsOn = "attention",
    attention_tp: int = 1,
    expert_tp: int = 1,
) -> tuple[WeightsPerGpu, WeightsPerGpu]:
    """(attention GPU, FFN GPU) weights under AFD. Attention is data-parallel, so `attention_gpus` does not
    change the per-GPU bytes (checked only). Shared experts on the FFN side are replicated on every FFN GPU;
    `options.redundant_experts` counts slots over the FFN side."""
    options = options or MemoryOptions()
    _check_gpus(attention_gpus, "attention_gpus")
    _check_gpus(ffn_gpus, "ffn_gpus")
    if shared_experts_on not in ("attention", "ffn"):
        raise AfdscopeError(f"shared_experts_on = {shared_experts_on!r}; use 'attention' or 'ffn'")
    # Expert tensor parallelism: each expert is cut into `expert_tp` shards of M/expert_tp.
    wb = precision.weight_bytes
    slots = math.ceil((model.n_routed_experts + options.redundant_experts) * expert_tp / ffn_gpus) / expert_tp
    mtp_non_expert, mtp_shared, mtp_expert = _mtp_parts(model, precision, options)
    shared = model.n_moe_layers * model.shared_expert_params_per_layer * wb
    on_attn = shared_experts_on == "attention"
    attn = WeightsPerGpu(
        attention=_attention_bytes(model, wb, attention_tp),
        dense_mlp=model.n_dense_layers * model.dense_mlp_params_per_layer * wb,
        embedding=model.embedding_params * options.embedding_dtype_bytes,
        lm_head=model.lm_head_params * options.embedding_dtype_bytes,
        shared_experts=shared if on_attn else 0.0,
        router=model.n_moe_layers * model.router_params_per_layer * options.router_dtype_bytes,
        mtp=mtp_non_expert + (mtp_shared if on_attn else 0.0),
    )
    ffn = WeightsPerGpu(
        routed_experts=model.n_moe_layers * slots * model.routed_expert_params * wb,
        shared_experts=0.0 if on_attn else shared,
        mtp=slots * mtp_expert + (0.0 if on_attn else mtp_shared),
    )
    return attn, ffn


def _attention_bytes(model: MoEModel, weight_bytes: float, tp: int) -> float:
    """Attention weights of every decoder layer on one GPU of a `tp`-way tensor-parallel group."""
    return model.num_layers * model.attention.params_per_gpu(model.hidden_size, tp) * weight_bytes


def kv_bytes_per_request(model: MoEModel, context, precision: Precision, *, mtp_layers: int = 0):
    """KV bytes one request of `context` tokens keeps: sum over layers of min(context, window) x per-layer
    bytes per token. MTP draft positions are verified and dropped each step, so they add nothing
    persistent; an MTP module in use does keep its own full-attention KV layer (SGLang's draft KV pool):
    pass `mtp_layers=model.mtp_layers` then. Float for scalar `context`, else an array."""
    if not _is_int(mtp_layers) or mtp_layers < 0:
        raise AfdscopeError(f"mtp_layers = {mtp_layers!r}; it must be an integer >= 0")
    ctx = np.asarray(context, dtype=float)
    if np.any(ctx < 0):
        raise AfdscopeError("context must be >= 0 tokens")
    tokens = model.attended_tokens(ctx) + mtp_layers * ctx
    out = tokens * model.attention.kv_bytes_per_token_layer(precision.kv_bytes)
    return float(out) if out.ndim == 0 else out


def _free_bytes(hw: Hardware, weights: WeightsPerGpu, options: MemoryOptions) -> float:
    return hw.hbm_capacity * options.usable_hbm_fraction - weights.total - options.buffer_bytes


def max_batch_per_gpu(
    hw: Hardware, weights: WeightsPerGpu, kv_per_request, options: MemoryOptions | None = None
):
    """floor((HBM x usable - weights - buffers) / kv_per_request), 0 when nothing fits. np.int64, or an
    int64 array when `kv_per_request` is one."""
    options = options or MemoryOptions()
    kv = np.asarray(kv_per_request, dtype=float)
    if np.any(kv <= 0):
        raise AfdscopeError("kv_per_request must be > 0 bytes")
    return np.maximum(np.floor(_free_bytes(hw, weights, options) / kv), 0).astype(np.int64)


def _gb(x: float) -> str:
    return f"{x / GB:.1f}"


def _gb_short(x: float) -> str:
    """Datasheet capacities as printed there: 80, 141, 95.8."""
    return f"{x / GB:.1f}".removesuffix(".0")


def memory_reasons(
    hw: Hardware,
    weights: WeightsPerGpu,
    kv_per_request: float,
    batch: float,
    options: MemoryOptions | None = None,
    role: str = "",
    *,
    context: int | None = None,
) -> list[str]:
    """Why `batch` requests do not fit on one GPU of `role` ("ep", "attention", "ffn" or any label); empty
    when they fit. One configuration (scalars). `context`, if given, is named in the KV message."""
    options = options or MemoryOptions()
    if np.ndim(kv_per_request) or np.ndim(batch):
        raise AfdscopeError("memory_reasons takes one configuration: scalar kv_per_request and batch")
    label = {"ep": "EP", "ffn": "FFN", "attention": "attention"}.get(role, role)
    per_gpu = f"per {label} GPU" if label else "per GPU"
    usable = hw.hbm_capacity * options.usable_hbm_fraction
    total = weights.total
    if total > usable:
        big, big_bytes = weights.largest()
        if big_bytes > hw.hbm_capacity:  # one role alone overflows the whole device
            return [
                f"{_ROLE_NAMES[big]} need {_gb(big_bytes)} GB {per_gpu}, "
                f"{_gb_short(hw.hbm_capacity)} GB available"
            ]
        return [
            f"weights need {_gb(total)} GB {per_gpu} (largest: {_ROLE_NAMES[big]} {_gb(big_bytes)} GB), "
            f"{_gb(usable)} GB usable"
        ]
    left = usable - total - options.buffer_bytes
    if left < 0:
        return [
            f"weights {_gb(total)} GB + buffers {_gb(options.buffer_bytes)} GB need "
            f"{_gb(total + options.buffer_bytes)} GB {per_gpu}, {_gb(usable)} GB usable"
        ]
    need = float(kv_per_request) * float(batch)
    if need > left:
        tokens = f" × {context} tokens" if context is not None else ""
        return [
            f"KV cache for {float(batch):g} requests{tokens} needs {_gb(need)} GB {per_gpu}, "
            f"{_gb(left)} GB left after weights and buffers"
        ]
    return []
