"""Per-operator time multipliers: log-normal jitter and rare spikes, drawn up front in whole arrays.

A stage that synchronises N ranks (an all-to-all, the FFN waiting for every attention GPU's tokens)
ends when its slowest rank does, so its multiplier is the maximum of N independent draws. That maximum
is drawn directly, one uniform per stage: the largest of N uniforms is distributed as U^(1/N), and
the log-normal is monotone in its normal quantile — exact, and O(1) whatever N.
"""

from __future__ import annotations

import numpy as np

from afdscope.sim.options import SimOptions

# Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
      -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
      -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def _poly(coefs, x):
    out = np.zeros_like(x)
    for c in coefs:
        out = out * x + c
    return out


def normal_quantile(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹(p), vectorised; accurate in the lower tail, where the upper tail is asked for as Φ⁻¹(q)."""
    p = np.asarray(p, dtype=float)
    out = np.empty_like(p)
    low, high = p < _P_LOW, p > 1 - _P_LOW
    mid = ~(low | high)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = _poly(_A, r) * q / (_poly(_B, r) * r + 1)
    for mask, tail, sign in ((low, p[low], 1.0), (high, 1 - p[high], -1.0)):
        t = np.sqrt(-2 * np.log(tail))
        out[mask] = sign * _poly(_C, t) / (_poly(_D, t) * t + 1)
    return out


def max_lognormal(rng: np.random.Generator, shape, ranks: int, cv: float) -> np.ndarray:
    """The largest of `ranks` mean-1 log-normal draws with coefficient of variation `cv`, per entry."""
    if cv == 0:
        return np.ones(shape)
    s2 = np.log1p(cv * cv)
    u = 1.0 - rng.random(shape)  # in (0, 1]
    # Upper-tail probability of the maximum's quantile, 1 - u^(1/N), without cancellation for large N.
    tail = np.clip(-np.expm1(np.log(u) / ranks), 1e-300, 1 - 1e-16)
    z = -normal_quantile(tail)
    return np.exp(-s2 / 2 + np.sqrt(s2) * z)


def stage_multipliers(rng: np.random.Generator, shape, ranks: int, sim: SimOptions) -> np.ndarray:
    """Jitter × spikes for every instance of one stage (`shape`), run by `ranks` ranks in lock-step."""
    ranks = max(int(ranks), 1)
    out = max_lognormal(rng, shape, ranks, sim.jitter_cv)
    if sim.spike_prob > 0 and sim.spike_size > 1:
        # Any of the N ranks stalling stalls the stage: 1 - (1 - p)^N.
        p_stage = -np.expm1(ranks * np.log1p(-sim.spike_prob)) if sim.spike_prob < 1 else 1.0
        out = np.where(rng.random(shape) < p_stage, out * sim.spike_size, out)
    return out


def random_streams(seed: int) -> tuple[np.random.Generator, int]:
    """Independent streams for noise and routing, so turning one on leaves the other's draws alone."""
    noise, routing = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(noise), int(routing.generate_state(1)[0])
