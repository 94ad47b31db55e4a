"""Per-layer latency budget under N_BO-batch overlap (paper §2, spec paper-model.md §2).

T   = SLO · L_acc = t_g + N_layers · N_BO · t_B
t_B = (SLO · L_acc − t_g) / (N_BO · N_layers)
"""

from __future__ import annotations

import numpy as np

from afdscope.errors import AfdscopeError


def layer_budget_s(slo_s, accepted_tokens_per_step, step_gap_s, micro_batches, n_layers):
    """t_B in seconds, broadcast over arrays. Raises when the SLO leaves nothing after the gap t_g."""
    step_s = np.multiply(slo_s, accepted_tokens_per_step)
    budget = (step_s - step_gap_s) / np.multiply(micro_batches, n_layers)
    if np.any(budget <= 0):
        min_slo_ms = float(np.max(np.divide(step_gap_s, accepted_tokens_per_step))) * 1e3
        raise AfdscopeError(
            f"an SLO of {float(np.min(slo_s)) * 1e3:g} ms leaves no per-layer budget after the step gap "
            f"t_g = {float(np.max(step_gap_s)) * 1e3:g} ms (SLO × L_acc must exceed t_g); "
            f"use an SLO above {min_slo_ms:.3g} ms or a smaller step gap"
        )
    return budget
