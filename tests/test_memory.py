"""Per-GPU memory by role. Expected values are worked out from the config.json numbers written out here
(DeepSeek-V3: H 7168, 61 layers of which 3 dense, 256 experts of 2048, 1 shared, dense MLP 18432, vocab
129280, MLA q_lora 1536 / kv_lora 512 / 128 heads / nope 128 / rope 64 / v 128, 1 MTP layer; gpt-oss-120b:
36 layers alternating window 128 / full, 8 KV heads of 64), not taken from the code."""

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.ops.memory import (
    MemoryOptions,
    Overheads,
    WeightsPerGpu,
    afd_weights_per_gpu,
    deepep_low_latency_buffer_bytes,
    ep_overheads,
    ep_weights_per_gpu,
    kv_bytes_per_request,
    max_batch_per_gpu,
    memory_breakdown,
    memory_reasons,
    sglang_mem_fraction_static,
)
from afdscope.specs.scenario import Precision

H = 7168
EXPERT = 3 * H * 2048  # gate, up, down of one routed (or the shared) expert
MLA = (
    H * 1536  # q_a
    + 1536 * 128 * (128 + 64)  # q_b
    + H * (512 + 64)  # kv_a (latent + rope key)
    + 512 * 128 * (128 + 128)  # kv_b (k_nope + v)
    + 128 * 128 * H  # o
)
EMBED_BF16 = 129280 * H * 2
ROUTER_BF16 = H * 256 * 2  # per MoE layer
DENSE = 3 * H * 18432
MTP_NON_EXPERT = MLA + 2 * H * H  # attention + the 2H -> H merge projection (FP8), router apart
FP8 = Precision(weights="fp8", kv="bf16")
OPTS = MemoryOptions()  # mem_fraction_static 0.79


@pytest.fixture(scope="module")
def dsv3():
    return load_model("deepseek-v3")


@pytest.fixture(scope="module")
def h100():
    return load_hardware("h100")


def test_mla_attention_params_by_hand(dsv3):
    assert MLA == 187_105_280
    assert dsv3.attention_params_per_layer == MLA


def test_ep_144_gpus_deepseek_v3_fp8(dsv3):
    w = ep_weights_per_gpu(dsv3, 144, FP8, OPTS)
    assert w.routed_experts == 2 * 58 * EXPERT  # ceil(256/144) = 2 per layer
    assert w.attention == 61 * MLA
    assert w.embedding == w.lm_head == EMBED_BF16
    assert w.dense_mlp == 3 * DENSE
    assert w.shared_experts == 58 * EXPERT
    assert w.router == 58 * ROUTER_BF16
    # MTP layer: non-expert part + its router + shared expert + its 2 local routed experts
    assert w.mtp == MTP_NON_EXPERT + ROUTER_BF16 + EXPERT + 2 * EXPERT
    parts = (
        w.routed_experts + w.attention + 2 * EMBED_BF16 + w.dense_mlp + w.shared_experts + w.router + w.mtp
    )
    assert w.total == parts
    gb = w.as_gb()
    assert gb["routed_experts"] == pytest.approx(2 * 58 * EXPERT / 1e9)
    assert gb["total"] == pytest.approx(parts / 1e9)


def test_ep_over_8_h100_does_not_fit(dsv3, h100):
    w = ep_weights_per_gpu(dsv3, 8, FP8, OPTS)
    assert w.routed_experts == 32 * 58 * 3 * 7168 * 2048  # 81.7 GB
    assert w.routed_experts / 1e9 == pytest.approx(81.74, abs=0.01)
    reasons = memory_reasons(h100, w, 1e6, 1, OPTS, role="ep")
    assert reasons == [
        "weights need 102.6 GB per EP GPU (largest: experts 81.7 GB), 67.6 GB in the static pool "
        "(0.79 of 85.5 GB)"
    ]
    assert max_batch_per_gpu(h100, w, 8192 * 70272, OPTS) == 0


def test_afd_attention_gpu_holds_no_routed_experts(dsv3):
    attn, ffn = afd_weights_per_gpu(dsv3, 4, 16, FP8, OPTS)
    assert attn.routed_experts == 0
    assert attn.attention == 61 * MLA
    assert attn.shared_experts == 58 * EXPERT
    assert attn.router == 58 * ROUTER_BF16
    assert attn.mtp == MTP_NON_EXPERT + ROUTER_BF16 + EXPERT  # MTP shared expert follows the others
    assert ffn.routed_experts == 16 * 58 * EXPERT  # 256 / 16 = 16 experts per layer
    assert ffn.mtp == 16 * EXPERT
    assert ffn.attention == ffn.embedding == ffn.router == ffn.shared_experts == 0


def test_afd_shared_experts_on_ffn(dsv3):
    attn, ffn = afd_weights_per_gpu(dsv3, 4, 16, FP8, OPTS, shared_experts_on="ffn")
    assert attn.shared_experts == 0
    assert attn.mtp == MTP_NON_EXPERT + ROUTER_BF16
    assert ffn.shared_experts == 58 * EXPERT  # replicated on every FFN GPU
    assert ffn.mtp == 16 * EXPERT + EXPERT
    with pytest.raises(AfdscopeError):
        afd_weights_per_gpu(dsv3, 4, 16, FP8, OPTS, shared_experts_on="both")


def test_splits_add_up_to_the_model(dsv3):
    # One EP GPU, or one attention + one FFN GPU, holds every weight incl. the MTP module exactly once.
    same = MemoryOptions(embedding_dtype_bytes=1, router_dtype_bytes=1)
    ep = ep_weights_per_gpu(dsv3, 1, FP8, same)
    assert ep.total == dsv3.total_params + dsv3.mtp_params
    attn, ffn = afd_weights_per_gpu(dsv3, 1, 1, FP8, same)
    assert attn.total + ffn.total == ep.total


def test_redundant_experts_raise_routed_bytes(dsv3):
    base = ep_weights_per_gpu(dsv3, 32, FP8, OPTS)
    red = ep_weights_per_gpu(dsv3, 32, FP8, MemoryOptions(redundant_experts=32))
    assert base.routed_experts == 8 * 58 * EXPERT  # 256 / 32
    assert red.routed_experts == 9 * 58 * EXPERT  # 288 / 32
    # 288 slots over 144 GPUs still fit 2 per GPU: the ceil absorbs them
    assert ep_weights_per_gpu(dsv3, 144, FP8, MemoryOptions(redundant_experts=32)).routed_experts == (
        2 * 58 * EXPERT
    )
    _, ffn = afd_weights_per_gpu(dsv3, 4, 16, FP8, MemoryOptions(redundant_experts=16))
    assert ffn.routed_experts == 17 * 58 * EXPERT


@pytest.mark.parametrize(("dtype", "scale"), [("fp4", 0.53125), ("bf16", 2.0)])
def test_weight_dtype_scales_routed_bytes(dsv3, dtype, scale):
    fp8 = ep_weights_per_gpu(dsv3, 144, FP8, OPTS)
    other = ep_weights_per_gpu(dsv3, 144, Precision(weights=dtype), OPTS)
    assert other.routed_experts == fp8.routed_experts * scale
    assert other.embedding == fp8.embedding  # stays BF16


def test_kv_per_request_deepseek_v3(dsv3):
    # 61 layers x (512 + 64) latent elements x 2 bytes = 70272 bytes per token
    assert kv_bytes_per_request(dsv3, 8192, FP8) == 8192 * 70272
    # FlashMLA's FP8 cache: 512 FP8 latent + 4 FP32 scales + 64 BF16 RoPE = 656 B per token and layer.
    assert kv_bytes_per_request(dsv3, 8192, Precision(kv="fp8")) == 8192 * 61 * 656
    # an MTP module in use keeps one more full layer
    assert kv_bytes_per_request(dsv3, 8192, FP8, mtp_layers=1) == 8192 * 62 * 1152
    got = kv_bytes_per_request(dsv3, np.array([1024, 8192]), FP8)
    assert got.tolist() == [1024 * 70272, 8192 * 70272]


def test_kv_per_request_gpt_oss_window_cap():
    m = load_model("gpt-oss-120b")
    per_layer = 2 * 8 * 64 * 2  # K and V, 8 heads of 64, BF16
    assert kv_bytes_per_request(m, 8192, FP8) == (18 * 8192 + 18 * 128) * per_layer
    assert kv_bytes_per_request(m, 100, FP8) == 36 * 100 * per_layer  # below the window: no cap


def test_max_batch_by_hand(dsv3, h100):
    attn, _ = afd_weights_per_gpu(dsv3, 4, 16, FP8, OPTS)
    weights = (
        61 * MLA
        + 3 * DENSE
        + 2 * EMBED_BF16
        + 58 * EXPERT
        + 58 * ROUTER_BF16
        + (MTP_NON_EXPERT + ROUTER_BF16 + EXPERT)
    )
    assert attn.total == weights  # 19,413,991,424 B
    # H100: 81,559 MiB = 85,520,809,984 B; static pool 0.79 of it = 67,561,439,887 B; minus the weights
    # = 48,147,448,463 B of KV pool; / (8192 * 70272 = 575,668,224 B) = 83.6 -> 83 requests.
    assert h100.hbm_capacity == 81_559 * 2**20 == 85_520_809_984
    pool = 85_520_809_984 * 0.79 - weights
    assert max_batch_per_gpu(h100, attn, 8192 * 70272, OPTS) == 83 == int(pool // (8192 * 70272))
    got = max_batch_per_gpu(h100, attn, np.array([1024, 8192]) * 70272, OPTS)
    assert got.tolist() == [int(pool // (1024 * 70272)), 83]


def test_reasons(dsv3, h100):
    attn, _ = afd_weights_per_gpu(dsv3, 4, 16, FP8, OPTS)
    kv = 8192 * 70272
    assert memory_reasons(h100, attn, kv, 83, OPTS, role="attention") == []
    # 512 x 575.67 MB = 294.7 GB; 67.561 - 19.414 = 48.147 GB left
    assert memory_reasons(h100, attn, kv, 512, OPTS, role="attention", context=8192) == [
        "KV cache for 512 requests × 8192 tokens needs 294.7 GB per attention GPU, "
        "48.1 GB left after weights and the framework reserve"
    ]
    w = WeightsPerGpu(routed_experts=60e9, attention=15e9)
    assert memory_reasons(h100, w, kv, 1, OPTS, role="ep") == [
        "weights need 75.0 GB per EP GPU (largest: experts 60.0 GB), 67.6 GB in the static pool "
        "(0.79 of 85.5 GB)"
    ]
    # named reserve terms 20 GB > the 0.21 x 85.52 = 17.96 GB reserve: they come out of the KV pool
    w = WeightsPerGpu(attention=66e9)
    big = Overheads(deepep_buffer=10e9, activation_workspace=5e9, cuda_graph_pool=5e9)
    assert memory_reasons(h100, w, kv, 1, OPTS, overheads=big) == [
        "weights 66.0 GB + DeepEP buffer 10.0 GB + activations 5.0 GB + CUDA graphs 5.0 GB need "
        "86.0 GB per GPU, 85.5 GB on the device"
    ]
    assert memory_reasons(h100, w, kv, 1, OPTS) == []  # without them the reserve is enough
    assert max_batch_per_gpu(h100, w, 1e9, OPTS, overheads=big) == 0


def test_deepep_low_latency_buffer_by_hand():
    # T = 128, H = 7168, E = 256: dispatch message 16 + max(2H, H + 4H/128) = 14,352 B, combine 2H = 14,336;
    # send max(T·14352, E·T·14336) = 469,762,048; receive max(E·T·14352, E·T·14336) = 470,286,336;
    # signalling E·4 = 1,024; total 2·(469,762,048 + 470,286,336 + 1,024) = 1,880,098,816, a multiple of
    # 128, so the size hint adds one 128: 1,880,098,944.
    assert deepep_low_latency_buffer_bytes(128, 7168, 256) == 1_880_098_944
    assert deepep_low_latency_buffer_bytes(128, 7168, 288) > deepep_low_latency_buffer_bytes(128, 7168, 256)


def test_ep_overheads_by_hand(dsv3):
    o = ep_overheads(dsv3, 128, FP8, OPTS)
    assert o.deepep_buffer == 1_880_098_944
    # 2 local experts x 128 ranks x 128 tokens = 32,768 rows of (7168 FP8 + 7168/128·4 scales + 2·2048·2
    # gate/up BF16 + 7168·2 down BF16) = 29,968 B; plus 128 x 129,280 FP32 logits.
    rows = 2 * 128 * 128
    assert o.activation_workspace == pytest.approx(rows * (7168 + 224 + 8192 + 14336) + 128 * 129280 * 4)
    assert o.cuda_graph_pool == pytest.approx(1.99 * 2**30)


def test_sglang_default_fraction():
    assert [sglang_mem_fraction_static(n) for n in (1, 2, 4, 8, 16, 128)] == [
        0.88,
        0.87,
        0.85,
        0.81,
        0.79,
        0.79,
    ]
    assert MemoryOptions().mem_fraction_static == 0.79


@pytest.mark.parametrize(
    ("hw_name", "gpus", "batch", "context", "redundant", "mtp"),
    [("h800", 128, 128, 4096, 0, True), ("h100", 72, 256, 2050, 32, False)],
)
def test_published_batches_fit(dsv3, hw_name, gpus, batch, context, redundant, mtp):
    # DeepSeek's H800 EP128 profile (128 requests/GPU at 4K, MTP) and SGLang's H100 EP72 (256 at 2,050,
    # 32 redundant experts), FP8 weights, BF16 KV: public-deployments.csv.
    hw = load_hardware(hw_name)
    opts = MemoryOptions(redundant_experts=redundant)
    w = ep_weights_per_gpu(dsv3, gpus, FP8, opts)
    kv = kv_bytes_per_request(dsv3, context, FP8, mtp_layers=dsv3.mtp_layers if mtp else 0)
    over = ep_overheads(dsv3, gpus, FP8, opts)
    assert memory_reasons(hw, w, kv, batch, opts, role="ep", overheads=over) == []
    assert max_batch_per_gpu(hw, w, kv, opts, overheads=over) >= batch
    terms = memory_breakdown(hw, w, kv, batch, opts, over)
    assert terms["kv_free"] >= 0 and terms["hbm_capacity"] == pytest.approx(85.520809984)
    assert terms["kv_pool"] == pytest.approx(85.520809984 * 0.79 - terms["total"])


def test_bad_inputs(dsv3, h100):
    with pytest.raises(AfdscopeError):
        ep_weights_per_gpu(dsv3, 0, FP8)
    with pytest.raises(AfdscopeError):
        MemoryOptions(mem_fraction_static=1.2)
    with pytest.raises(AfdscopeError):
        MemoryOptions(redundant_experts=-1)
    with pytest.raises(AfdscopeError):
        max_batch_per_gpu(h100, WeightsPerGpu(), 0)
    with pytest.raises(AfdscopeError):
        kv_bytes_per_request(dsv3, -1, FP8)


def test_tied_embedding_has_no_lm_head(dsv3):
    tied = dsv3.model_copy(update={"tie_word_embeddings": True})
    assert ep_weights_per_gpu(tied, 144, FP8, OPTS).lm_head == 0
