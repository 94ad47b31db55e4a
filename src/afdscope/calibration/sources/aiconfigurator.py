# ruff: noqa: E501  (long unit strings: they are written verbatim into the CSV headers)
"""Trim NVIDIA aiconfigurator-core's measured kernel tables into small CSVs for afdscope.

Standalone script, run by ``make calibration-data`` inside a scratch virtual environment that holds the
``aiconfigurator-core`` wheel (Apache-2.0) plus pandas/pyarrow; afdscope itself never imports it and
nothing at run time or in ``make test`` needs the wheel or the network.

    python src/afdscope/calibration/sources/aiconfigurator.py [--repo PATH]

Reads ``aiconfigurator_core/systems/data/<system>/<op>/<backend>/<version>/*.parquet`` and
``systems/silicon_sample.csv`` from the installed wheel, keeps decode-relevant rows and the shapes of the
catalog models (src/afdscope/catalog/models/*.json), and writes

* src/afdscope/calibration/measured/<system>/{moe,moe_fused,mla_decode,mla_core,gemm,deepep_ll,deepep_normal,
  allreduce}.csv
* src/afdscope/validation/data/aiconfigurator_silicon_sample.csv

Every CSV starts with ``#`` lines: provenance, the licence notice and the unit of every column. Times are
converted from the tables' milliseconds to microseconds (x1000) unless the table already stores µs.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
from importlib import metadata

import pandas as pd

SYSTEMS = ["h100_sxm", "h200_sxm", "b200_sxm", "b300_sxm", "gb200", "gb300"]
WHEEL = "aiconfigurator-core"
LICENCE = [
    "Licence: Apache License 2.0 (SPDX Apache-2.0). Data (c) NVIDIA CORPORATION & AFFILIATES, from the",
    "aiconfigurator-core wheel on PyPI (https://pypi.org/project/aiconfigurator-core/,",
    "source https://github.com/ai-dynamo/aiconfigurator); trimmed and renamed by afdscope's",
    "src/afdscope/calibration/sources/aiconfigurator.py. Licence text: https://www.apache.org/licenses/LICENSE-2.0",
]
GEMM_M = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096]
FUSED_TOKENS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
MAX_MOE_TOKENS = 4096  # fused table: tokens on the GPU
MAX_NORMAL_TOKENS = 4096  # DeepEP normal: tokens per rank


def wheel_root() -> tuple[str, str]:
    import aiconfigurator_core

    return os.path.dirname(aiconfigurator_core.__file__), metadata.version(WHEEL)


def rel(path: str, root: str) -> str:
    return "aiconfigurator_core/" + os.path.relpath(path, root)


def write_csv(
    path: str, df: pd.DataFrame, sources: list[str], what: str, units: dict[str, str], version: str
):
    missing = [c for c in df.columns if c not in units]
    if missing:
        raise SystemExit(f"error: no unit documented for columns {missing} of {path}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = [f"# {what}", f"# Source: {WHEEL} {version} (PyPI wheel), " + "; ".join(sources)]
    lines += [f"# {line}" for line in LICENCE]
    lines += [f"# column {c}: {units[c]}" for c in df.columns]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
        df.to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")


def newest(paths: list[str]) -> str | None:
    """Newest version directory among paths (by numeric version components)."""

    def key(p: str):
        ver = p.split(os.sep)[-2]
        parts = []
        for tok in ver.replace("rc", ".").replace("post", ".").split("."):
            parts.append(int(tok) if tok.isdigit() else -1)
        return parts

    return max(paths, key=key) if paths else None


# ---------------------------------------------------------------- catalog shapes
def catalog_shapes(repo: str):
    """MoE (hidden, inter, experts, topk) tuples and dense GEMM (n, k) pairs of the catalog models."""
    moe, gemms, heads = set(), set(), set()
    for path in sorted(glob.glob(os.path.join(repo, "src/afdscope/catalog/models/*.json"))):
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
        cfg = cfg.get("text_config", cfg)
        h = cfg.get("hidden_size")
        if not h:
            continue
        experts = cfg.get("n_routed_experts") or cfg.get("num_experts") or cfg.get("num_local_experts")
        topk = cfg.get("num_experts_per_tok")
        inter = cfg.get("moe_intermediate_size") or cfg.get("intermediate_size")
        dense = cfg.get("intermediate_size")
        if experts and topk and inter:
            moe.add((h, inter, experts, topk))
            gemms.update({(2 * inter, h), (h, inter)})
            shared = cfg.get("n_shared_experts") or 0
            if shared:
                gemms.update({(2 * inter * shared, h), (h, inter * shared)})
        if dense:
            gemms.update({(2 * dense, h), (h, dense)})
        nh = cfg.get("num_attention_heads")
        if cfg.get("kv_lora_rank"):
            heads.add(nh)
            qk = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
            gemms.update(
                {
                    (cfg["q_lora_rank"], h),
                    (nh * qk, cfg["q_lora_rank"]),
                    (cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"], h),
                    (h, nh * cfg["v_head_dim"]),
                }
            )
        elif nh:
            hd = cfg.get("head_dim") or h // nh
            kv = cfg.get("num_key_value_heads") or nh
            gemms.update({((nh + 2 * kv) * hd, h), (h, nh * hd)})
        if cfg.get("vocab_size"):
            gemms.add((cfg["vocab_size"], h))
    # attention projections also run tensor-parallel: add the TP8 slices (column split n/8, row split k/8)
    tp = set()
    for n, k in gemms:
        tp.update({(max(n // 8, 1), k), (n, max(k // 8, 1))})
    return moe, gemms | tp, heads


def nearest_pairs(grid: pd.DataFrame, wanted: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """For each wanted (n, k), the measured (n, k) pair nearest in log space."""
    pairs = list({(int(a), int(b)) for a, b in grid[["n", "k"]].drop_duplicates().itertuples(index=False)})
    keep = set()
    for n, k in wanted:
        best = min(pairs, key=lambda p: (math.log(p[0] / n)) ** 2 + (math.log(p[1] / k)) ** 2)
        keep.add(best)
    return keep


# ---------------------------------------------------------------- tables
MS_TO_US = 1000.0


def moe_wideep(root, sysdir, version):
    paths = glob.glob(os.path.join(sysdir, "moe/sglang/*/wideep_generation_moe_perf.parquet"))
    p = newest(paths)
    if not p:
        return None
    df = pd.read_parquet(p)
    out = pd.DataFrame(
        {
            "framework_version": df["version"],
            "kernel_source": df["kernel_source"],
            "moe_dtype": df["moe_dtype"],
            "hidden_size": df["hidden_size"],
            "inter_size": df["inter_size"],
            "num_experts": df["num_experts"],
            "topk": df["topk"],
            "ep_size": df["moe_ep_size"],
            "local_experts": df["num_experts"] // df["moe_ep_size"],
            "tokens_global": df["num_tokens"],
            "tokens_per_gpu": df["num_tokens"] // df["moe_ep_size"],
            "distribution": df["distribution"],
            "latency_us": df["latency"] * MS_TO_US,
        }
    ).sort_values(["distribution", "ep_size", "tokens_global"])
    units = {
        "framework_version": "SGLang version the table was measured with",
        "kernel_source": "deepepmoe = SGLang DeepEPMoE.run_moe_core, DeepGEMM masked grouped FP8 GEMMs "
        "(gate_up + SiLU*mul + FP8 requant + down) on the DeepEP low-latency layout; no dispatch/combine",
        "moe_dtype": "weights/activations format (fp8_block = FP8 E4M3, 128x128 weight / 1x128 act scales)",
        "hidden_size": "model hidden size H (elements)",
        "inter_size": "expert intermediate size I (elements); gate_up is N=2I,K=H; down is N=H,K=I",
        "num_experts": "routed experts of the model (DeepSeek-V3 shape: 256)",
        "topk": "experts per token",
        "ep_size": "simulated expert-parallel degree (one GPU measured, holding num_experts/ep_size experts)",
        "local_experts": "experts resident on the measured GPU = num_experts / ep_size",
        "tokens_global": "tokens of the whole EP group per step = tokens_per_gpu * ep_size "
        "(the table's num_tokens column)",
        "tokens_per_gpu": "decode batch per EP rank (1..128, DeepEP LL max 128 dispatch tokens per rank)",
        "distribution": "routing: uniform = every local expert gets floor(tokens_global*topk/num_experts) "
        "rows (when that is 0 the collector gives one row to each of the first tokens_global*topk/2 local "
        "experts, capped at local_experts); power_law_A = expert loads drawn from a power law of exponent A, "
        "timed on the MOST-LOADED EP rank, mean over 5 draws",
        "latency_us": "measured time of the expert computation on that one GPU for ONE MoE layer, "
        "microseconds (table ms x 1000), CUDA graph, mean of runs",
    }
    return out, [rel(p, root)], units


def moe_fused(root, sysdir, version, moe_shapes):
    paths = glob.glob(os.path.join(sysdir, "moe/sglang/*/moe_perf.parquet"))
    p = newest(paths)
    if not p:
        return None
    df = pd.read_parquet(p)
    key = list(zip(df.hidden_size, df.inter_size, df.num_experts, df.topk, strict=True))
    mask = pd.Series([k in moe_shapes for k in key], index=df.index)
    df = df[mask & df.num_tokens.isin(FUSED_TOKENS) & (df.moe_tp_size == 1) & (df.moe_ep_size <= 16)]
    df = df[df.moe_dtype.isin(["fp8_block", "nvfp4", "w4a16_mxfp4", "w4a8_mxfp4_mxfp8"])]
    # one kernel per (shape, format): the flashinfer TRT-LLM MoE where measured, else what there is
    rank = df.kernel_source.map(lambda k: 0 if "flashinfer_trtllm" in k else 1)
    best = rank.groupby([df.hidden_size, df.inter_size, df.num_experts, df.topk, df.moe_dtype]).transform(
        "min"
    )
    df = df[rank == best]
    out = pd.DataFrame(
        {
            "kernel_source": df["kernel_source"],
            "moe_dtype": df["moe_dtype"],
            "hidden_size": df["hidden_size"],
            "inter_size": df["inter_size"],
            "num_experts": df["num_experts"],
            "topk": df["topk"],
            "ep_size": df["moe_ep_size"],
            "tokens": df["num_tokens"],
            "distribution": df["distribution"],
            "latency_us": df["latency"] * MS_TO_US,
        }
    )
    # the wheel holds two measurements of most keys: keep their mean
    keys = [c for c in out.columns if c != "latency_us"]
    out = out.groupby(keys, as_index=False)["latency_us"].mean()
    out = out.sort_values(
        ["kernel_source", "moe_dtype", "hidden_size", "num_experts", "distribution", "ep_size", "tokens"]
    )
    units = {
        "kernel_source": "SGLang fused-MoE kernel; one per (shape, format): flashinfer TRT-LLM MoE where "
        "measured, else Triton fused_moe / mxfp4 flashinfer",
        "moe_dtype": "weights/activations format kept: fp8_block, nvfp4, w4a16_mxfp4, w4a8_mxfp4_mxfp8",
        "hidden_size": "model hidden size H (elements)",
        "inter_size": "expert intermediate size I (elements)",
        "num_experts": "routed experts of the model",
        "topk": "experts per token",
        "ep_size": "expert-parallel degree <= 16; the GPU holds num_experts/ep_size experts (moe_tp_size = 1)",
        "tokens": "tokens (1..1024, powers of 2) entering the fused MoE on this one GPU (routing + top-k over ALL of them; no "
        "all-to-all: the single-GPU fused path, not the wide-EP path)",
        "distribution": "routing: balanced, or power_law_A (router logits from a power law of exponent A)",
        "latency_us": "measured fused MoE time for one layer on one GPU, microseconds (table ms x 1000); "
        "mean of the wheel's repeated rows for the same key",
    }
    return out, [rel(p, root)], units


def mla_frame(df, framework: str, kv_len: str, gemm: bool = True):
    """One MLA table's rows in the committed columns (`kv_len` names the table's KV-length column)."""
    cols = {"framework": framework, "framework_version": df["version"], "kernel_source": df["kernel_source"]}
    if gemm:
        cols["gemm_dtype"] = df["gemm_type"]
    cols |= {
        "kv_cache_dtype": df["kv_cache_dtype"],
        "num_heads": df["num_heads"],
        "batch_size": df["batch_size"],
        "kv_len": df[kv_len],
        "latency_us": df["latency"] * MS_TO_US,
    }
    return pd.DataFrame(cols)


def mla_decode(root, sysdir, version, heads):
    frames, sources = [], []
    p = newest(glob.glob(os.path.join(sysdir, "mla/sglang/*/wideep_generation_mla_perf.parquet")))
    if p:
        df = pd.read_parquet(p)
        frames.append(mla_frame(df, "sglang", "isl"))
        sources.append(rel(p, root))
    p = newest(glob.glob(os.path.join(sysdir, "mla/trtllm/*/mla_generation_module_perf.parquet")))
    if p:
        df = pd.read_parquet(p)
        df = df[df.num_heads.isin(sorted({h // t for h in heads for t in (1, 2, 4, 8, 16)}))]
        df = df[(df.step <= 16384) & (df.kv_cache_dtype == "fp8") & (df.num_heads >= 16)]
        df = df[df.gemm_type == "fp8_block"]
        frames.append(mla_frame(df, "trtllm", "step"))
        sources.append(rel(p, root))
    if not frames:
        return None
    out = pd.concat(frames).sort_values(
        ["framework", "kernel_source", "gemm_dtype", "kv_cache_dtype", "num_heads", "batch_size", "kv_len"]
    )
    units = {
        "framework_version": "framework version",
        "kernel_source": "attention backend (sglang: flashinfer or fa3; trtllm: default)",
        "framework": "sglang = table wideep_generation_mla (SGLang DeepseekV2 self_attn module, eager; the fused q_a/kv_a "
        "down-projection is replaced by a random tensor, everything after it is timed: q_b, absorbed "
        "kv_b BMMs, RoPE, KV write, attention core, o_proj) trtllm = table mla_generation_module (TRT-LLM MLA attention module; FP8 KV rows only)",
        "gemm_dtype": "projection GEMM format (fp8_block = DeepGEMM block FP8)",
        "kv_cache_dtype": "KV cache format",
        "num_heads": "attention heads on this GPU = 128 / attention TP for DeepSeek-V3 (DeepSeek shapes "
        "h=7168, q_lora 1536, kv_lora 512, rope 64)",
        "batch_size": "decode requests in the step on this GPU (one new token each)",
        "kv_len": "KV-cache length per request, tokens (sglang: isl column; trtllm: step column)",
        "latency_us": "measured time of the whole attention module for ONE layer, one decode step, "
        "microseconds (table ms x 1000)",
    }
    return out, sources, units


MLA_CORE_BATCHES = (1, 16, 64, 256)


def mla_core(root, sysdir, version, heads):
    """The attention kernel alone (no projections), BF16 and FP8 KV: TRT-LLM's and SGLang's (FA3 on Hopper)
    generation_mla tables, for the catalog's DeepSeek head counts and a few batch sizes."""
    frames, sources = [], []
    for fw in ("trtllm", "sglang"):
        p = newest(glob.glob(os.path.join(sysdir, f"mla/{fw}/*/generation_mla_perf.parquet")))
        if not p:
            continue
        df = pd.read_parquet(p)
        df = df[df.num_heads.isin(sorted({h // t for h in heads for t in (1, 2, 4, 8)} & {16, 32, 64, 128}))]
        df = df[df.batch_size.isin(MLA_CORE_BATCHES)]
        df = df.groupby(
            ["version", "kernel_source", "kv_cache_dtype", "num_heads", "batch_size", "step"], as_index=False
        )["latency"].mean()
        frames.append(mla_frame(df, fw, "step", gemm=False))
        sources.append(rel(p, root))
    if not frames:
        return None
    out = pd.concat(frames).sort_values(["framework", "kv_cache_dtype", "num_heads", "batch_size", "kv_len"])
    units = {
        "framework": "trtllm or sglang (table generation_mla_perf: the decode attention kernel only, BF16 MMAs "
        "per mla_dtype; no projections)",
        "framework_version": "framework version",
        "kernel_source": "attention kernel (sglang: flash_attention = FA3 on Hopper; trtllm: default)",
        "kv_cache_dtype": "KV cache format (bfloat16 or fp8)",
        "num_heads": "query heads on this GPU (DeepSeek-V3 MLA: d_k 576, d_v 512, one latent KV head)",
        "batch_size": "decode requests (one query token each)",
        "kv_len": "KV-cache length per request, tokens (the table's step column)",
        "latency_us": "measured kernel time for one layer, microseconds (table ms x 1000; mean of repeated rows)",
    }
    return out, sources, units


def gemm(root, sysdir, version, wanted):
    p = newest(glob.glob(os.path.join(sysdir, "gemm/sglang/*/gemm_perf.parquet")))
    if not p:
        return None
    df = pd.read_parquet(p)
    df = df[df.gemm_dtype.isin(["bfloat16", "fp8_block", "nvfp4"]) & df.m.isin(GEMM_M)]
    keep = nearest_pairs(df, wanted)
    df = df[pd.Series(list(zip(df.n, df.k, strict=True)), index=df.index).isin(keep)]
    out = pd.DataFrame(
        {
            "dtype": df["gemm_dtype"],
            "m": df["m"],
            "n": df["n"],
            "k": df["k"],
            "latency_us": df["latency"] * MS_TO_US,
        }
    ).sort_values(["dtype", "n", "k", "m"])
    units = {
        "dtype": "GEMM input format and kernel: fp8_block = sglang_deepgemm_gemm_nt_f8f8bf16 (DeepGEMM, "
        "128x128 block scales), bfloat16 = sglang_torch_linear (cuBLAS), nvfp4 = "
        "sglang_flashinfer_cutedsl_nvfp4 (Blackwell only)",
        "m": "rows (tokens); the subset 1,2,4,8,16,24,32,48,64,96,128,192,256,384,512,768,1024,2048,4096",
        "n": "output features; only the measured (n,k) pairs nearest (log space) to the catalog models' "
        "projection shapes at TP1 and TP8 are kept",
        "k": "input features (reduction dimension)",
        "latency_us": "measured time of one GEMM Y[m,n] = X[m,k] W[n,k]^T, microseconds (table ms x 1000)",
    }
    return out, [rel(p, root)], units


def deepep_ll(root, sysdir, version):
    frames, sources = [], []
    for p in sorted(glob.glob(os.path.join(sysdir, "comm/sglang/*/wideep_deepep_ll_perf.parquet"))):
        df = pd.read_parquet(p)
        frames.append(
            pd.DataFrame(
                {
                    "table_version": p.split(os.sep)[-2],
                    "nodes": df["node_num"],
                    "hidden_size": df["hidden_size"],
                    "num_experts": df["num_experts"],
                    "topk": df["num_topk"],
                    "tokens_per_rank": df["num_token"],
                    "dispatch_us": df["dispatch_avg_t_us"],
                    "combine_us": df["combine_avg_t_us"],
                    "dispatch_gbps": df["dispatch_bandwidth_gbps"],
                    "combine_gbps": df["combine_bandwidth_gbps"],
                }
            )
        )
        sources.append(rel(p, root))
    if not frames:
        return None
    out = pd.concat(frames).sort_values(
        ["table_version", "nodes", "hidden_size", "num_experts", "topk", "tokens_per_rank"]
    )
    units = {
        "table_version": "directory version of the table (0.5.6.post2: multi-node DeepSeek shape; 0.5.12: one "
        "node, several model shapes)",
        "nodes": "nodes in the EP group; aiconfigurator reads EP size = nodes x 8 (HGX 8-GPU nodes; for "
        "GB200/GB300 the rank count per node is not recorded in the table)",
        "hidden_size": "token hidden size (elements)",
        "num_experts": "routed experts",
        "topk": "experts per token",
        "tokens_per_rank": "tokens dispatched by each rank (DeepEP test num_tokens)",
        "dispatch_us": "DeepEP low-latency dispatch time (FP8 payload), per call, as measured in microseconds",
        "combine_us": "DeepEP low-latency combine time (BF16 payload), per call, as measured in microseconds",
        "dispatch_gbps": "DeepEP test's reported dispatch bandwidth, GB/s",
        "combine_gbps": "DeepEP test's reported combine bandwidth, GB/s",
    }
    return out, sources, units


def deepep_normal(root, sysdir, version, hiddens):
    frames, sources = [], []
    for p in sorted(glob.glob(os.path.join(sysdir, "comm/sglang/*/wideep_deepep_normal_perf.parquet"))):
        df = pd.read_parquet(p)
        df = df[
            (df.num_token <= MAX_NORMAL_TOKENS)
            & df.hidden_size.isin(hiddens)
            & df.dispatch_sms.isin([20, 24])
        ]
        frames.append(
            pd.DataFrame(
                {
                    "table_version": p.split(os.sep)[-2],
                    "nodes": df["node_num"],
                    "hidden_size": df["hidden_size"],
                    "num_experts": df["num_experts"],
                    "topk": df["num_topk"],
                    "tokens_per_rank": df["num_token"],
                    "dispatch_sms": df["dispatch_sms"],
                    "dispatch_us": df["dispatch_transmit_us"] + df["dispatch_notify_us"],
                    "combine_sms": df["combine_sms"],
                    "combine_us": df["combine_transmit_us"] + df["combine_notify_us"],
                }
            )
        )
        sources.append(rel(p, root))
    if not frames:
        return None
    out = pd.concat(frames).sort_values(
        ["table_version", "nodes", "hidden_size", "num_experts", "topk", "dispatch_sms", "tokens_per_rank"]
    )
    units = {
        "table_version": "directory version of the table",
        "nodes": "nodes in the EP group (aiconfigurator reads EP size = nodes x 8)",
        "hidden_size": "token hidden size (elements); catalog hidden sizes only",
        "num_experts": "routed experts",
        "topk": "experts per token",
        "tokens_per_rank": "tokens dispatched by each rank, <= 4096 kept",
        "dispatch_sms": "SMs given to the dispatch kernel (20 and 24 kept, the serving defaults)",
        "dispatch_us": "DeepEP normal (high-throughput) dispatch, transmit + notify, microseconds as measured",
        "combine_sms": "SMs given to the combine kernel",
        "combine_us": "DeepEP normal combine, transmit + notify, microseconds as measured",
    }
    return out, sources, units


def allreduce(root, sysdir, version):
    frames, sources = [], []
    p = newest(glob.glob(os.path.join(sysdir, "comm/sglang/*/custom_allreduce_perf.parquet")))
    if p:
        df = pd.read_parquet(p)
        frames.append(
            pd.DataFrame(
                {
                    "library": df["kernel_source"],
                    "library_version": df["version"],
                    "op": "all_reduce",
                    "dtype": df["allreduce_dtype"],
                    "num_gpus": df["num_gpus"],
                    "message_bytes": df["message_size"] * 2,
                    "latency_us": df["latency"] * MS_TO_US,
                }
            )
        )
        sources.append(rel(p, root))
    p = newest(glob.glob(os.path.join(sysdir, "comm/nccl/*/nccl_perf.parquet")))
    if p:
        df = pd.read_parquet(p)
        df = df[(df.op_name == "all_reduce") & (df.nccl_dtype == "half") & (df.message_size <= 2**25)]
        size = df["nccl_dtype"].map({"half": 2, "int8": 1})
        frames.append(
            pd.DataFrame(
                {
                    "library": "NCCL",
                    "library_version": df["version"],
                    "op": df["op_name"],
                    "dtype": df["nccl_dtype"],
                    "num_gpus": df["num_gpus"],
                    "message_bytes": df["message_size"] * size,
                    "latency_us": df["latency"] * MS_TO_US,
                }
            )
        )
        sources.append(rel(p, root))
    if not frames:
        return None
    out = pd.concat(frames).sort_values(["library", "op", "dtype", "num_gpus", "message_bytes"])
    units = {
        "library": "SGLang_CustomAllReduce_graph / _eager (SGLang custom all-reduce, CUDA graph or eager) or NCCL",
        "library_version": "SGLang or NCCL version",
        "op": "collective (all_reduce; NCCL rows: half precision, <= 2^25 elements)",
        "dtype": "element type (bfloat16, half, int8)",
        "num_gpus": "GPUs in the collective (one NVLink domain)",
        "message_bytes": "message size in BYTES = the table's message_size (elements) x element size",
        "latency_us": "measured time of one collective, microseconds (table ms x 1000)",
    }
    return out, sources, units


def silicon_sample(root, version, out_path):
    src = os.path.join(root, "systems/silicon_sample.csv")
    df = pd.read_csv(src)
    df = df[(df["mode"] == "disagg") & df["silicon_tpot_ms"].notna() & df["decode_batch_size"].notna()]
    cols = {
        "id": "id",
        "backend": "backend",
        "backend_version": "backend_version",
        "model_path": "model",
        "system": "system",
        "precision": "precision",
        "gemm_quant_mode": "gemm_dtype",
        "moe_quant_mode": "moe_dtype",
        "isl": "isl_tokens",
        "osl": "osl_tokens",
        "decode_batch_size": "decode_batch_per_worker",
        "decode_num_workers": "decode_workers",
        "decode_tp_size": "decode_tp",
        "decode_pp_size": "decode_pp",
        "decode_attention_dp_size": "decode_attention_dp",
        "decode_moe_tp_size": "decode_moe_tp",
        "decode_moe_ep_size": "decode_moe_ep",
        "prefill_num_workers": "prefill_workers",
        "silicon_tpot_ms": "tpot_ms",
        "silicon_data_source": "measurement",
    }
    out = df[list(cols)].rename(columns=cols)
    for c in [
        "decode_batch_per_worker",
        "decode_workers",
        "decode_tp",
        "decode_pp",
        "decode_attention_dp",
        "decode_moe_tp",
        "decode_moe_ep",
        "prefill_workers",
    ]:
        out[c] = out[c].astype("Int64")
    out = out.sort_values(["system", "model", "backend", "id"])
    units = {
        "id": "aiconfigurator case id",
        "backend": "serving framework (sglang, trtllm, vllm)",
        "backend_version": "framework version",
        "model": "Hugging Face model path",
        "system": "aiconfigurator system name (h100_sxm, h200_sxm, b200_sxm, b300_sxm, gb200, gb300)",
        "precision": "headline precision of the run",
        "gemm_dtype": "format of the dense GEMMs (fp8, fp8_block, nvfp4, ...)",
        "moe_dtype": "format of the routed-expert GEMMs",
        "isl_tokens": "input sequence length, tokens",
        "osl_tokens": "output sequence length, tokens",
        "decode_batch_per_worker": "concurrent requests per decode worker (decode_batch_size)",
        "decode_workers": "decode workers (engine instances) in the run",
        "decode_tp": "GPUs per decode worker's attention tensor-parallel group x DP (aiconfigurator tp_size; "
        "GPUs per worker = decode_tp x decode_pp)",
        "decode_pp": "pipeline stages per decode worker",
        "decode_attention_dp": "attention data-parallel ranks per decode worker",
        "decode_moe_tp": "MoE tensor-parallel degree per decode worker (0 = not applicable)",
        "decode_moe_ep": "MoE expert-parallel degree per decode worker (0 = not applicable)",
        "prefill_workers": "prefill workers of the disaggregated deployment",
        "tpot_ms": "measured time per output token, milliseconds as measured (silicon_tpot_ms)",
        "measurement": "aiconfigurator's provenance string for the measurement",
    }
    write_csv(
        out_path,
        out,
        ["aiconfigurator_core/systems/silicon_sample.csv (rows with mode=disagg)"],
        "Measured TPOT of disaggregated decode workers (aiconfigurator silicon sample), one row per run",
        units,
        version,
    )
    return len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--repo", default=os.path.abspath(os.path.join(here, "../../../..")))
    args = ap.parse_args()
    root, version = wheel_root()
    moe_shapes, gemm_shapes, mla_heads = catalog_shapes(args.repo)
    hiddens = sorted({s[0] for s in moe_shapes})
    measured = os.path.join(args.repo, "src/afdscope/calibration/measured")
    summary = []
    for system in SYSTEMS:
        sysdir = os.path.join(root, "systems/data", system)
        jobs = {
            "moe": (
                moe_wideep(root, sysdir, version),
                "Wide-EP MoE expert compute (SGLang DeepEP+DeepGEMM), decode",
            ),
            "moe_fused": (
                moe_fused(root, sysdir, version, moe_shapes),
                "Fused single-GPU MoE (SGLang), catalog shapes",
            ),
            "mla_decode": (
                mla_decode(root, sysdir, version, mla_heads),
                "MLA attention module, decode (DeepSeek-V3 shape)",
            ),
            "mla_core": (
                mla_core(root, sysdir, version, mla_heads),
                "MLA decode attention kernel alone (DeepSeek-V3 shape), BF16 and FP8 KV",
            ),
            "gemm": (
                gemm(root, sysdir, version, gemm_shapes),
                "Dense GEMM (SGLang kernels), catalog projection shapes",
            ),
            "deepep_ll": (
                deepep_ll(root, sysdir, version),
                "DeepEP low-latency dispatch/combine (SGLang build)",
            ),
            "deepep_normal": (
                deepep_normal(root, sysdir, version, hiddens),
                "DeepEP normal dispatch/combine",
            ),
            "allreduce": (
                allreduce(root, sysdir, version),
                "All-reduce and NCCL collectives within one node",
            ),
        }
        for op, (res, what) in jobs.items():
            if res is None:
                continue
            df, sources, units = res
            path = os.path.join(measured, system, f"{op}.csv")
            write_csv(path, df, sources, f"{what}, measured on {system}", units, version)
            summary.append((system, op, len(df), os.path.getsize(path)))
    n = silicon_sample(
        root,
        version,
        os.path.join(args.repo, "src/afdscope/validation/data/aiconfigurator_silicon_sample.csv"),
    )
    total = 0
    for system, op, rows, size in summary:
        total += size
        print(f"{system:10s} {op:14s} {rows:6d} rows {size / 1024:8.1f} KiB")
    print(f"silicon sample: {n} decode rows; measured tables total {total / 1024 / 1024:.2f} MiB")


if __name__ == "__main__":
    main()
