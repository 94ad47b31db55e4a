"""Throughput factor α under load imbalance σ (paper §3.3; spec paper-model.md §7).

σ ≤ 1 is the goodput factor of the stage hit by imbalance (mean/max load), α ≤ 1 the resulting
throughput factor. λ = t_a/t_f for large-scale EP, λ = N_A/N_F for AFD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from afdscope.errors import AfdscopeError


def alpha_dp_ep(lam, sigma):
    """DP imbalance, large-scale EP: the batch drops to σ·B but the FFN stage refills the time freed."""
    return (np.asarray(lam) + 1) / (np.asarray(lam) / sigma + 1)


def alpha_dp_afd(sigma):
    """DP imbalance, AFD: t_B is fixed and the FFN cannot use the freed time, so α = σ."""
    return np.asarray(sigma, dtype=float)


def alpha_ep_ep(lam, sigma):
    """EP (routing) imbalance, large-scale EP: α = (λ + 1)/(λ + 1/σ)."""
    return (np.asarray(lam) + 1) / (np.asarray(lam) + 1 / np.asarray(sigma))


def alpha_afd_exact(n_attention, n_ffn, sigma):
    """AFD with continuously scalable attention: σ(N_A + N_F)/(σ·N_A + N_F) (= α_EP at λ = N_A/N_F)."""
    return sigma * (np.add(n_attention, n_ffn)) / (np.multiply(sigma, n_attention) + n_ffn)


def _prefactor(n_attention, n_ffn):
    # (λ+1)/λ; the paper's Eqs. 14–15 print (λ+1), which gives α = λ at σ = 1 (a typo).
    lam = np.divide(n_attention, n_ffn)
    return (lam + 1) / lam


def alpha_afd_floor(n_attention, n_ffn, sigma):
    """Whole nodes: drop to ⌊σ·N_A⌋ attention nodes."""
    x = np.floor(np.multiply(sigma, n_attention))
    return _prefactor(n_attention, n_ffn) * x / (x + n_ffn)


def alpha_afd_ceil(n_attention, n_ffn, sigma):
    """Whole nodes: keep ⌈σ·N_A⌉ attention nodes, one of them under-filled."""
    x = np.multiply(sigma, n_attention)
    c = np.ceil(x)
    return _prefactor(n_attention, n_ffn) * c / (c + n_ffn) * x / c


def alpha_afd(n_attention, n_ffn, sigma):
    """AFD with whole-node scaling: exact when σ·N_A is an integer, else the better of floor/ceil."""
    x = np.multiply(sigma, n_attention)
    integer = np.isclose(x, np.round(x), rtol=0, atol=1e-9)
    return np.where(
        integer,
        alpha_afd_exact(n_attention, n_ffn, sigma),
        np.maximum(alpha_afd_floor(n_attention, n_ffn, sigma), alpha_afd_ceil(n_attention, n_ffn, sigma)),
    )


FIG6_SIGMAS = (0.70, 0.75, 0.80, 0.85)
FIG6_N_FFN = (2, 4, 6)


@dataclass(frozen=True)
class ImbalanceGrid:
    """AFD vs EP at equal λ over integer N_A (flat arrays, one entry per point)."""

    n_ffn: np.ndarray
    n_attention: np.ndarray
    lam: np.ndarray
    sigma: np.ndarray
    alpha_ep: np.ndarray
    alpha_afd: np.ndarray

    @property
    def afd_worse(self) -> np.ndarray:
        return self.alpha_afd < self.alpha_ep * (1 - 1e-12)


def imbalance_grid(
    sigmas=FIG6_SIGMAS, n_ffn=FIG6_N_FFN, lambda_min: float = 1.0, lambda_max: float = 5.0, lambdas=None
) -> ImbalanceGrid:
    """The paper's Fig. 6 grid by default: λ ∈ [1, 5], N_F ∈ {2, 4, 6}, σ ∈ {0.70 … 0.85}, every
    integer N_A with λ = N_A/N_F in range (204 points). `lambdas` keeps only those λ values."""
    rows = [
        (nf, na, s)
        for s in sigmas
        for nf in n_ffn
        for na in range(int(np.ceil(lambda_min * nf - 1e-9)), int(np.floor(lambda_max * nf + 1e-9)) + 1)
        if na >= 1 and (lambdas is None or np.any(np.isclose(na / nf, lambdas)))
    ]
    if not rows:
        raise AfdscopeError(
            f"no integer N_A gives λ = N_A/N_F in [{lambda_min:g}, {lambda_max:g}] for N_F in {list(n_ffn)}"
            + (f" and λ in {list(lambdas)}" if lambdas is not None else "")
            + "; widen the λ range or pick λ values that are multiples of 1/N_F"
        )
    nf, na, s = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    lam = na / nf
    return ImbalanceGrid(
        n_ffn=nf,
        n_attention=na,
        lam=lam,
        sigma=s,
        alpha_ep=alpha_ep_ep(lam, s),
        alpha_afd=alpha_afd(na, nf, s),
    )
