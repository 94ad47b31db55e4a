"""Catalog entries as rows for `afdscope models|hardware [show]`, in the units their keys name."""

from __future__ import annotations

from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel


def model_summary_row(m: MoEModel) -> dict:
    return {
        "name": m.name,
        "attention": m.attention.kind,
        "layers": m.num_layers,
        "moe_layers": m.n_moe_layers,
        "hidden": m.hidden_size,
        "experts": m.n_routed_experts,
        "top_k": m.top_k,
        "expert_intermediate": m.moe_intermediate_size,
        "shared_experts": m.n_shared_experts,
        "total_params_b": round(m.total_params / 1e9, 1),
        "active_params_b": round(m.active_params / 1e9, 1),
        "kv_bytes_per_token_bf16": m.kv_bytes_per_token(2),
    }


def model_detail(m: MoEModel) -> dict:
    a = m.attention
    return {
        "name": m.name,
        "display_name": m.display_name,
        "source": m.source,
        "model_type": m.model_type,
        "num_layers": m.num_layers,
        "dense_layers": m.n_dense_layers,
        "moe_layers": m.n_moe_layers,
        "hidden_size": m.hidden_size,
        "vocab_size": m.vocab_size,
        "n_routed_experts": m.n_routed_experts,
        "top_k": m.top_k,
        "moe_intermediate_size": m.moe_intermediate_size,
        "n_shared_experts": m.n_shared_experts,
        "shared_intermediate_size": m.shared_intermediate_size,
        "dense_intermediate_size": m.dense_intermediate_size,
        "n_group": m.n_group,
        "topk_group": m.topk_group,
        "mtp_layers": m.mtp_layers,
        "attention": a.kind,
        "num_q_heads": a.num_q_heads,
        "num_kv_heads": a.num_kv_heads,
        "head_dim": a.head_dim,
        "kv_lora_rank": a.kv_lora_rank,
        "sliding_window": a.sliding_window,
        "windowed_layers": sum(w is not None for w in a.layer_windows),
        "kv_bytes_per_token_bf16": m.kv_bytes_per_token(2),
        "kv_bytes_per_token_fp8": m.kv_bytes_per_token(1),
        "total_params": m.total_params,
        "active_params": m.active_params,
        "mtp_params": m.mtp_params,
    }


def _dense(hw: Hardware, dtype: str) -> float | None:
    value = getattr(hw, f"{dtype}_flops")
    return None if value is None else value * hw.sustained.compute / 1e12


def hardware_summary_row(hw: Hardware) -> dict:
    """Effective (sustained) values: what the models use."""
    return {
        "name": hw.name,
        "fp8_tflops": _dense(hw, "fp8"),
        "bf16_tflops": _dense(hw, "bf16"),
        "hbm_gb": hw.hbm_capacity / 1e9,
        "hbm_tb_s": hw.effective_hbm_bandwidth / 1e12,
        "scale_up_gb_s": hw.effective_scale_up_bandwidth / 1e9,
        "scale_up_domain": hw.scale_up_domain,
        "scale_out_gb_s": hw.effective_scale_out_bandwidth / 1e9,
        "usd_per_gpu_hour": hw.price_usd_per_gpu_hour,
    }


def hardware_detail(hw: Hardware) -> dict:
    return {
        "name": hw.name,
        "display_name": hw.display_name,
        "value_set": hw.value_set,
        "bf16_dense_tflops_peak": hw.bf16_flops / 1e12,
        "fp8_dense_tflops_peak": None if hw.fp8_flops is None else hw.fp8_flops / 1e12,
        "fp4_dense_tflops_peak": None if hw.fp4_flops is None else hw.fp4_flops / 1e12,
        "hbm_capacity_gb": hw.hbm_capacity / 1e9,
        "hbm_bandwidth_tb_s_peak": hw.hbm_bandwidth / 1e12,
        "scale_up_bandwidth_gb_s_peak": hw.scale_up_bandwidth / 1e9,
        "scale_up_domain": hw.scale_up_domain,
        "scale_out_bandwidth_gb_s_peak": hw.scale_out_bandwidth / 1e9,
        "gpus_per_node": hw.gpus_per_node,
        "superpod": hw.is_superpod,
        "sustained_compute": hw.sustained.compute,
        "sustained_hbm": hw.sustained.hbm,
        "sustained_scale_up": hw.sustained.scale_up,
        "sustained_scale_out": hw.sustained.scale_out,
        "hbm_tb_s_effective": hw.effective_hbm_bandwidth / 1e12,
        "scale_up_gb_s_effective": hw.effective_scale_up_bandwidth / 1e9,
        "scale_out_gb_s_effective": hw.effective_scale_out_bandwidth / 1e9,
        "usd_per_gpu_hour": hw.price_usd_per_gpu_hour,
        "sources": "; ".join(hw.sources),
        "notes": " ".join(hw.notes),
    }
