"""Temporary re-export: the step and memory budget moved to `afdscope.deploy.budget` (it computes).
Delete once no caller imports this."""

from afdscope.deploy.budget import (
    CATEGORIES,
    LayerTimes,
    StepBudget,
    kv_bytes_per_gpu_request,
    layer_split,
    layer_times,
    memory_headroom,
    step_budget,
)

__all__ = [
    "CATEGORIES",
    "LayerTimes",
    "StepBudget",
    "kv_bytes_per_gpu_request",
    "layer_split",
    "layer_times",
    "memory_headroom",
    "step_budget",
]
