"""Cost per output token from rental prices (spec beyond.md §G).

$ per 1M output tokens = Σ_roles GPUs · $/GPU-hour / (output tokens/s · 3600) · 10⁶
"""

from __future__ import annotations

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware


def usd_per_million_tokens(usd_per_hour, tokens_per_s):
    """Dollars per million output tokens for a deployment costing `usd_per_hour` that emits
    `tokens_per_s` output tokens per second in total (vectorised)."""
    return np.asarray(usd_per_hour, dtype=float) / (np.asarray(tokens_per_s, dtype=float) * 3600.0) * 1e6


def with_price(hw: Hardware, usd_per_gpu_hour: float | None) -> Hardware:
    """The device with its rental price replaced (a user's `--price H100=2.1`)."""
    if usd_per_gpu_hour is None:
        return hw
    if not np.isfinite(usd_per_gpu_hour) or usd_per_gpu_hour <= 0:
        raise AfdscopeError(f"price for '{hw.name}' = {usd_per_gpu_hour!r}: give a positive USD per GPU-hour")
    return hw.model_copy(update={"price_usd_per_gpu_hour": float(usd_per_gpu_hour)})
