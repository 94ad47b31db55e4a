"""Large-scale EP overlap schemes as explicit two-resource schedules of one MoE layer (closed forms).

Resources: the GPU's compute stream and its network (NVLink/RDMA copy engines). Per micro-batch and MoE
layer the phases are

    attn1   the first attention half: q/kv projections, norms, RoPE, KV append, the module's fixed term
            (everything before the core; SGLang's `self_attn.op_prepare`)
    attn2   the second half: core attention (FlashMLA / FlashAttention), W_UV and the output projection
            (with any TP all-reduce; SGLang's `op_core`), then the router, top-k and dispatch
            quantisation
    shared  the shared experts
    experts the routed experts (the busiest GPU's)
    d, k    dispatch and combine transfer times (network)
    s_d,s_k the time the dispatch and combine kernels themselves hold the compute stream (sending,
            receiving and packing; DeepEP's low-latency kernels run on the SMs)

A scheme says which compute a transfer overlaps; a transfer longer than its window stalls the stream.

* NBO (no overlap): every phase in a row — layer = attn + shared + experts + d + k.
* SBO (single-batch overlap, SGLang / Ant Group on H20): dispatch runs under the shared expert and the
  combine's send under the down-projection GEMM — layer = attn + max(shared, d) + experts
  + max(0, k − down).
* 2BO (two-batch overlap, SGLang TBO / DeepSeek's decode profile): two micro-batches X, Y alternate on
  the stream in the order …, X.experts, Y.attn2, X.attn1, Y.shared, Y.experts, X.attn2, Y.attn1, X.shared,
  …: X's dispatch overlaps its own shared expert and Y's first attention half, X's combine Y's second
  attention half (which ends with Y's dispatch kernel, s_d), and the routed experts overlap nothing.
  With C the per-micro-batch stream time (compute + s_d + s_k) a stall in the combine's window
  shortens the dispatch's, so per layer of both micro-batches

      layer = 2 · (C + max(0, k − attn2 − s_d, d − attn1 − shared)).

  The trailing block (the last micro-batch's combine) overlaps nothing: + k once per step. The
  simulator (sim/ep.py) runs this stream order segment by segment; without noise it settles here.

Sources: DeepSeek profile-data (decode, EP128), SGLang blog 2025-05-05 (TBO, per-layer profile),
the issue tracker's published-layer-times.csv. Pure functions over broadcast arrays (SI units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpPhases:
    """One MoE layer's phases for one micro-batch on the busiest GPU (s; arrays broadcast)."""

    attn1: np.ndarray
    attn2: np.ndarray
    shared: np.ndarray
    experts: np.ndarray
    experts_down: np.ndarray  # the down-projection part of `experts` (SBO's combine window)
    dispatch: np.ndarray
    combine: np.ndarray
    dispatch_stream: np.ndarray  # s_d
    combine_stream: np.ndarray  # s_k

    @property
    def compute(self) -> np.ndarray:
        """Stream time of one micro-batch's compute phases (no communication kernels)."""
        return self.attn1 + self.attn2 + self.shared + self.experts


@dataclass(frozen=True)
class EpSchedule:
    layer_s: np.ndarray  # one MoE layer, all micro-batches
    exposed_comm_s: np.ndarray  # of layer_s: stream time lost to communication (stalls + comm kernels)
    drain_s: np.ndarray  # once per step: the trailing block that overlaps nothing


def ep_schedule(scheme: str, p: EpPhases, pipeline_fill: bool = True) -> EpSchedule:
    """The layer time of `scheme` (nbo, sbo, 2bo) over phases `p`."""
    zero = np.zeros_like(np.asarray(p.compute, dtype=float))
    if scheme == "nbo":
        exposed = p.dispatch + p.combine
        return EpSchedule(p.compute + exposed, exposed + zero, zero)
    if scheme == "sbo":
        exposed = np.maximum(p.dispatch - p.shared, 0.0) + np.maximum(p.combine - p.experts_down, 0.0)
        return EpSchedule(p.compute + exposed, exposed + zero, zero)
    if scheme == "2bo":
        stream = p.dispatch_stream + p.combine_stream
        stall = np.maximum(
            np.maximum(p.combine - p.attn2 - p.dispatch_stream, p.dispatch - p.attn1 - p.shared),
            0.0,
        )
        layer = 2.0 * (p.compute + stream + stall)
        drain = p.combine + zero if pipeline_fill else zero
        return EpSchedule(layer, 2.0 * (stream + stall), drain)
    raise ValueError(f"unknown EP overlap scheme {scheme!r}")
