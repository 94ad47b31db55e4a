"""Roofline primitives, extended to links (the paper's "communication-level roofline").

All functions are pure and broadcast over numpy arrays.
"""

from __future__ import annotations

import numpy as np


def roofline_time_s(flops, memory_bytes, peak_flops, memory_bandwidth):
    """Time of a kernel that cannot overlap less than the slower of compute and memory traffic."""
    return np.maximum(np.divide(flops, peak_flops), np.divide(memory_bytes, memory_bandwidth))


def link_tokens(bandwidth, time_s, bytes_per_token):
    """Tokens a link of `bandwidth` bytes/s carries in `time_s` (the paper's B_X = 𝓑_X·t_B/(3·H))."""
    return np.multiply(bandwidth, time_s) / bytes_per_token
