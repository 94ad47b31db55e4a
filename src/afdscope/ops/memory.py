"""Per-GPU memory of a deployment by role, KV capacity and the largest decode batch that fits.

Everything is bytes; pure functions. `context` and `kv_per_request` may be numpy arrays (they
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

How HBM splits (SGLang's accounting): capacity C as the device reports it (`Hardware.hbm_capacity`, MiB);
a static pool C · mem_fraction_static holds the weights and the KV pool; the rest, C · (1 − f), is the
framework reserve for what is allocated after the KV pool: DeepEP's low-latency buffer, the activation
workspace, CUDA-graph pools, CUDA context and NCCL. When the named reserve terms (`Overheads`) exceed the
reserve, they come out of the KV pool instead: KV pool = C − weights − max(C · (1 − f), overheads).
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

SharedExpertsOn = Literal["attention", "ffn", "dedicated"]


# SGLang's default --mem-fraction-static by world size (sglang/srt/server_args.py, ServerArgs.__post_init__,
# v0.4.x): >= 16 GPUs 0.79, >= 8 0.81, >= 4 0.85, >= 2 0.87, else 0.88.
_SGLANG_MEM_FRACTION = ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))


def sglang_mem_fraction_static(world_size: int) -> float:
    """SGLang's default `mem_fraction_static` for a serving group of `world_size` GPUs."""
    _check_gpus(world_size, "world_size")
    return next(f for n, f in _SGLANG_MEM_FRACTION if world_size >= n)


@dataclass(frozen=True)
class MemoryOptions:
    # Fraction of HBM for weights + KV pool (SGLang's --mem-fraction-static); the rest is the framework
    # reserve. 0.79 is SGLang's default for serving groups of >= 16 GPUs (wide EP, AFD; see
    # `sglang_mem_fraction_static`); the published H100 EP72 decode command sets 0.846 (sglang issue 6017).
    mem_fraction_static: float = 0.79
    # DeepEP low-latency buffer sizing: SGLang's SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK default.
    deepep_max_dispatch_tokens_per_rank: int = 128
    # CUDA-graph memory pool of the decode graphs: vLLM logs 1.99 GiB for DeepSeek-V2-Lite with full decode
    # graphs only (vllm PR 25779; 3.43 GiB with two-batch-overlap graphs as well).
    cuda_graph_pool_bytes: float = 1.99 * 2**30
    # FP8 checkpoints keep embeddings and the LM head in BF16 (DeepSeek-V3's quantization_config covers
    # the Linear layers only).
    embedding_dtype_bytes: float = 2.0
    # Router (gate) weights stay BF16 too: DeepSeek-V3's Gate is not a quantised Linear, and gpt-oss's
    # MXFP4 covers the expert MLPs only. ~0.2 GB per GPU for DeepSeek-V3, so worth keeping apart.
    router_dtype_bytes: float = 2.0
    # EPLB redundant expert slots over the whole EP group (or the FFN side under AFD), per MoE layer.
    redundant_experts: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.mem_fraction_static <= 1:
            raise AfdscopeError(f"mem_fraction_static = {self.mem_fraction_static}; it must be in (0, 1]")
        if self.cuda_graph_pool_bytes < 0:
            raise AfdscopeError(f"cuda_graph_pool_bytes = {self.cuda_graph_pool_bytes}; it must be >= 0")
        t = self.deepep_max_dispatch_tokens_per_rank
        if not _is_int(t) or t < 1:
            raise AfdscopeError(f"deepep_max_dispatch_tokens_per_rank = {t!r}; it must be an integer >= 1")
        for name in ("embedding_dtype_bytes", "router_dtype_bytes"):
            if getattr(self, name) <= 0:
                raise AfdscopeError(f"{name} = {getattr(self, name)}; it must be > 0")
        if not _is_int(self.redundant_experts) or self.redundant_experts < 0:
            raise AfdscopeError(f"redundant_experts = {self.redundant_experts!r}; it must be an integer >= 0")

    # Read-only names of the earlier accounting, for callers that still use them: the usable share of HBM
    # is the static pool, and no flat buffer is charged on top (the reserve holds the buffers).
    @property
    def usable_hbm_fraction(self) -> float:
        return self.mem_fraction_static

    @property
    def buffer_bytes(self) -> float:
        return 0.0


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
    per_expert = n * model.routed_expert_params * precision.expert_weight_bytes
    return non_expert, shared, per_expert


def ep_weights_per_gpu(
    model: MoEModel,
    gpus: int,
    precision: Precision,
    options: MemoryOptions | None = None,
    attention_tp: int = 1,
    shared_on_ep_gpus: bool = True,
    mlp_tp: int = 1,
) -> WeightsPerGpu:
    """Weights on each GPU of a large-scale EP deployment over `gpus` GPUs (attention data-parallel,
    optionally tensor-parallel by `attention_tp` inside each data-parallel group). `shared_on_ep_gpus`
    False: dedicated GPUs hold the shared experts (their memory is not the EP GPUs'). `mlp_tp`: the
    shared experts and dense MLPs split by tensor parallelism (one TP group over every GPU)."""
    options = options or MemoryOptions()
    _check_gpus(gpus, "gpus")
    wb, slots = precision.weight_bytes, _experts_per_gpu(model, gpus, options)
    ewb = precision.expert_weight_bytes  # routed experts (`expert_weights` overrides `weights`)
    mtp_non_expert, mtp_shared, mtp_expert = _mtp_parts(model, precision, options)
    return WeightsPerGpu(
        attention=_attention_bytes(model, wb, attention_tp),
        dense_mlp=model.n_dense_layers * model.dense_mlp_params_per_layer * wb / mlp_tp,
        embedding=model.embedding_params * options.embedding_dtype_bytes,
        lm_head=model.lm_head_params * options.embedding_dtype_bytes,
        routed_experts=model.n_moe_layers * slots * model.routed_expert_params * ewb,
        shared_experts=model.n_moe_layers
        * model.shared_expert_params_per_layer
        * wb
        * shared_on_ep_gpus
        / mlp_tp,
        router=model.n_moe_layers * model.router_params_per_layer * options.router_dtype_bytes,
        mtp=mtp_non_expert + mtp_shared * shared_on_ep_gpus + slots * mtp_expert,
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
    change the per-GPU bytes (checked only). Shared experts on the FFN side are replicated on every FFN GPU
    ("dedicated": on GPUs of their own, neither side holds them); `options.redundant_experts` counts slots
    over the FFN side."""
    options = options or MemoryOptions()
    _check_gpus(attention_gpus, "attention_gpus")
    _check_gpus(ffn_gpus, "ffn_gpus")
    if shared_experts_on not in ("attention", "ffn", "dedicated"):
        raise AfdscopeError(
            f"shared_experts_on = {shared_experts_on!r}; use 'attention', 'ffn' or 'dedicated'"
        )
    # Expert tensor parallelism: each expert is cut into `expert_tp` shards of M/expert_tp.
    wb, ewb = precision.weight_bytes, precision.expert_weight_bytes
    slots = math.ceil((model.n_routed_experts + options.redundant_experts) * expert_tp / ffn_gpus) / expert_tp
    mtp_non_expert, mtp_shared, mtp_expert = _mtp_parts(model, precision, options)
    shared = model.n_moe_layers * model.shared_expert_params_per_layer * wb
    on_attn, on_ffn = shared_experts_on == "attention", shared_experts_on == "ffn"
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
        routed_experts=model.n_moe_layers * slots * model.routed_expert_params * ewb,
        shared_experts=shared if on_ffn else 0.0,
        mtp=slots * mtp_expert + (mtp_shared if on_ffn else 0.0),
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


@dataclass(frozen=True)
class Overheads:
    """Named per-GPU allocations that live in the framework reserve (bytes)."""

    deepep_buffer: float = 0.0  # DeepEP low-latency RDMA buffer (`deepep_low_latency_buffer_bytes`)
    activation_workspace: float = 0.0  # MoE masked-layout tensors of one micro-batch, plus logits
    cuda_graph_pool: float = 0.0  # decode CUDA graphs' memory pool

    @property
    def total(self) -> float:
        return self.deepep_buffer + self.activation_workspace + self.cuda_graph_pool


def deepep_low_latency_buffer_bytes(max_dispatch_tokens_per_rank, hidden, num_experts) -> int:
    """DeepEP's `Buffer.get_low_latency_rdma_size_hint(T, H, ranks, E)` (csrc/config.hpp,
    LowLatencyLayout): two (odd/even) copies each of a send buffer max(T·d, E·T·c), a receive buffer
    max(E·T·d, E·T·c) and a signalling buffer E·4, with d = 16 + max(2H, H + 4H/128) bytes per dispatch
    message and c = 2H per combine message; the total rounded up to the next multiple of 128 (a multiple
    gets one more 128). The rank count does not enter."""
    t, h, e = int(max_dispatch_tokens_per_rank), int(hidden), int(num_experts)
    dispatch_msg = 16 + max(2 * h, h + h // 128 * 4)
    combine_msg = 2 * h
    send = max(t * dispatch_msg, e * t * combine_msg)
    recv = max(e * t * dispatch_msg, e * t * combine_msg)
    total = 2 * send + 2 * recv + 2 * e * 4
    return (total + 128) // 128 * 128


def ep_overheads(
    model: MoEModel, gpus: int, precision: Precision, options: MemoryOptions | None = None
) -> Overheads:
    """Reserve terms of one GPU of a DeepEP low-latency EP group of `gpus` GPUs.

    * DeepEP buffer for T = `deepep_max_dispatch_tokens_per_rank` and N_exp + redundant experts.
    * Activation workspace: DeepEP's masked layout gives each of the s local expert slots room for all
      gpus·T tokens, so the live MoE tensors of one micro-batch are s·gpus·T rows of the received
      activations (H in the dispatch format + one FP32 scale per 128), the gate/up output (2M, BF16) and
      the down output (H, BF16); plus FP32 logits for T rows of the vocabulary.
    * CUDA-graph pool: `cuda_graph_pool_bytes`.
    """
    from afdscope.ops.comm import DTYPE_PAYLOAD_BYTES

    options = options or MemoryOptions()
    _check_gpus(gpus, "gpus")
    t, h, m = options.deepep_max_dispatch_tokens_per_rank, model.hidden_size, model.moe_intermediate_size
    experts = model.n_routed_experts + options.redundant_experts
    rows = _experts_per_gpu(model, gpus, options) * gpus * t
    per_row = h * DTYPE_PAYLOAD_BYTES[precision.dispatch] + h / 128 * 4 + 2 * m * 2 + h * 2
    return Overheads(
        deepep_buffer=float(deepep_low_latency_buffer_bytes(t, h, experts)),
        activation_workspace=rows * per_row + t * model.vocab_size * 4.0,
        cuda_graph_pool=options.cuda_graph_pool_bytes,
    )


def _kv_pool_bytes(hw: Hardware, weights: WeightsPerGpu, options: MemoryOptions, overheads: Overheads | None):
    reserve = hw.hbm_capacity * (1.0 - options.mem_fraction_static)
    named = overheads.total if overheads is not None else 0.0
    return hw.hbm_capacity - weights.total - max(reserve, named)


def max_batch_per_gpu(
    hw: Hardware,
    weights: WeightsPerGpu,
    kv_per_request,
    options: MemoryOptions | None = None,
    overheads: Overheads | None = None,
):
    """floor(KV pool / kv_per_request), 0 when nothing fits; KV pool = HBM − weights − max(reserve,
    overheads). np.int64, or an int64 array when `kv_per_request` is one."""
    options = options or MemoryOptions()
    kv = np.asarray(kv_per_request, dtype=float)
    if np.any(kv <= 0):
        raise AfdscopeError("kv_per_request must be > 0 bytes")
    return np.maximum(np.floor(_kv_pool_bytes(hw, weights, options, overheads) / kv), 0).astype(np.int64)


def memory_breakdown(
    hw: Hardware,
    weights: WeightsPerGpu,
    kv_per_request: float = 0.0,
    batch: float = 0.0,
    options: MemoryOptions | None = None,
    overheads: Overheads | None = None,
) -> dict[str, float]:
    """Every term of one GPU's memory in GB (1e9 bytes), for JSON: the weight roles and their `total`
    (as `WeightsPerGpu.as_gb`), then hbm_capacity, mem_fraction_static (a fraction), static_pool,
    framework_reserve, deepep_buffer, activation_workspace, cuda_graph_pool, kv_pool (what is left for
    KV), kv_used (`batch` requests) and kv_free."""
    options = options or MemoryOptions()
    o = overheads or Overheads()
    pool = _kv_pool_bytes(hw, weights, options, overheads)
    used = float(kv_per_request) * float(batch)
    out = weights.as_gb()
    out |= {
        "hbm_capacity": hw.hbm_capacity / GB,
        "mem_fraction_static": options.mem_fraction_static,
        "static_pool": hw.hbm_capacity * options.mem_fraction_static / GB,
        "framework_reserve": hw.hbm_capacity * (1 - options.mem_fraction_static) / GB,
        "deepep_buffer": o.deepep_buffer / GB,
        "activation_workspace": o.activation_workspace / GB,
        "cuda_graph_pool": o.cuda_graph_pool / GB,
        "kv_pool": pool / GB,
        "kv_used": used / GB,
        "kv_free": (pool - used) / GB,
    }
    return {k: float(v) for k, v in out.items()}


def _gb(x: float) -> str:
    return f"{x / GB:.1f}"


def memory_reasons(
    hw: Hardware,
    weights: WeightsPerGpu,
    kv_per_request: float,
    batch: float,
    options: MemoryOptions | None = None,
    role: str = "",
    *,
    context: int | None = None,
    overheads: Overheads | None = None,
) -> list[str]:
    """Why `batch` requests do not fit on one GPU of `role` ("ep", "attention", "ffn" or any label); empty
    when they fit. One configuration (scalars). `context`, if given, is named in the KV message."""
    options = options or MemoryOptions()
    if np.ndim(kv_per_request) or np.ndim(batch):
        raise AfdscopeError("memory_reasons takes one configuration: scalar kv_per_request and batch")
    label = {"ep": "EP", "ffn": "FFN", "attention": "attention"}.get(role, role)
    per_gpu = f"per {label} GPU" if label else "per GPU"
    f = options.mem_fraction_static
    usable = hw.hbm_capacity * f
    total = weights.total
    if total > usable:
        big, big_bytes = weights.largest()
        if big_bytes > hw.hbm_capacity:  # one role alone overflows the whole device
            return [
                f"{_ROLE_NAMES[big]} need {_gb(big_bytes)} GB {per_gpu}, "
                f"{_gb(hw.hbm_capacity)} GB on the device"
            ]
        return [
            f"weights need {_gb(total)} GB {per_gpu} (largest: {_ROLE_NAMES[big]} {_gb(big_bytes)} GB), "
            f"{_gb(usable)} GB in the static pool ({f:g} of {_gb(hw.hbm_capacity)} GB)"
        ]
    left = _kv_pool_bytes(hw, weights, options, overheads)
    if left < 0:
        o = overheads or Overheads()
        return [
            f"weights {_gb(total)} GB + DeepEP buffer {_gb(o.deepep_buffer)} GB + activations "
            f"{_gb(o.activation_workspace)} GB + CUDA graphs {_gb(o.cuda_graph_pool)} GB need "
            f"{_gb(total + o.total)} GB {per_gpu}, {_gb(hw.hbm_capacity)} GB on the device"
        ]
    need = float(kv_per_request) * float(batch)
    if need > left:
        tokens = f" × {context} tokens" if context is not None else ""
        return [
            f"KV cache for {float(batch):g} requests{tokens} needs {_gb(need)} GB {per_gpu}, "
            f"{_gb(left)} GB left after weights and the framework reserve"
        ]
    return []
