"""The flags the commands share: choice enums and `Annotated` option aliases.

A command names its parameters with these aliases so one flag has one spelling, one range and one help
text everywhere. Importing this module costs only typer (no numpy, no pydantic).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

# ---------------------------------------------------------------- choices


class Fmt(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ValueSetOpt(StrEnum):
    paper = "paper"
    datasheet = "datasheet"


class DedupOpt(StrEnum):
    paper = "paper"
    hypergeometric = "hypergeometric"


class WeightsOpt(StrEnum):
    fp8 = "fp8"
    bf16 = "bf16"
    fp4 = "fp4"
    int8 = "int8"


class DispatchOpt(StrEnum):
    fp8 = "fp8"
    fp4 = "fp4"
    int8 = "int8"
    bf16 = "bf16"


class CombineOpt(StrEnum):
    bf16 = "bf16"
    fp8 = "fp8"
    int8 = "int8"


class CalibrationName(StrEnum):
    default = "default"
    paper = "paper"


class KvOpt(StrEnum):
    fp8 = "fp8"
    bf16 = "bf16"


class OverlapOpt(StrEnum):
    two = "2bo"
    single = "sbo"
    none = "nbo"


class SharedOnOpt(StrEnum):
    attention = "attention"
    ffn = "ffn"
    dedicated = "dedicated"


class RoutingOpt(StrEnum):
    balanced = "balanced"
    power_law = "power-law"


class RoutingModeOpt(StrEnum):
    ep = "ep"
    afd = "afd"


class RoutingMethodOpt(StrEnum):
    auto = "auto"
    counts = "counts"
    exact = "exact"


# ---------------------------------------------------------------- output and files

FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Also write a figure to this PNG file.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite output files that already exist.")]

# ---------------------------------------------------------------- model and hardware

ModelOpt = Annotated[str, typer.Option("--model", help="Model short name or config.json path.")]
HardwareOpt = Annotated[str, typer.Option("--hardware", help="Hardware short name or YAML path.")]
BothHwOpt = Annotated[str | None, typer.Option("--hardware", help="Both roles' hardware.")]
AttnHwOpt = Annotated[str | None, typer.Option("--attention-hardware", help="Attention-side hardware.")]
FfnHwOpt = Annotated[str | None, typer.Option("--ffn-hardware", help="FFN-side hardware.")]
SetOpt = Annotated[
    ValueSetOpt, typer.Option("--hardware-set", help="Datasheet peaks or the paper's Table 5.")
]
CandidatesOpt = Annotated[list[str] | None, typer.Option("--hardware", help="Candidate GPUs (EP and AFD).")]
AttnCandidatesOpt = Annotated[
    list[str] | None, typer.Option("--attention-hardware", help="AFD attention candidates.")
]
FfnCandidatesOpt = Annotated[list[str] | None, typer.Option("--ffn-hardware", help="AFD FFN candidates.")]
PriceOpt = Annotated[list[str] | None, typer.Option("--price", help="HARDWARE=USD per GPU-hour.")]

# ---------------------------------------------------------------- paper analyses

SloOpt = Annotated[float | None, typer.Option("--slo-ms", help="TPOT SLO in ms (paper preset: 45).")]
PresetOpt = Annotated[
    str, typer.Option("--preset", help="Named option set: paper, full-duplex, hypergeometric, corrected.")
]
FullDuplexOpt = Annotated[
    bool | None,
    typer.Option(
        "--full-duplex/--half-duplex", help="Links carry dispatch and combine at once (2·H B/token)."
    ),
]
DedupOptT = Annotated[
    DedupOpt | None, typer.Option("--dedup", help="Node dedup: paper max(1,K/N_F) or hypergeometric.")
]
AccOpt = Annotated[float | None, typer.Option("--accepted-tokens", help="L_acc: tokens accepted per step.")]
GapOpt = Annotated[float | None, typer.Option("--step-gap-ms", help="t_g: per-step gap in ms.")]
MaxNodesOpt = Annotated[int, typer.Option("--max-ffn-nodes", min=1, max=4096, help="Sweep N_F = 1..this.")]

# ---------------------------------------------------------------- one deployment

# GPU counts are bounded as `search --max-gpus` is: no deployment the models describe is larger.
MAX_GPUS = 4096
EpGpusOpt = Annotated[int, typer.Option("--gpus", min=1, max=MAX_GPUS, help="GPUs in the EP group.")]
AttnGpusOpt = Annotated[int, typer.Option("--attention-gpus", min=1, max=MAX_GPUS, help="Attention GPUs.")]
FfnGpusOpt = Annotated[int, typer.Option("--ffn-gpus", min=1, max=MAX_GPUS, help="FFN (expert) GPUs.")]
AttnDomainsOpt = Annotated[
    int,
    typer.Option(
        "--attention-domains",
        min=1,
        max=MAX_GPUS,
        help="AFD: attention pools (dividing --attention-gpus) that take turns on the one FFN pool.",
    ),
]
SharedGpusOpt = Annotated[
    int,
    typer.Option(
        "--shared-expert-gpus",
        min=0,
        max=MAX_GPUS,
        help="GPUs that run only the shared experts (AFD: of the FFN hardware; implies "
        "--shared-experts-on dedicated).",
    ),
]
MicroBatchesOpt = Annotated[int, typer.Option("--micro-batches", min=2, max=4, help="AFD pipeline depth m.")]
SubNodeOpt = Annotated[bool, typer.Option("--sub-node", help="Allow GPU counts that are not whole nodes.")]
ExpertTpOpt = Annotated[
    int, typer.Option("--expert-tp", min=1, max=8, help="Shards per expert on the FFN side (ETP).")
]
AttnTpOpt = Annotated[
    int, typer.Option("--attention-tp", min=1, max=64, help="Tensor parallelism inside DP attention groups.")
]
SharedOnOptT = Annotated[
    SharedOnOpt | None,
    typer.Option(
        "--shared-experts-on",
        help="Which side runs the shared experts (dedicated: --shared-expert-gpus of their own).  "
        "[default: attention]",
        show_default=False,
    ),
]
EvalOverlapOpt = Annotated[OverlapOpt, typer.Option("--overlap", help="2bo, sbo or nbo.")]
SimOverlapOpt = Annotated[OverlapOpt, typer.Option("--overlap", help="2bo or nbo.")]
ContextOpt = Annotated[int, typer.Option("--context", help="Mean KV length per request (tokens).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-per-gpu", help="Requests per (attention) GPU.")]
TpotOpt = Annotated[
    float | None, typer.Option("--tpot-slo-ms", help="Find the largest batch meeting this TPOT.")
]
DraftOpt = Annotated[int, typer.Option("--mtp-draft", min=0, max=8, help="MTP draft tokens per step.")]
AcceptOpt = Annotated[float, typer.Option("--mtp-accept", min=0.0, max=1.0, help="MTP acceptance rate.")]
WOpt = Annotated[WeightsOpt, typer.Option("--weights", help="Weight format of every GEMM.")]
ExpertWOpt = Annotated[
    WeightsOpt | None,
    typer.Option("--expert-weights", help="Routed experts' weight format (default: --weights)."),
]
DispatchDtypeOpt = Annotated[
    DispatchOpt, typer.Option("--dispatch-dtype", help="Format of the activations sent to the experts.")
]
CombineDtypeOpt = Annotated[
    CombineOpt, typer.Option("--combine-dtype", help="Format of the expert outputs sent back.")
]
KvDtypeOpt = Annotated[KvOpt, typer.Option("--kv-dtype", help="KV-cache format.")]
AttnDtypeOpt = Annotated[KvOpt, typer.Option("--attention-dtype", help="Core attention math format.")]
CalibrationOpt = Annotated[
    CalibrationName,
    typer.Option(
        "--calibration", help="Evaluator calibration: default (calibrated kernels) or paper (the paper's)."
    ),
]
# The old spelling of --calibration, kept for one release (a notice says so); hidden from --help.
DeployPresetOpt = Annotated[
    str | None, typer.Option("--preset", hidden=True, help="Old spelling of --calibration.")
]
BalancedOpt = Annotated[
    bool,
    typer.Option("--balanced", help="The balanced ideal: no modelled routing skew (to compare)."),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 when the result is infeasible.")]
ExpertLoadOpt = Annotated[
    float | None,
    typer.Option(
        "--expert-load-factor",
        min=1.0,
        help="Busiest expert GPU's assignments / mean (1/σ); replaces the modelled skew.",
    ),
]
CommLoadOpt = Annotated[
    float | None,
    typer.Option(
        "--comm-load-factor",
        min=1.0,
        help="Busiest expert GPU's received bytes / mean; replaces the modelled skew.",
    ),
]
RedundantOpt = Annotated[
    int | None,
    typer.Option(
        "--redundant-experts",
        min=0,
        max=4096,
        help="EPLB replica slots over the expert GPUs (default: the usual 1/8 of the experts; 0: none).",
        show_default=False,
    ),
]

# ---------------------------------------------------------------- simulation

StepsOpt = Annotated[int, typer.Option("--steps", min=1, max=100_000, help="Decode steps to simulate.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Random seed (noise and routing draws).")]
JitterOpt = Annotated[
    float, typer.Option("--jitter-cv", min=0.0, help="Log-normal CV of every operator on every rank.")
]
SpikeProbOpt = Annotated[
    float, typer.Option("--spike-prob", min=0.0, max=1.0, help="Chance a rank's operator stalls.")
]
SpikeSizeOpt = Annotated[float, typer.Option("--spike-size", min=1.0, help="A stall's time multiplier.")]
RoutingOptT = Annotated[
    RoutingOpt, typer.Option("--routing", help="balanced, or power-law expert popularity drawn per layer.")
]
AlphaOpt = Annotated[
    float, typer.Option("--alpha", min=0.0, help="p_i ∝ i^-alpha (1.01 fits DeepSeek-V3, 1.2 Qwen3).")
]
TraceOpt = Annotated[
    Path | None, typer.Option("--trace", help="Write one step as a Chrome/Perfetto trace (JSON).")
]

# ---------------------------------------------------------------- search, map, report

MaxGpusOpt = Annotated[int, typer.Option("--max-gpus", min=16, max=4096, help="Largest deployment.")]
