"""One FFN rank (GPU) of an AFD deployment under the paper's communication-level roofline
(paper §3.1–3.2; spec paper-model.md §3–§6).

Everything is vectorised: `RankProblem` holds model and hardware parameters as arrays that broadcast
against each other and against the FFN node counts, so one call evaluates a whole models × hardware ×
N_F cube.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.ops.comm import assignments_per_node_token
from afdscope.paper.budget import layer_budget_s
from afdscope.paper.options import PaperOptions
from afdscope.roofline import link_tokens, roofline_time_s
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel

REGIMES = ("scale_up_bound", "stable_intensity", "scale_out_bound", "max_intensity")
LIMITS = ("comm_scale_up", "comm_scale_out", "compute")


@dataclass(frozen=True)
class RankProblem:
    """Model and hardware parameters of the paper's FFN-rank model, as broadcastable arrays (SI)."""

    hidden_size: np.ndarray  # H
    expert_intermediate: np.ndarray  # M
    n_experts: np.ndarray  # N_exp (routed)
    top_k: np.ndarray  # K
    n_layers: np.ndarray  # all decoder layers share t_B
    n_moe_layers: np.ndarray
    peak_flops: np.ndarray  # F, dense FP8
    hbm_bandwidth: np.ndarray
    hbm_capacity: np.ndarray
    scale_out_bandwidth: np.ndarray  # 𝓑_out per GPU, sustained
    scale_up_bandwidth: np.ndarray  # 𝓑_up per GPU, sustained
    superpod: np.ndarray  # bool: all traffic rides scale-up

    @classmethod
    def grid(cls, models: Sequence[MoEModel], hardware: Sequence[Hardware]) -> RankProblem:
        """Shape (len(models), len(hardware), 1): broadcast against N_F on the last axis."""

        def m(attr: str) -> np.ndarray:
            return np.array([float(getattr(x, attr)) for x in models]).reshape(-1, 1, 1)

        def h(values) -> np.ndarray:
            return np.array(values, dtype=float).reshape(1, -1, 1)

        for x in hardware:
            if x.fp8_flops is None:
                raise AfdscopeError(
                    f"hardware '{x.name}' has no FP8 peak, and the paper's model runs FP8 experts; "
                    f"leave it out of this analysis (it has: {', '.join(x.dtypes)})"
                )

        return cls(
            hidden_size=m("hidden_size"),
            expert_intermediate=m("moe_intermediate_size"),
            n_experts=m("n_routed_experts"),
            top_k=m("top_k"),
            n_layers=m("num_layers"),
            n_moe_layers=m("n_moe_layers"),
            peak_flops=h([x.effective_flops("fp8") for x in hardware]),
            hbm_bandwidth=h([x.effective_hbm_bandwidth for x in hardware]),
            hbm_capacity=h([x.hbm_capacity for x in hardware]),
            scale_out_bandwidth=h([x.effective_scale_out_bandwidth for x in hardware]),
            scale_up_bandwidth=h([x.effective_scale_up_bandwidth for x in hardware]),
            superpod=h([x.is_superpod for x in hardware]).astype(bool),
        )

    @classmethod
    def single(cls, model: MoEModel, hardware: Hardware) -> RankProblem:
        """Scalars (shape (1,) after squeezing the grid axes): broadcast against a 1-D N_F sweep."""
        g = cls.grid([model], [hardware])
        return cls(**{k: v.reshape(1) for k, v in g.__dict__.items()})


@dataclass(frozen=True)
class RankCurve:
    """The per-rank quantities of the paper for every N_F (arrays, broadcast shape)."""

    n_ffn_nodes: np.ndarray
    layer_budget_s: np.ndarray  # t_B
    experts_per_gpu: np.ndarray  # G
    tokens_per_rank: np.ndarray  # B_rank: token-expert assignments one GPU receives in t_B
    tokens_per_expert: np.ndarray  # B = B_rank / G
    flops: np.ndarray
    weight_bytes: np.ndarray  # Mem
    intensity: np.ndarray  # I = FLOPs / Mem
    gemm_time_s: np.ndarray  # t_G
    ofu: np.ndarray
    temporal_sparsity: np.ndarray  # S_t = t_G / t_B
    hfu: np.ndarray  # = OFU · S_t
    regime: np.ndarray  # index into REGIMES
    limited_by: np.ndarray  # index into LIMITS
    capacity_ok: np.ndarray  # routed experts of every MoE layer fit in HBM
    bandwidth_ok: np.ndarray  # local experts stream from HBM within t_B

    @property
    def feasible(self) -> np.ndarray:
        return self.capacity_ok & self.bandwidth_ok

    @property
    def regime_names(self) -> np.ndarray:
        return np.asarray(REGIMES)[self.regime]

    @property
    def limited_by_names(self) -> np.ndarray:
        return np.asarray(LIMITS)[self.limited_by]


def rank_curve(problem: RankProblem, n_ffn_nodes, options: PaperOptions) -> RankCurve:
    """Evaluate the paper's FFN rank for every N_F in `n_ffn_nodes` (broadcast on the last axis)."""
    p = problem
    n_f = np.asarray(n_ffn_nodes, dtype=float)
    g = options.gpus_per_node
    t_b = layer_budget_s(
        options.slo_s, options.accepted_tokens_per_step, options.step_gap_s, options.micro_batches, p.n_layers
    )
    bytes_per_token = options.bytes_per_token_element * p.hidden_size

    # Tokens the links deliver in t_B, then the two-stage (scale-out → NVLink) fan-out.
    tokens_out = link_tokens(p.scale_out_bandwidth, t_b, bytes_per_token)
    tokens_up = link_tokens(p.scale_up_bandwidth, t_b, bytes_per_token)
    tokens_out_fanned = tokens_out * assignments_per_node_token(p.n_experts, p.top_k, n_f, options.dedup)
    up_binds = p.superpod | (tokens_up <= tokens_out_fanned)
    tokens_comm = np.where(p.superpod, tokens_up, np.minimum(tokens_out_fanned, tokens_up))

    # A rank that could receive more than it computes in t_B is compute bound (HFU capped at 100 %).
    flops_per_token = 6.0 * p.hidden_size * p.expert_intermediate
    tokens_compute = p.peak_flops * t_b / flops_per_token
    compute_binds = tokens_compute < tokens_comm
    tokens = np.minimum(tokens_comm, tokens_compute)

    experts = np.ceil(p.n_experts / (n_f * g))
    flops = flops_per_token * tokens
    weight_bytes = 3.0 * experts * p.hidden_size * p.expert_intermediate * options.weight_bytes
    t_gemm = roofline_time_s(flops, weight_bytes, p.peak_flops, p.hbm_bandwidth)

    # Regimes of paper Table 3 (standard cluster); a Superpod stays on the scale-up ceiling.
    regime = np.select(
        [up_binds, experts <= 1, n_f < p.top_k],
        [REGIMES.index("scale_up_bound"), REGIMES.index("max_intensity"), REGIMES.index("stable_intensity")],
        REGIMES.index("scale_out_bound"),
    )
    limited_by = np.select(
        [compute_binds, up_binds],
        [LIMITS.index("compute"), LIMITS.index("comm_scale_up")],
        LIMITS.index("comm_scale_out"),
    )
    shape = np.broadcast_shapes(n_f.shape, tokens.shape, experts.shape)

    def b(x):
        return np.broadcast_to(x, shape)

    return RankCurve(
        n_ffn_nodes=b(n_f),
        layer_budget_s=b(t_b),
        experts_per_gpu=b(experts),
        tokens_per_rank=b(tokens),
        tokens_per_expert=b(tokens / experts),
        flops=b(flops),
        weight_bytes=b(weight_bytes),
        intensity=b(flops / weight_bytes),
        gemm_time_s=b(t_gemm),
        ofu=b(flops / (p.peak_flops * t_gemm)),
        temporal_sparsity=b(t_gemm / t_b),
        hfu=b(flops / (p.peak_flops * t_b)),
        regime=b(regime),
        limited_by=b(limited_by),
        capacity_ok=b(p.n_moe_layers * weight_bytes <= p.hbm_capacity),
        bandwidth_ok=b(weight_bytes / p.hbm_bandwidth <= t_b),
    )


@dataclass(frozen=True)
class RegimeBoundaries:
    """Where the regimes of paper Table 3 change, in (continuous) N_F on a standard cluster."""

    scale_up_end: float  # K / ρ, ρ = 𝓑_up / 𝓑_out
    dead_zone_start: float  # K: from here every node receives at most one copy of a token
    max_intensity_start: float  # N_exp / g: one expert per GPU
    ceiling_hfu: float  # 2·M·𝓑_up/F (3·M·𝓑_up/F full duplex), capped at 1
    floor_hfu: float  # the dead-zone HFU, 2·M·𝓑_out/F, capped at 1


def regime_boundaries(model: MoEModel, hardware: Hardware, options: PaperOptions) -> RegimeBoundaries:
    p = RankProblem.single(model, hardware)
    # HFU_comm = FLOPs/(F·t_B) with B_rank = 𝓑·t_B/(b·H): t_B and H cancel.
    hfu_per_bandwidth = 6.0 * p.expert_intermediate / (options.bytes_per_token_element * p.peak_flops)
    rho = p.scale_up_bandwidth / p.scale_out_bandwidth
    return RegimeBoundaries(
        scale_up_end=float((p.top_k / rho)[0]),
        dead_zone_start=float(p.top_k[0]),
        max_intensity_start=float((p.n_experts / options.gpus_per_node)[0]),
        ceiling_hfu=float(np.minimum(1.0, hfu_per_bandwidth * p.scale_up_bandwidth)[0]),
        floor_hfu=float(np.minimum(1.0, hfu_per_bandwidth * p.scale_out_bandwidth)[0]),
    )
