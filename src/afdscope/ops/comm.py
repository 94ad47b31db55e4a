"""Communication of MoE decode: EP all-to-all (dispatch/combine) and AFD's M2N / N2M transfers.

Time of one collective = α + max over the links it loads of bytes / bandwidth (spec beyond.md §C):
tiers (NVLink/scale-up and RDMA/scale-out) progress in parallel and endpoints are full duplex, so the
busiest link decides. Pure functions, vectorised over token counts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Precision

# Payload bytes per element of each all-to-all format, and the scale bytes it carries: FP8 one FP32 per
# 128 elements (DeepEP LL); NVFP4 one FP8 (E4M3) per 16 = 8 B per 128; INT8 one FP32 per token.
DTYPE_PAYLOAD_BYTES: dict[str, float] = {"fp4": 0.5, "fp8": 1.0, "int8": 1.0, "bf16": 2.0}
SCALE_BYTES_PER_128: dict[str, float] = {"fp4": 8.0, "fp8": 4.0, "int8": 0.0, "bf16": 0.0}
SCALE_BYTES_PER_TOKEN: dict[str, float] = {"fp4": 0.0, "fp8": 0.0, "int8": 4.0, "bf16": 0.0}


def payload_bytes(hidden, dtype: str, metadata_bytes: float = 0.0) -> np.ndarray:
    """Bytes of one token-expert message of `hidden` elements in `dtype`, scales and metadata included."""
    if dtype not in DTYPE_PAYLOAD_BYTES:
        raise AfdscopeError(
            f"unknown all-to-all format {dtype!r}; use one of: {', '.join(DTYPE_PAYLOAD_BYTES)}"
        )
    h = np.asarray(hidden, dtype=float)
    return (
        h * DTYPE_PAYLOAD_BYTES[dtype]
        + h / 128 * SCALE_BYTES_PER_128[dtype]
        + SCALE_BYTES_PER_TOKEN[dtype]
        + metadata_bytes
    )


@dataclass(frozen=True)
class CommCalibration:
    """How real kernels move bytes. Bandwidths come from the hardware's sustained values."""

    # Fixed cost of one dispatch or combine (launch, synchronisation, first-byte latency), per tier: a
    # collective whose traffic stays on scale-up (NVLink / one Superpod domain) pays `latency_nvlink_s`,
    # one that crosses RDMA `latency_rdma_s`. Fitted by `fit_comm_tier_latencies` (docs/ops/comm.md).
    latency_nvlink_s: float
    latency_rdma_s: float
    # Per assignment on top of H elements: FP8 dispatch carries one 4-byte scale per 128 elements and
    # ~16 bytes of routing metadata (DeepEP); combine is plain BF16.
    dispatch_scale_bytes_per_128: float
    metadata_bytes: float
    dispatch_bytes_per_element: float  # 1: FP8 activations A→F / dispatch
    combine_bytes_per_element: float  # 2: BF16 F→A / combine
    # Half duplex (the paper): a link carries one micro-batch's dispatch and another's combine in turn.
    full_duplex: bool
    # Low-latency EP kernels send every assignment separately; normal kernels send a token once per node.
    ep_node_dedup: bool
    # NVLink-aware kernels (DeepEP 2025+) keep intra-node traffic off the NIC; v1 LL kernels used RDMA only.
    nvlink_aware: bool
    # The paper charges every assignment an FFN GPU receives to its NVLink; really the share that arrived
    # on its own NIC stays local.
    local_share_skips_nvlink: bool
    # Message formats from `Precision.dispatch` / `.combine` (payload_bytes); False keeps the fixed
    # per-element bytes above (the paper's 1 B + 2 B).
    formats_from_precision: bool = False
    # An EP group that never leaves NVLink runs at its family's fitted low-latency kernel (α and the
    # bandwidth fraction it reaches: calibration/profiles/<family>.yaml `comm.ll_nvlink`).
    nvlink_from_profile: bool = False

    def latency_s(self, crosses_rdma) -> np.ndarray:
        """α of a collective, per tier (vectorised over a boolean)."""
        return np.where(crosses_rdma, self.latency_rdma_s, self.latency_nvlink_s)

    def dispatch_bytes(self, hidden, precision: Precision | None = None) -> np.ndarray:
        if self.formats_from_precision and precision is not None:
            return payload_bytes(hidden, precision.dispatch, self.metadata_bytes)
        h = np.asarray(hidden, dtype=float)
        return (
            h * self.dispatch_bytes_per_element
            + h / 128 * self.dispatch_scale_bytes_per_128
            + (self.metadata_bytes)
        )

    def combine_bytes(self, hidden, precision: Precision | None = None) -> np.ndarray:
        if self.formats_from_precision and precision is not None:
            return payload_bytes(hidden, precision.combine)
        return np.asarray(hidden, dtype=float) * self.combine_bytes_per_element


# The paper's accounting: 1 B + 2 B per element on one unidirectional link, no fixed latency.
IDEAL_COMM = CommCalibration(
    latency_nvlink_s=0.0,
    latency_rdma_s=0.0,
    dispatch_scale_bytes_per_128=0.0,
    metadata_bytes=0.0,
    dispatch_bytes_per_element=1.0,
    combine_bytes_per_element=2.0,
    full_duplex=False,
    ep_node_dedup=False,
    nvlink_aware=True,
    local_share_skips_nvlink=False,
)

DEFAULT_COMM = CommCalibration(
    # fit_comm_tier_latencies(deepseek-v3): NVLink-only 20.8 µs (202 calls, median |error| 17 %, worst 78 %),
    # RDMA 23.0 µs (318 calls, median 4.6 %, worst 20 %); DeepEP LL tables on H800/H100/H200/B200/B300.
    latency_nvlink_s=20.8e-6,
    latency_rdma_s=23.0e-6,
    dispatch_scale_bytes_per_128=4.0,
    metadata_bytes=16.0,
    dispatch_bytes_per_element=1.0,
    combine_bytes_per_element=2.0,
    full_duplex=True,
    ep_node_dedup=False,
    nvlink_aware=True,
    local_share_skips_nvlink=True,
    formats_from_precision=True,
    nvlink_from_profile=True,
)


def node_touch_probability(n_experts, top_k, n_nodes, mode: str = "hypergeometric"):
    """Probability that one token's top-K experts include at least one on a given node, experts spread
    evenly over `n_nodes` nodes.

    paper: min(1, K/N_F) — every node while N_F ≤ K (equivalent to max(1, K/N_F) assignments per token).
    hypergeometric: 1 − C(N_exp − N_exp/N_F, K) / C(N_exp, K) under uniform routing (spec §10.2).
    """
    n_nodes = np.asarray(n_nodes, dtype=float)
    if mode == "paper":
        return np.minimum(1.0, np.divide(top_k, n_nodes))
    k_max = int(np.max(top_k))
    shape = np.broadcast_shapes(np.shape(n_experts), np.shape(top_k), n_nodes.shape)
    i = np.arange(k_max).reshape((k_max,) + (1,) * len(shape))
    elsewhere = n_experts - np.divide(n_experts, n_nodes)
    ratio = np.clip((elsewhere - i) / (np.asarray(n_experts) - i), 0.0, 1.0)
    ratio = np.where(i < np.asarray(top_k), ratio, 1.0)  # models with K < k_max stop early
    p = 1.0 - np.prod(ratio, axis=0)
    # The product form exceeds the union bound K/N_F when a node holds under one expert on average.
    return np.minimum(p, np.minimum(1.0, np.divide(top_k, n_nodes) * 1.0))


def assignments_per_node_token(n_experts, top_k, n_nodes, mode: str = "hypergeometric"):
    """Token-expert assignments carried by each token copy that reaches an FFN node (≥ 1)."""
    n_nodes = np.asarray(n_nodes, dtype=float)
    return np.maximum(
        1.0, np.divide(top_k, n_nodes) / node_touch_probability(n_experts, top_k, n_nodes, mode)
    )


@dataclass(frozen=True)
class CommTimes:
    """One dispatch and one combine for one micro-batch, per GPU on the binding side (s, arrays)."""

    dispatch_s: np.ndarray
    combine_s: np.ndarray
    # Bytes the busiest GPU moves per tier for the dispatch (combine scales by its bytes per element).
    dispatch_scale_out_bytes: np.ndarray
    dispatch_scale_up_bytes: np.ndarray

    def stage_s(self, full_duplex: bool) -> np.ndarray:
        """Link occupancy per micro-batch: with full duplex one micro-batch's dispatch shares no
        direction with another's combine, so they overlap."""
        if full_duplex:
            return np.maximum(self.dispatch_s, self.combine_s)
        return self.dispatch_s + self.combine_s


# Fixed cost of one small all-reduce where no fitted kernel applies (across nodes, families without an
# all-reduce table): an assumption, not a fit.
TP_ALLREDUCE_LATENCY_S = 10e-6


def one_or_two_shot_s(entry: dict, n, bytes_per_gpu, peak_bandwidth) -> np.ndarray:
    """A custom all-reduce inside one NVLink domain (SGLang / TRT-LLM style), the faster of its two
    algorithms: one-shot (every GPU reads each peer's whole buffer: (n−1)·B) and two-shot (reduce-scatter +
    all-gather: 2·(n−1)/n·B), each after its fixed cost plus a per-peer term, at e_bw of the peak.
    `entry`: alpha_one_us, alpha_two_us, alpha_peer_us, e_bw (calibration/profiles `comm.all_reduce`)."""
    n = np.asarray(n, dtype=float)
    b = np.asarray(bytes_per_gpu, dtype=float)
    bw = np.asarray(peak_bandwidth, dtype=float) * entry["e_bw"]
    peer = entry["alpha_peer_us"] * 1e-6 * (n - 1)
    one = entry["alpha_one_us"] * 1e-6 + peer + (n - 1) * b / bw
    two = entry["alpha_two_us"] * 1e-6 + peer + 2 * (n - 1) / n * b / bw
    return np.minimum(one, two)


def own_comm_entry(hw: Hardware, tier: str) -> dict | None:
    """The hardware family's own fitted `comm.<tier>` entry; None where the family has none, or only one
    inherited from another family (another fabric's kernel)."""
    from afdscope.calibration.profiles import comm_entry, family_of

    family = family_of(hw)
    try:
        entry, use = comm_entry(family, tier, hw.name)
    except AfdscopeError:
        return None
    return entry if use.profile.startswith(f"{family}/") else None


def tp_all_reduce_s(hw: Hardware, bytes_per_gpu, tp: int, from_profile: bool = True) -> np.ndarray:
    """All-reduce of every GPU's `bytes_per_gpu` over a tensor-parallel group of `tp` (0 for tp = 1).
    Inside one scale-up domain: the family's fitted custom all-reduce (`one_or_two_shot_s`, profile entry
    `comm.all_reduce`) when `from_profile` and the family has one; otherwise a ring, the fixed
    TP_ALLREDUCE_LATENCY_S + 2·(tp−1)/tp of the bytes over scale-up, or over scale-out where the group
    spans more than one scale-up domain (the ring runs at its slowest link)."""
    b = np.asarray(bytes_per_gpu, dtype=float)
    if tp <= 1:
        return np.zeros_like(b)
    domain = hw.scale_up_domain if hw.is_superpod else hw.gpus_per_node
    if tp > domain:
        return TP_ALLREDUCE_LATENCY_S + 2 * (tp - 1) / tp * b / hw.effective_scale_out_bandwidth
    entry = own_comm_entry(hw, "all_reduce") if from_profile else None
    if entry is not None:
        return one_or_two_shot_s(entry, tp, b, hw.scale_up_bandwidth)
    return TP_ALLREDUCE_LATENCY_S + 2 * (tp - 1) / tp * b / hw.effective_scale_up_bandwidth


def replicated_moe_comm(
    model: MoEModel, hw: Hardware, tokens_per_gpu, tp: int, from_profile: bool = True
) -> CommTimes:
    """The MoE's communication when one tensor-parallel attention group spans the EP group (TRT-LLM, vLLM
    and SGLang without attention DP): after the attention all-reduce every GPU holds the group's
    tp·tokens_per_gpu tokens, so there is no dispatch; every GPU runs its own experts on the tokens routed
    to them and one all-reduce of the group's BF16 outputs sums the partial results (the combine)."""
    t = np.asarray(tokens_per_gpu, dtype=float)
    zero = np.zeros_like(t)
    combine = tp_all_reduce_s(hw, t * tp * model.hidden_size * 2.0, tp, from_profile)
    return CommTimes(
        dispatch_s=zero, combine_s=combine, dispatch_scale_out_bytes=zero, dispatch_scale_up_bytes=zero
    )


def _collective_s(latency_s, pairs) -> np.ndarray:
    """α + the slowest link: `pairs` are (bytes, bandwidth) of links that progress in parallel."""
    return latency_s + functools.reduce(np.maximum, [np.divide(b, bw) for b, bw in pairs])


def scale_up_kernel(hw: Hardware, calibration: CommCalibration, alpha, bandwidth):
    """(α, bandwidth) of an all-to-all that never leaves scale-up: the family's own fitted low-latency kernel
    (calibration/profiles/<family>.yaml `comm.ll_nvlink`; NVLink, or UB on Ascend) when the calibration
    takes it from the profile and the family has one, else the given values."""
    entry = own_comm_entry(hw, "ll_nvlink") if calibration.nvlink_from_profile else None
    if entry is None:
        return alpha, bandwidth
    return entry["alpha_us"] * 1e-6, hw.scale_up_bandwidth * entry["e_bw"]


def ep_comm(
    model: MoEModel,
    hw: Hardware,
    tokens_per_gpu,
    ep_gpus: int,
    calibration: CommCalibration = DEFAULT_COMM,
    load_factor: float = 1.0,
    precision: Precision | None = None,
) -> CommTimes:
    """DeepEP-style all-to-all of one micro-batch among `ep_gpus` GPUs, balanced routing.

    Every GPU sends `tokens_per_gpu`·K assignments and receives as many. Destinations are uniform over
    the EP group; those in the sender's scale-up domain ride NVLink (when the kernel is NVLink-aware),
    the rest RDMA; the assignment to the sender itself never leaves the GPU. `load_factor` (max/mean
    bytes of the busiest receiver, ≥ 1) scales what the collective waits for under skewed routing.
    """
    t = np.asarray(tokens_per_gpu, dtype=float)
    k = model.top_k
    domain = min(ep_gpus, hw.scale_up_domain if hw.is_superpod else hw.gpus_per_node)
    local = 1.0 / ep_gpus
    intra = (domain - 1) / ep_gpus if calibration.nvlink_aware else 0.0
    inter = 1.0 - local - intra
    assignments = t * k * load_factor
    inter_copies = assignments * inter
    if calibration.ep_node_dedup and ep_gpus > domain:
        # Normal kernels: once per remote node touched, then forwarded over NVLink inside that node.
        n_nodes = math.ceil(ep_gpus / domain)
        p = node_touch_probability(model.n_routed_experts, k, n_nodes)
        inter_copies = np.minimum(inter_copies, t * (n_nodes - 1) * p * load_factor)
    up_bw, out_bw = hw.effective_scale_up_bandwidth, hw.effective_scale_out_bandwidth

    alpha = calibration.latency_s(inter > 0)
    if inter <= 0:
        # All-scale-up group: the family's fitted low-latency kernel (its own α, the bandwidth it reaches).
        alpha, up_bw = scale_up_kernel(hw, calibration, alpha, up_bw)

    def times(per_assignment_bytes):
        return _collective_s(
            alpha,
            [
                (assignments * intra * per_assignment_bytes, up_bw),
                (inter_copies * per_assignment_bytes, out_bw),
            ],
        )

    d_bytes = calibration.dispatch_bytes(model.hidden_size, precision)
    return CommTimes(
        dispatch_s=times(d_bytes),
        combine_s=times(calibration.combine_bytes(model.hidden_size, precision)),
        dispatch_scale_out_bytes=inter_copies * d_bytes,
        dispatch_scale_up_bytes=assignments * intra * d_bytes,
    )


def same_scale_up_domain(attention_hw: Hardware, ffn_hw: Hardware, attention_gpus, ffn_gpus) -> np.ndarray:
    """AFD traffic stays on scale-up only when both roles sit in one Superpod domain (vectorised)."""
    one_pod = attention_hw.name == ffn_hw.name and attention_hw.is_superpod
    return np.asarray(one_pod) & (np.add(attention_gpus, ffn_gpus) <= attention_hw.scale_up_domain)


def afd_comm(
    model: MoEModel,
    attention_hw: Hardware,
    ffn_hw: Hardware,
    tokens_per_attention_gpu,
    attention_gpus,
    ffn_gpus: int,
    calibration: CommCalibration = DEFAULT_COMM,
    dedup: str = "hypergeometric",
    expert_tp: int = 1,
    load_factor: float = 1.0,
    precision: Precision | None = None,
) -> CommTimes:
    """AFD M2N dispatch (A→F) and N2M combine (F→A) of one micro-batch, balanced routing; vectorised over
    tokens and attention GPU counts. With expert tensor parallelism each assignment fans out over
    NVLink to the `expert_tp` GPUs holding its expert's shards (and their partial outputs return).
    `load_factor` (max/mean bytes of the busiest FFN GPU, ≥ 1) scales the FFN side's links. With expert
    TP each GPU of a shard group receives every token touching its group once over NVLink.

    Standard cluster: a token crosses scale-out once per FFN node it touches (P from `dedup`), landing
    on one of the node's NICs, then fans out over NVLink to its experts there; combine mirrors it
    (partial sums reduced inside the FFN node). Superpod: each assignment goes straight to its expert's
    GPU over scale-up. The collective ends when its busiest endpoint is done: an attention GPU's NIC, an
    FFN GPU's NIC or an FFN GPU's NVLink.
    """
    b = np.asarray(tokens_per_attention_gpu, dtype=float)
    k = model.top_k
    ffn_nodes = math.ceil(ffn_gpus / ffn_hw.gpus_per_node)
    gpus_per_ffn_node = ffn_gpus / ffn_nodes
    total_tokens = b * np.asarray(attention_gpus, dtype=float)
    assignments_per_ffn_gpu = total_tokens * k * expert_tp / ffn_gpus * load_factor

    # Standard cluster.
    p = node_touch_probability(model.n_routed_experts, k, ffn_nodes, dedup)
    attention_copies = b * ffn_nodes * p  # token copies leaving one attention GPU
    ffn_nic_copies = total_tokens * p / gpus_per_ffn_node * load_factor  # copies on the busiest FFN NIC
    nvlink_share = (1 - 1 / gpus_per_ffn_node) if calibration.local_share_skips_nvlink else 1.0
    nvlink_assignments = assignments_per_ffn_gpu * nvlink_share if gpus_per_ffn_node > 1 else 0.0 * b
    if expert_tp > 1:
        # Expert TP: every GPU of a shard group holds a slice of each of the group's experts, so it needs
        # each token that touches the group once (an all-gather from the GPU whose NIC took it), not once
        # per assignment; the combine reduces the partial outputs the same way.
        groups = ffn_gpus // expert_tp
        p_group = node_touch_probability(model.n_routed_experts, k, groups, dedup)
        share = (1 - 1 / expert_tp) if calibration.local_share_skips_nvlink else 1.0
        nvlink_assignments = total_tokens * p_group * share * load_factor
    links = [
        (attention_copies, attention_hw.effective_scale_out_bandwidth),
        (ffn_nic_copies, ffn_hw.effective_scale_out_bandwidth),
        (nvlink_assignments, ffn_hw.effective_scale_up_bandwidth),
    ]
    # Superpod: every assignment rides scale-up from the attention GPU to its expert's GPU, in the
    # family's scale-up all-to-all kernel.
    pod_alpha, up = scale_up_kernel(
        attention_hw, calibration, calibration.latency_nvlink_s, attention_hw.effective_scale_up_bandwidth
    )
    pod_links = [(b * k * expert_tp, up), (assignments_per_ffn_gpu, up)]
    pod = same_scale_up_domain(attention_hw, ffn_hw, attention_gpus, ffn_gpus)

    def times(per):
        standard = _collective_s(calibration.latency_rdma_s, [(n * per, bw) for n, bw in links])
        if not pod.any():
            return standard
        return np.where(pod, _collective_s(pod_alpha, [(n * per, bw) for n, bw in pod_links]), standard)

    d = calibration.dispatch_bytes(model.hidden_size, precision)
    return CommTimes(
        dispatch_s=times(d),
        combine_s=times(calibration.combine_bytes(model.hidden_size, precision)),
        dispatch_scale_out_bytes=np.where(pod, 0.0, np.maximum(attention_copies, ffn_nic_copies) * d),
        dispatch_scale_up_bytes=np.where(pod, b * k * d, nvlink_assignments * d),
    )


# DeepEP low-latency tables the per-tier α is fitted on: DeepEP's own H800 README table (`current`, NVLink
# aware, 128 tokens per rank) and aiconfigurator's SGLang-build tables on the HGX systems
# (calibration/measured/<system>/deepep_ll.csv; GB200/GB300 are left out: their rank count per node is not
# recorded). Decode-sized calls only: at most FIT_MAX_TOKENS tokens per rank.
_MEASURED_DEEPEP = {"h100_sxm": "h100", "h200_sxm": "h200", "b200_sxm": "b200", "b300_sxm": "b300"}
FIT_MAX_TOKENS = 256


def deepep_low_latency_rows(model: MoEModel) -> list[dict]:
    """Measured DeepEP low-latency calls of `model`'s shape (hidden size, top-k): hardware, ep, tokens,
    tier ("nvlink" when the EP group fits one node, else "rdma"), dispatch_s, combine_s, source."""
    from afdscope.calibration import read_table

    rows = []
    for row in read_table("deepep_low_latency_h800.csv"):
        if row["table"] == "current" and model.hidden_size == 7168 and model.top_k == 8:
            ep = int(row["ep_size"])
            rows.append(
                {
                    "hardware": "h800",
                    "ep": ep,
                    "tokens": 128,
                    "tier": "nvlink" if ep <= 8 else "rdma",
                    "dispatch_s": float(row["dispatch_us"]) * 1e-6,
                    "combine_s": float(row["combine_us"]) * 1e-6,
                    "source": "deepep_low_latency_h800.csv",
                }
            )
    for system, hw in _MEASURED_DEEPEP.items():
        name = f"measured/{system}/deepep_ll.csv"
        for row in read_table(name):
            tokens = int(row["tokens_per_rank"])
            if (
                int(row["hidden_size"]) != model.hidden_size
                or int(row["topk"]) != model.top_k
                or tokens > FIT_MAX_TOKENS
            ):
                continue
            nodes = int(row["nodes"])
            rows.append(
                {
                    "hardware": hw,
                    "ep": nodes * 8,
                    "tokens": tokens,
                    "tier": "nvlink" if nodes == 1 else "rdma",
                    "dispatch_s": float(row["dispatch_us"]) * 1e-6,
                    "combine_s": float(row["combine_us"]) * 1e-6,
                    "source": name,
                }
            )
    return rows


def _bandwidth_only_s(model: MoEModel, rows: list[dict]) -> np.ndarray:
    """(dispatch, combine) of each row with α = 0 and FP8 / BF16 messages; shape (rows, 2)."""
    from dataclasses import replace

    from afdscope.catalog.hardware_catalog import load_hardware

    no_latency = replace(DEFAULT_COMM, latency_nvlink_s=0.0, latency_rdma_s=0.0, nvlink_from_profile=False)
    out = []
    for r in rows:
        t = ep_comm(model, load_hardware(r["hardware"]), r["tokens"], r["ep"], no_latency)
        out.append((float(t.dispatch_s), float(t.combine_s)))
    return np.array(out)


def fit_comm_tier_latencies(model: MoEModel) -> dict[str, dict[str, float]]:
    """Per tier: α = the median over the tier's measured calls (dispatch and combine) of measured time
    minus the bandwidth term; with it, n, median_abs_error and max_abs_error (relative) of α + bandwidth
    against the measurements."""
    rows = deepep_low_latency_rows(model)
    if not rows:
        raise AfdscopeError(f"no DeepEP low-latency rows for hidden {model.hidden_size}, top-{model.top_k}")
    bw = _bandwidth_only_s(model, rows)
    measured = np.array([(r["dispatch_s"], r["combine_s"]) for r in rows])
    out = {}
    for tier in ("nvlink", "rdma"):
        mask = np.array([r["tier"] == tier for r in rows])
        alpha = float(np.median(measured[mask] - bw[mask]))
        err = np.abs((alpha + bw[mask]) / measured[mask] - 1)
        out[tier] = {
            "alpha_s": alpha,
            "n": int(err.size),
            "median_abs_error": float(np.median(err)),
            "max_abs_error": float(err.max()),
        }
    return out


def fit_comm_latency_s(hw: Hardware, model: MoEModel) -> float:
    """α that best explains DeepEP's NVLink-aware low-latency table on H800 alone (128 tokens per rank,
    hidden 7168, top-8): the median of measured time minus the bandwidth term, dispatch and combine."""
    from dataclasses import replace

    from afdscope.calibration import read_table

    no_latency = replace(DEFAULT_COMM, latency_nvlink_s=0.0, latency_rdma_s=0.0, nvlink_from_profile=False)
    residuals = []
    for row in read_table("deepep_low_latency_h800.csv"):
        if row["table"] != "current":
            continue
        t = ep_comm(model, hw, 128, int(row["ep_size"]), no_latency)
        residuals += [
            float(row["dispatch_us"]) * 1e-6 - float(t.dispatch_s),
            float(row["combine_us"]) * 1e-6 - float(t.combine_s),
        ]
    return float(np.median(residuals))
