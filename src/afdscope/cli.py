"""The `afdscope` command: a thin layer over the library.

Heavy imports (numpy, pydantic, matplotlib) happen inside the commands so `afdscope --help` starts fast.
Every bad input surfaces as one `error: …` line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from afdscope import __version__
from afdscope.cli_validate import register as register_validate
from afdscope.errors import AfdscopeError

app = typer.Typer(
    help="AFD vs large-scale EP for MoE inference: the paper's analysis (arXiv 2602.09721) and beyond.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
model_app = typer.Typer(help="One model's spec.", no_args_is_help=True)
hardware_app = typer.Typer(
    help="List the hardware catalog, or show one device.\n\nExample: afdscope hardware --hardware-set paper",
    invoke_without_command=True,
)
paper_app = typer.Typer(help="The analyses of arXiv 2602.09721, reproduced.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Predict one deployment: throughput, TPOT, memory, bottleneck.", no_args_is_help=True
)
simulate_app = typer.Typer(
    help="Simulate decode steps (SimPy): jitter, spikes, routing skew, pipeline bubbles.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")
app.add_typer(hardware_app, name="hardware")
app.add_typer(paper_app, name="paper")
app.add_typer(eval_app, name="eval")
app.add_typer(simulate_app, name="simulate")


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


FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]
ModelOpt = Annotated[str, typer.Option("--model", help="Model short name or config.json path.")]
HardwareOpt = Annotated[str, typer.Option("--hardware", help="Hardware short name or YAML path.")]
EpGpusOpt = Annotated[int, typer.Option("--gpus", min=1, help="GPUs in the EP group.")]
AttnGpusOpt = Annotated[int, typer.Option("--attention-gpus", min=1, help="Attention GPUs.")]
FfnGpusOpt = Annotated[int, typer.Option("--ffn-gpus", min=1, help="FFN (expert) GPUs.")]
BothHwOpt = Annotated[str | None, typer.Option("--hardware", help="Both roles' hardware.")]
AttnHwOpt = Annotated[str | None, typer.Option("--attention-hardware", help="Attention-side hardware.")]
FfnHwOpt = Annotated[str | None, typer.Option("--ffn-hardware", help="FFN-side hardware.")]
MicroBatchesOpt = Annotated[int, typer.Option("--micro-batches", min=2, max=4, help="AFD pipeline depth m.")]
SubNodeOpt = Annotated[bool, typer.Option("--sub-node", help="Allow GPU counts that are not whole nodes.")]
ExpertTpOpt = Annotated[
    int, typer.Option("--expert-tp", min=1, max=8, help="Shards per expert on the FFN side (ETP).")
]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Also write a figure to this PNG file.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite output files that already exist.")]
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
SetOpt = Annotated[
    ValueSetOpt, typer.Option("--hardware-set", help="Datasheet peaks or the paper's Table 5.")
]


def _version(value: bool) -> None:
    if value:
        print(f"afdscope {__version__}")
        raise typer.Exit()


# Set by --quiet: progress bars and informational lines stay off; results are still printed.
_QUIET = False


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or informational lines.")
    ] = False,
) -> None:
    global _QUIET
    _QUIET = quiet


def _info(text: str) -> None:
    """An informational line (timing, files written) on stderr, unless --quiet."""
    if not _QUIET:
        print(text, file=sys.stderr)


def _finite(flag: str, value: float | None) -> None:
    """Typer accepts 'inf' and 'nan' as floats; no quantity here can be either."""
    import math

    if value is not None and not math.isfinite(value):
        raise AfdscopeError(f"{flag} {value}: give a finite number")


def _split(values: list[str] | None) -> list[str] | None:
    """Accept both repeated options and comma-separated lists."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _options(preset: str, slo_ms, accepted_tokens, step_gap_ms, full_duplex, dedup):
    from afdscope.paper.options import preset as make_preset

    # Name the flag the user typed, not the library field, when a value is out of range.
    for flag, value in (
        ("--slo-ms", slo_ms),
        ("--accepted-tokens", accepted_tokens),
        ("--step-gap-ms", step_gap_ms),
    ):
        _finite(flag, value)
    if slo_ms is not None and slo_ms <= 0:
        raise AfdscopeError(f"--slo-ms {slo_ms:g}: the TPOT SLO must be a positive number of ms")
    if accepted_tokens is not None and accepted_tokens < 1:
        raise AfdscopeError(f"--accepted-tokens {accepted_tokens:g}: a step accepts at least 1 token")
    if step_gap_ms is not None and step_gap_ms < 0:
        raise AfdscopeError(f"--step-gap-ms {step_gap_ms:g}: the per-step gap cannot be negative")

    return make_preset(
        preset,
        slo_s=None if slo_ms is None else slo_ms * 1e-3,
        accepted_tokens_per_step=accepted_tokens,
        step_gap_s=None if step_gap_ms is None else step_gap_ms * 1e-3,
        full_duplex=full_duplex,
        dedup=None if dedup is None else dedup.value,
    )


def _check_plot(plot: Path | None, force: bool) -> None:
    if plot is not None and plot.suffix.lower() != ".png":
        raise AfdscopeError(f"--plot '{plot}': figures are PNG; give a file name ending in .png")
    if plot is not None:
        from afdscope.report.output import check_writable

        check_writable([plot], force)


# ---------------------------------------------------------------- catalog


@app.command("models")
def models_cmd(fmt: FormatOpt = Fmt.table) -> None:
    """List the model catalog.

    Example: afdscope models --format csv
    """
    from afdscope.catalog.model_catalog import list_models, load_model
    from afdscope.report.catalog_rows import model_summary_row
    from afdscope.report.output import print_rows

    print_rows([model_summary_row(load_model(n)) for n in list_models()], fmt.value, "Models")


@model_app.command("show")
def model_show(
    name: Annotated[str, typer.Argument(help="Short name (see `afdscope models`) or path to a config.json.")],
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Show one model: layers, experts, attention geometry, KV bytes and parameters.

    Example: afdscope model show deepseek-v3   (or a path: afdscope model show ./my-model/config.json)
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.report.catalog_rows import model_detail
    from afdscope.report.output import print_rows, to_json

    detail = model_detail(load_model(name))
    if fmt is Fmt.json:
        print(to_json(detail))
    else:
        print_rows([{"field": k, "value": v} for k, v in detail.items()], fmt.value, name)


@hardware_app.callback()
def hardware_list(
    ctx: typer.Context, value_set: SetOpt = ValueSetOpt.datasheet, fmt: FormatOpt = Fmt.table
) -> None:
    """List the hardware catalog (effective, sustained values), or show one device.

    Example: afdscope hardware --hardware-set paper; afdscope hardware show h800
    """
    if ctx.invoked_subcommand is not None:
        # `afdscope hardware --hardware-set paper show h800`: options given before `show` apply to it.
        ctx.obj = {"value_set": value_set, "fmt": fmt}
        return
    from afdscope.catalog.hardware_catalog import list_hardware, load_hardware
    from afdscope.report.catalog_rows import hardware_summary_row
    from afdscope.report.output import print_rows

    names = list_hardware()
    if value_set is ValueSetOpt.paper:
        from afdscope.catalog.hardware_catalog import PAPER_HARDWARE

        names = list(PAPER_HARDWARE)
    rows = [hardware_summary_row(load_hardware(n, value_set.value)) for n in names]
    print_rows(rows, fmt.value, f"Hardware ({value_set.value} values)")


@hardware_app.command("show")
def hardware_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name (see `afdscope hardware`) or path to a YAML file.")],
    value_set: Annotated[
        ValueSetOpt | None, typer.Option("--hardware-set", help="Datasheet peaks or the paper's Table 5.")
    ] = None,
    fmt: Annotated[Fmt | None, typer.Option("--format", "-f", help="Output format.")] = None,
) -> None:
    """Show one device: peaks, sustained fractions, effective values, sources.

    Example: afdscope hardware show gb200 --hardware-set paper -f json
    """
    parent = ctx.obj or {}
    value_set = value_set or parent.get("value_set", ValueSetOpt.datasheet)
    fmt = fmt or parent.get("fmt", Fmt.table)
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.report.catalog_rows import hardware_detail
    from afdscope.report.output import print_rows, to_json

    detail = hardware_detail(load_hardware(name, value_set.value))
    if fmt is Fmt.json:
        print(to_json(detail))
    else:
        print_rows([{"field": k, "value": v} for k, v in detail.items()], fmt.value, name)


# ---------------------------------------------------------------- paper


@paper_app.command("matrix")
def paper_matrix(
    slo_ms: SloOpt = None,
    value_set: SetOpt = ValueSetOpt.paper,
    hardware: Annotated[
        list[str] | None, typer.Option("--hardware", help="Devices (default: paper's 8).")
    ] = None,
    models: Annotated[list[str] | None, typer.Option("--models", help="Models (default: paper's 6).")] = None,
    preset: PresetOpt = "paper",
    full_duplex: FullDuplexOpt = None,
    dedup: DedupOptT = None,
    accepted_tokens: AccOpt = None,
    step_gap_ms: GapOpt = None,
    max_ffn_nodes: MaxNodesOpt = 64,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """The hardware × model matrix of AFD FFN-side HFU ceilings (paper Fig. 5).

    Example: afdscope paper matrix --hardware h800,gb200 --full-duplex --plot matrix.png
    """
    from afdscope.paper.study import matrix_study
    from afdscope.report.output import print_rows
    from afdscope.report.paper_rows import matrix_rows

    _check_plot(plot, force)
    options = _options(preset, slo_ms, accepted_tokens, step_gap_ms, full_duplex, dedup)
    cells = matrix_study(_split(models), _split(hardware), value_set.value, options, max_ffn_nodes)
    if plot:
        from afdscope.report.figures import plot_matrix

        plot_matrix(cells, plot)
    print_rows(matrix_rows(cells), fmt.value, "AFD FFN-side HFU ceiling")


@paper_app.command("curve")
def paper_curve(
    model: ModelOpt,
    hardware: HardwareOpt,
    slo_ms: SloOpt = None,
    value_set: SetOpt = ValueSetOpt.paper,
    preset: PresetOpt = "paper",
    full_duplex: FullDuplexOpt = None,
    dedup: DedupOptT = None,
    accepted_tokens: AccOpt = None,
    step_gap_ms: GapOpt = None,
    max_ffn_nodes: MaxNodesOpt = 64,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """One row per FFN node count: G, tokens, intensity, OFU, S_t, HFU, regime (paper Fig. 4).

    Example: afdscope paper curve --model deepseek-v3 --hardware h800 --plot dead-zone.png
    """
    from afdscope.paper.study import curve_study
    from afdscope.report.output import print_rows
    from afdscope.report.paper_rows import curve_rows

    _check_plot(plot, force)
    options = _options(preset, slo_ms, accepted_tokens, step_gap_ms, full_duplex, dedup)
    study = curve_study(model, hardware, value_set.value, options, max_ffn_nodes)
    if plot:
        from afdscope.report.figures import plot_curve

        plot_curve(study.curve, study.boundaries, study.title, plot)
    print_rows(curve_rows(study.curve), fmt.value, study.title)


@paper_app.command("imbalance")
def paper_imbalance(
    sigma: Annotated[
        list[float] | None, typer.Option("--sigma", help="σ values (default 0.70–0.85).")
    ] = None,
    lam: Annotated[list[float] | None, typer.Option("--lambda", help="Keep only these λ = N_A/N_F.")] = None,
    n_ffn: Annotated[
        list[int] | None, typer.Option("--n-ffn", help="FFN node counts (default 2 4 6).")
    ] = None,
    lambda_max: Annotated[float, typer.Option("--lambda-max", help="Largest λ.")] = 5.0,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """α for large-scale EP and AFD under EP imbalance over the paper's Fig. 6 grid.

    Example: afdscope paper imbalance --sigma 0.8 --n-ffn 1 --plot alpha.png
    """
    from afdscope.paper.study import imbalance_study
    from afdscope.report.output import print_rows
    from afdscope.report.paper_rows import imbalance_rows

    _check_plot(plot, force)
    _finite("--lambda-max", lambda_max)
    for value in [*(sigma or []), *(lam or [])]:
        _finite("--sigma/--lambda", value)
    grid = imbalance_study(sigma, n_ffn, lam, lambda_max)
    if plot:
        from afdscope.report.figures import plot_imbalance

        plot_imbalance(grid, plot)
    print_rows(imbalance_rows(grid), fmt.value, "α: AFD (whole nodes) vs EP at equal λ")


@paper_app.command("eaas")
def paper_eaas(
    model: ModelOpt,
    hardware: Annotated[str, typer.Option("--hardware", help="Hardware short name or YAML path.")] = "h800",
    slo_ms: SloOpt = None,
    value_set: SetOpt = ValueSetOpt.paper,
    preset: PresetOpt = "paper",
    max_ffn_nodes: MaxNodesOpt = 64,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Expert-as-a-Service node count: one expert service per MoE layer (paper §5).

    Example: afdscope paper eaas --model deepseek-v3 --hardware h800
    """
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.paper.eaas import eaas_estimate
    from afdscope.report.output import print_rows, to_json

    options = _options(preset, slo_ms, None, None, None, None)
    est = eaas_estimate(load_model(model), load_hardware(hardware, value_set.value), options, max_ffn_nodes)
    if fmt is Fmt.json:
        print(to_json(est.as_dict()))
    else:
        print_rows(
            [{"field": k, "value": v} for k, v in est.as_dict().items()], fmt.value, "Expert-as-a-Service"
        )


@paper_app.command("all")
def paper_all(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("afdscope-out"),
    slo_ms: SloOpt = None,
    preset: PresetOpt = "paper",
    force: ForceOpt = False,
) -> None:
    """Write the paper's tables (CSV + Markdown) and figures (PNG) into a folder.

    Example: afdscope paper all --out afdscope-out --force
    """
    from afdscope.report.paper_outputs import write_paper_outputs

    options = _options(preset, slo_ms, None, None, None, None)
    summary = write_paper_outputs(out, options, force=force)
    print(summary.text)


# ---------------------------------------------------------------- eval


class WeightsOpt(StrEnum):
    fp8 = "fp8"
    bf16 = "bf16"
    fp4 = "fp4"


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


SharedOnOptT = Annotated[
    SharedOnOpt, typer.Option("--shared-experts-on", help="Which side runs the shared experts.")
]


ContextOpt = Annotated[int, typer.Option("--context", help="Mean KV length per request (tokens).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-per-gpu", help="Requests per (attention) GPU.")]
TpotOpt = Annotated[
    float | None, typer.Option("--tpot-slo-ms", help="Find the largest batch meeting this TPOT.")
]
DraftOpt = Annotated[int, typer.Option("--mtp-draft", min=0, max=8, help="MTP draft tokens per step.")]
AcceptOpt = Annotated[float, typer.Option("--mtp-accept", min=0.0, max=1.0, help="MTP acceptance rate.")]
WOpt = Annotated[WeightsOpt, typer.Option("--weights", help="Weight format of the GEMMs.")]
KvDtypeOpt = Annotated[KvOpt, typer.Option("--kv-dtype", help="KV-cache format.")]
AttnDtypeOpt = Annotated[KvOpt, typer.Option("--attention-dtype", help="Core attention math format.")]
DeployPresetOpt = Annotated[str, typer.Option("--preset", help="default (calibrated) or paper.")]
SetDsOpt = Annotated[
    ValueSetOpt, typer.Option("--hardware-set", help="Datasheet peaks or the paper's Table 5.")
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 when the result is infeasible.")]
ExpertLoadOpt = Annotated[
    float,
    typer.Option("--expert-load-factor", min=1.0, help="Busiest expert GPU's assignments / mean (1/σ)."),
]
CommLoadOpt = Annotated[
    float, typer.Option("--comm-load-factor", min=1.0, help="Busiest expert GPU's received bytes / mean.")
]
RedundantOpt = Annotated[
    int, typer.Option("--redundant-experts", min=0, max=4096, help="EPLB replica slots over the expert GPUs.")
]
AttnTpOpt = Annotated[
    int, typer.Option("--attention-tp", min=1, max=64, help="Tensor parallelism inside DP attention groups.")
]


def _deploy_options(preset: str, expert_load: float, comm_load: float, redundant: int, **overrides):
    """A preset with the routing-skew factors (afdscope imbalance prints them) and EPLB replicas."""
    from dataclasses import replace

    from afdscope.deploy.options import deploy_preset

    for flag, value in (("--expert-load-factor", expert_load), ("--comm-load-factor", comm_load)):
        _finite(flag, value)
    base = deploy_preset(preset, **overrides)
    return replace(
        base,
        expert_load_factor=expert_load,
        comm_load_factor=comm_load,
        memory=replace(base.memory, redundant_experts=redundant),
    )


def _afd_hardware(hardware, attention_hardware, ffn_hardware, value_set: str):
    """(attention, FFN) devices: --hardware for both roles, each overridable."""
    from afdscope.catalog.hardware_catalog import load_hardware

    attention, ffn = attention_hardware or hardware, ffn_hardware or hardware
    if attention is None or ffn is None:
        raise AfdscopeError("give --hardware, or both --attention-hardware and --ffn-hardware")
    return load_hardware(attention, value_set), load_hardware(ffn, value_set)


def _scenario(context, draft, accept, weights, kv, attention):
    from afdscope.specs.scenario import Precision, Scenario

    if context < 1:
        raise AfdscopeError(f"--context {context}: give a positive number of tokens")
    if draft == 0 and accept > 0:
        raise AfdscopeError("--mtp-accept needs --mtp-draft ≥ 1")
    return Scenario(
        context_tokens=context,
        mtp_draft_tokens=draft,
        mtp_acceptance=accept,
        precision=Precision(weights=weights.value, kv=kv.value, attention=attention.value),
    )


def _check_mode(batch, tpot_ms):
    _finite("--tpot-slo-ms", tpot_ms)
    if (batch is None) == (tpot_ms is None):
        raise AfdscopeError("give exactly one of --batch-per-gpu or --tpot-slo-ms")
    if tpot_ms is not None and tpot_ms <= 0:
        raise AfdscopeError(f"--tpot-slo-ms {tpot_ms:g}: the SLO must be a positive number of ms")


def _print_result(result, fmt: Fmt, strict: bool) -> None:
    from afdscope.report.deploy_rows import result_rows
    from afdscope.report.output import print_rows, to_json

    if fmt is Fmt.json:
        print(to_json(result.as_dict()))
    else:
        print_rows(result_rows(result), fmt.value, f"{result.mode.upper()} deployment")
    if strict and not result.feasible:
        raise typer.Exit(1)


@eval_app.command("ep")
def eval_ep_cmd(
    model: ModelOpt,
    hardware: HardwareOpt,
    gpus: EpGpusOpt,
    context: ContextOpt,
    batch_per_gpu: BatchOpt = None,
    tpot_slo_ms: TpotOpt = None,
    mtp_draft: DraftOpt = 0,
    mtp_accept: AcceptOpt = 0.0,
    weights: WOpt = WeightsOpt.fp8,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    overlap: Annotated[OverlapOpt, typer.Option("--overlap", help="2bo, sbo or nbo.")] = OverlapOpt.two,
    attention_tp: AttnTpOpt = 1,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
    value_set: SetDsOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    strict: StrictOpt = False,
) -> None:
    """Large-scale EP over --gpus GPUs.

    Example: afdscope eval ep --model deepseek-v3 --hardware h800 --gpus 144 --context 4989 --tpot-slo-ms 50
    """
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.ep import eval_ep

    _check_mode(batch_per_gpu, tpot_slo_ms)
    scenario = _scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    options = _deploy_options(
        preset, expert_load_factor, comm_load_factor, redundant_experts, ep_overlap=overlap.value
    )
    result = eval_ep(
        load_model(model),
        load_hardware(hardware, value_set.value),
        scenario,
        gpus,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=None if tpot_slo_ms is None else tpot_slo_ms * 1e-3,
        options=options,
        attention_tp=attention_tp,
    )
    _print_result(result, fmt, strict)


@eval_app.command("afd")
def eval_afd_cmd(
    model: ModelOpt,
    attention_gpus: AttnGpusOpt,
    ffn_gpus: FfnGpusOpt,
    context: ContextOpt,
    hardware: BothHwOpt = None,
    attention_hardware: AttnHwOpt = None,
    ffn_hardware: FfnHwOpt = None,
    micro_batches: MicroBatchesOpt = 3,
    batch_per_gpu: BatchOpt = None,
    tpot_slo_ms: TpotOpt = None,
    mtp_draft: DraftOpt = 0,
    mtp_accept: AcceptOpt = 0.0,
    weights: WOpt = WeightsOpt.fp8,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    shared_experts_on: SharedOnOptT = SharedOnOpt.attention,
    sub_node: SubNodeOpt = False,
    attention_tp: AttnTpOpt = 1,
    expert_tp: ExpertTpOpt = 1,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
    value_set: SetDsOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    strict: StrictOpt = False,
) -> None:
    """AFD with --attention-gpus and --ffn-gpus, possibly on different hardware.

    Example: afdscope eval afd --model step3 --hardware h800 --attention-gpus 16 --ffn-gpus 16
    --context 4096 --tpot-slo-ms 50
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.afd import eval_afd

    _check_mode(batch_per_gpu, tpot_slo_ms)
    attention_hw, ffn_hw = _afd_hardware(hardware, attention_hardware, ffn_hardware, value_set.value)
    scenario = _scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    options = _deploy_options(
        preset,
        expert_load_factor,
        comm_load_factor,
        redundant_experts,
        shared_experts_on=shared_experts_on.value,
    )
    result = eval_afd(
        load_model(model),
        attention_hw,
        ffn_hw,
        scenario,
        attention_gpus,
        ffn_gpus,
        micro_batches,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=None if tpot_slo_ms is None else tpot_slo_ms * 1e-3,
        options=options,
        whole_nodes=not sub_node,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
    )
    _print_result(result, fmt, strict)


# ---------------------------------------------------------------- simulate


class RoutingOpt(StrEnum):
    balanced = "balanced"
    power_law = "power-law"


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


def _sim_options(steps, seed, jitter_cv, spike_prob, spike_size, routing, alpha, trace, force):
    from afdscope.sim import SimOptions

    for flag, value in (("--jitter-cv", jitter_cv), ("--spike-size", spike_size), ("--alpha", alpha)):
        _finite(flag, value)
    if trace is not None and trace.suffix.lower() != ".json":
        raise AfdscopeError(f"--trace '{trace}': traces are JSON; give a file name ending in .json")
    if trace is not None:
        from afdscope.report.output import check_writable

        check_writable([trace], force)
    return SimOptions(
        steps=steps,
        seed=seed,
        jitter_cv=jitter_cv,
        spike_prob=spike_prob,
        spike_size=spike_size,
        routing=routing.value,
        alpha=alpha,
    )


def _print_sim(result, fmt: Fmt, trace: Path | None) -> None:
    from afdscope.report.output import print_rows, to_json

    if trace is not None:
        from afdscope.sim import write_trace

        write_trace(result, trace)
    if fmt is Fmt.json:
        print(to_json(result.as_dict()))
        return
    print_rows(result.rows(), fmt.value, f"{result.mode.upper()} simulation vs closed form")
    if fmt is Fmt.table:
        if not result.closed_form["feasible"]:
            print("closed form: infeasible: " + "; ".join(result.closed_form["reasons"]))
        steps = len(result.step_ms)
        _info(f"{steps} steps, {result.events:,} events in {result.wall_s:.2f} s")


@simulate_app.command("ep")
def simulate_ep_cmd(
    model: ModelOpt,
    hardware: HardwareOpt,
    gpus: EpGpusOpt,
    context: ContextOpt,
    batch_per_gpu: BatchOpt = None,
    tpot_slo_ms: TpotOpt = None,
    mtp_draft: DraftOpt = 0,
    mtp_accept: AcceptOpt = 0.0,
    weights: WOpt = WeightsOpt.fp8,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    overlap: Annotated[OverlapOpt, typer.Option("--overlap", help="2bo or nbo.")] = OverlapOpt.two,
    attention_tp: AttnTpOpt = 1,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
    value_set: SetDsOpt = ValueSetOpt.datasheet,
    steps: StepsOpt = 20,
    seed: SeedOpt = 0,
    jitter_cv: JitterOpt = 0.0,
    spike_prob: SpikeProbOpt = 0.0,
    spike_size: SpikeSizeOpt = 10.0,
    routing: RoutingOptT = RoutingOpt.balanced,
    alpha: AlphaOpt = 1.01,
    trace: TraceOpt = None,
    force: ForceOpt = False,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Simulate large-scale EP decode steps (SimPy) and compare with the closed form.

    Example: afdscope simulate ep --model deepseek-v3 --hardware h800 --gpus 144 --context 4096
    --batch-per-gpu 128 --jitter-cv 0.05
    """
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.sim import simulate_ep

    _check_mode(batch_per_gpu, tpot_slo_ms)
    sim = _sim_options(steps, seed, jitter_cv, spike_prob, spike_size, routing, alpha, trace, force)
    scenario = _scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    result = simulate_ep(
        load_model(model),
        load_hardware(hardware, value_set.value),
        scenario,
        gpus,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=None if tpot_slo_ms is None else tpot_slo_ms * 1e-3,
        options=_deploy_options(
            preset, expert_load_factor, comm_load_factor, redundant_experts, ep_overlap=overlap.value
        ),
        attention_tp=attention_tp,
        sim=sim,
    )
    _print_sim(result, fmt, trace)


@simulate_app.command("afd")
def simulate_afd_cmd(
    model: ModelOpt,
    attention_gpus: AttnGpusOpt,
    ffn_gpus: FfnGpusOpt,
    context: ContextOpt,
    hardware: BothHwOpt = None,
    attention_hardware: AttnHwOpt = None,
    ffn_hardware: FfnHwOpt = None,
    micro_batches: MicroBatchesOpt = 3,
    batch_per_gpu: BatchOpt = None,
    tpot_slo_ms: TpotOpt = None,
    mtp_draft: DraftOpt = 0,
    mtp_accept: AcceptOpt = 0.0,
    weights: WOpt = WeightsOpt.fp8,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    shared_experts_on: SharedOnOptT = SharedOnOpt.attention,
    sub_node: SubNodeOpt = False,
    attention_tp: AttnTpOpt = 1,
    expert_tp: ExpertTpOpt = 1,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
    value_set: SetDsOpt = ValueSetOpt.datasheet,
    steps: StepsOpt = 20,
    seed: SeedOpt = 0,
    jitter_cv: JitterOpt = 0.0,
    spike_prob: SpikeProbOpt = 0.0,
    spike_size: SpikeSizeOpt = 10.0,
    routing: RoutingOptT = RoutingOpt.balanced,
    alpha: AlphaOpt = 1.01,
    trace: TraceOpt = None,
    force: ForceOpt = False,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Simulate AFD decode steps (SimPy): micro-batches through attention, link and FFN resources.

    Example: afdscope simulate afd --model deepseek-v3 --hardware h800 --attention-gpus 32 --ffn-gpus 16
    --context 4096 --batch-per-gpu 96 --jitter-cv 0.05 --trace step.json
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.sim import simulate_afd

    _check_mode(batch_per_gpu, tpot_slo_ms)
    attention_hw, ffn_hw = _afd_hardware(hardware, attention_hardware, ffn_hardware, value_set.value)
    sim = _sim_options(steps, seed, jitter_cv, spike_prob, spike_size, routing, alpha, trace, force)
    scenario = _scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    result = simulate_afd(
        load_model(model),
        attention_hw,
        ffn_hw,
        scenario,
        attention_gpus,
        ffn_gpus,
        micro_batches,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=None if tpot_slo_ms is None else tpot_slo_ms * 1e-3,
        options=_deploy_options(
            preset,
            expert_load_factor,
            comm_load_factor,
            redundant_experts,
            shared_experts_on=shared_experts_on.value,
        ),
        whole_nodes=not sub_node,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
        sim=sim,
    )
    _print_sim(result, fmt, trace)


# ---------------------------------------------------------------- imbalance


class RoutingModeOpt(StrEnum):
    ep = "ep"
    afd = "afd"


class RoutingMethodOpt(StrEnum):
    auto = "auto"
    counts = "counts"
    exact = "exact"


@app.command("imbalance")
def imbalance_cmd(
    model: ModelOpt,
    tokens: Annotated[
        int, typer.Option("--tokens", help="Tokens entering one MoE layer (whole EP group, one micro-batch).")
    ],
    gpus: Annotated[int | None, typer.Option("--gpus", help="EP group size (--mode ep).")] = None,
    popularity: Annotated[
        str, typer.Option("--popularity", help="uniform, power-law, zipf, or a CSV of per-expert counts.")
    ] = "power-law",
    alpha: Annotated[
        float | None, typer.Option("--alpha", help="Power-law / Zipf exponent (default 1.01: DeepSeek-V3).")
    ] = None,
    redundant: Annotated[int, typer.Option("--redundant", help="EPLB redundant expert slots (0: none).")] = 0,
    mode: Annotated[RoutingModeOpt, typer.Option("--mode", help="ep or afd.")] = RoutingModeOpt.ep,
    ffn_gpus: Annotated[int | None, typer.Option("--ffn-gpus", help="Expert GPUs (--mode afd).")] = None,
    gpus_per_node: Annotated[
        int, typer.Option("--gpus-per-node", help="FFN GPUs per node: AFD sends a token once per node.")
    ] = 8,
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws (MoE layers × steps).")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    method: Annotated[
        RoutingMethodOpt, typer.Option("--method", help="exact (per token), counts (per expert) or auto.")
    ] = RoutingMethodOpt.auto,
    group_limited: Annotated[
        bool, typer.Option("--group-limited/--no-group-limited", help="DeepSeek-style group-limited routing.")
    ] = True,
    weights: WOpt = WeightsOpt.fp8,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Routing imbalance from expert popularity: σ = mean/max per layer, EPLB, and the load factors
    the evaluator takes.

    Example: afdscope imbalance --model deepseek-v3 --gpus 64 --tokens 8192 --alpha 1.01 --redundant 64
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.imbalance import Popularity, load_factors, simulate_routing
    from afdscope.report.output import print_rows, to_json
    from afdscope.specs.scenario import DTYPE_BYTES

    _finite("--alpha", alpha)
    if tokens < 1:
        raise AfdscopeError(f"--tokens {tokens}: give the tokens entering one MoE layer (>= 1)")
    if not 1 <= draws <= 1_000_000:
        raise AfdscopeError(f"--draws {draws}: give 1 to 1,000,000 Monte Carlo draws")
    if redundant < 0:
        raise AfdscopeError(f"--redundant {redundant}: give 0 (no EPLB) or more redundant expert slots")
    if mode is RoutingModeOpt.ep:
        if gpus is None or ffn_gpus is not None:
            raise AfdscopeError("--mode ep needs --gpus N (the EP group size) and no --ffn-gpus")
        expert_gpus, flag = gpus, "--gpus"
    else:
        if ffn_gpus is None or gpus is not None:
            raise AfdscopeError("--mode afd needs --ffn-gpus F (the GPUs holding the experts) and no --gpus")
        expert_gpus, flag = ffn_gpus, "--ffn-gpus"
    if expert_gpus < 1:
        raise AfdscopeError(f"{flag} {expert_gpus}: give at least 1 GPU")
    if gpus_per_node < 1:
        raise AfdscopeError(f"--gpus-per-node {gpus_per_node}: give at least 1")
    m = load_model(model)
    n = m.n_routed_experts
    if redundant and (n + redundant) % expert_gpus:
        lower = redundant - (n + redundant) % expert_gpus
        near = " or ".join(f"--redundant {r}" for r in (lower, lower + expert_gpus) if r > 0)
        raise AfdscopeError(
            f"--redundant {redundant}: {n} + {redundant} expert slots do not split evenly over "
            f"{expert_gpus} GPUs; use {near}"
        )
    kind = popularity.strip().lower().replace("_", "-")
    a = None
    if kind in ("power-law", "powerlaw", "zipf"):
        a = 1.01 if alpha is None else alpha
        if not 0 <= a <= 10:
            raise AfdscopeError(f"--alpha {a:g}: give an exponent in [0, 10] (1.01 DeepSeek-V3, 1.2 Qwen3)")
        pop = Popularity.zipf(n, a) if kind == "zipf" else Popularity.power_law(n, a)
    elif alpha is not None:
        raise AfdscopeError(f"--alpha applies to --popularity power-law or zipf, not '{popularity}'")
    elif kind == "uniform":
        pop = Popularity.uniform(n)
    elif kind.endswith(".csv") or Path(popularity).expanduser().exists():
        pop = Popularity.from_csv(popularity, n)
    else:
        raise AfdscopeError(
            f"--popularity '{popularity}': use uniform, power-law, zipf, or a path to a CSV of expert counts"
        )
    stats = simulate_routing(
        m,
        pop,
        tokens,
        draws,
        gpus=gpus,
        ffn_gpus=ffn_gpus,
        mode=mode.value,
        redundant=redundant,
        group_limited=group_limited,
        seed=seed,
        gpus_per_node=gpus_per_node,
        method=method.value,
    )
    expert_f, comm_f = load_factors(stats)
    grouped = bool(group_limited and (m.n_group or 1) > 1 and (m.topk_group or 0) < m.n_group)
    out = {
        "model": m.name,
        "mode": mode.value,
        "gpus": gpus,
        "ffn_gpus": ffn_gpus,
        "gpus_per_node": gpus_per_node if mode is RoutingModeOpt.afd else None,
        "tokens": tokens,
        "draws": draws,
        "seed": seed,
        "method": stats.method,
        "popularity": pop.name,
        "alpha": a,
        "group_limited": grouped,
        "redundant": redundant,
        "placement": stats.placement.kind,
        "expert_slots_per_gpu": stats.placement.slots_per_gpu,
        "hottest_expert_over_mean": pop.hottest_over_mean(m.top_k),
        "top20_share": pop.top_share(0.2, m.top_k),
        **stats.summary(),
        "expert_load_factor": expert_f,
        "comm_load_factor": comm_f,
        "eplb_extra_slots_per_gpu": stats.placement.extra_slots_per_gpu,
        "eplb_memory_gb_per_gpu": stats.placement.memory_cost_bytes(m, DTYPE_BYTES[weights.value]) / 1e9,
    }
    if fmt is Fmt.json:
        print(to_json(out))
    elif fmt is Fmt.csv:
        print_rows([out], "csv")
    else:
        where = f"EP {gpus}" if mode is RoutingModeOpt.ep else f"AFD, {ffn_gpus} FFN GPUs"
        title = f"{m.name}: routing imbalance, {where}, {tokens} tokens/layer"
        print_rows([{"field": k, "value": v} for k, v in out.items()], "table", title)


# ---------------------------------------------------------------- search


def _progress_after_one_second():
    """A rich progress bar on stderr that appears only once a search has run for a second."""
    import time

    state = {"t0": time.perf_counter(), "bar": None, "task": None}

    def update(done: int, total: int) -> None:
        if state["bar"] is None:
            if _QUIET or time.perf_counter() - state["t0"] < 1.0 or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress

            state["bar"] = Progress(console=Console(stderr=True), transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task("working", total=total)
        state["bar"].update(state["task"], completed=done)
        if done >= total:
            state["bar"].stop()

    return update, state


def _hardware_list(names: list[str] | None, prices: dict, value_set: str):
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.cost import with_price

    out = []
    for name in _split(names) or []:
        hw = load_hardware(name, value_set)
        out.append(with_price(hw, prices.get(hw.name)))
    return out


@app.command("search")
def search_cmd(
    model: ModelOpt,
    context: ContextOpt,
    hardware: Annotated[
        list[str] | None, typer.Option("--hardware", help="Candidate GPUs (EP and AFD).")
    ] = None,
    attention_hardware: Annotated[
        list[str] | None, typer.Option("--attention-hardware", help="AFD attention candidates.")
    ] = None,
    ffn_hardware: Annotated[
        list[str] | None, typer.Option("--ffn-hardware", help="AFD FFN candidates.")
    ] = None,
    tpot_slo_ms: TpotOpt = None,
    min_tokens_per_s_per_user: Annotated[
        float | None, typer.Option("--min-tokens-per-s-per-user", help="Alternative to --tpot-slo-ms.")
    ] = None,
    max_gpus: Annotated[int, typer.Option("--max-gpus", min=2, max=4096, help="Largest deployment.")] = 256,
    max_batch: Annotated[
        int, typer.Option("--max-batch-per-gpu", min=1, max=65536, help="Largest batch the search tries.")
    ] = 1024,
    mtp_draft: DraftOpt = 0,
    mtp_accept: AcceptOpt = 0.0,
    weights: WOpt = WeightsOpt.fp8,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    price: Annotated[list[str] | None, typer.Option("--price", help="HARDWARE=USD per GPU-hour.")] = None,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
    value_set: SetDsOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """Best EP and AFD deployments under a latency constraint, their Pareto fronts, and a verdict.

    Example: afdscope search --model deepseek-v3 --hardware h800 --context 4096 --tpot-slo-ms 50
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.cost import parse_prices
    from afdscope.search import Constraint, SearchSpace, search

    _check_plot(plot, force)
    _finite("--tpot-slo-ms", tpot_slo_ms)
    _finite("--min-tokens-per-s-per-user", min_tokens_per_s_per_user)
    if (tpot_slo_ms is None) == (min_tokens_per_s_per_user is None):
        raise AfdscopeError("give exactly one of --tpot-slo-ms or --min-tokens-per-s-per-user")
    prices = parse_prices(price)
    hws = _hardware_list(hardware, prices, value_set.value)
    attn = _hardware_list(attention_hardware, prices, value_set.value)
    ffn = _hardware_list(ffn_hardware, prices, value_set.value)
    unknown = set(prices) - {h.name for h in hws + attn + ffn}
    if unknown:
        raise AfdscopeError(
            f"--price for {', '.join(sorted(unknown))}, which is not a candidate; "
            "price the devices you search"
        )
    if not hws:
        hws = list(dict.fromkeys(attn + ffn))
    if not hws:
        raise AfdscopeError("give --hardware (or --attention-hardware and --ffn-hardware)")
    scenario = _scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    constraint = Constraint(
        tpot_slo_s=None if tpot_slo_ms is None else tpot_slo_ms * 1e-3,
        min_tokens_per_s_per_user=min_tokens_per_s_per_user,
    )
    from afdscope.deploy.step import check_slo

    options = _deploy_options(preset, expert_load_factor, comm_load_factor, redundant_experts)
    check_slo(constraint.tpot_limit_s, options, scenario.tokens_per_step)
    update, state = _progress_after_one_second()
    result = search(
        load_model(model),
        scenario,
        constraint,
        hws,
        attn or None,
        ffn or None,
        SearchSpace(max_gpus=max_gpus, max_batch_per_gpu=max_batch),
        options,
        progress=update,
    )
    if state["bar"] is not None:
        state["bar"].stop()
    if plot:
        from afdscope.report.figures import plot_pareto

        plot_pareto(result, plot)
    from afdscope.report.output import print_rows, to_json
    from afdscope.report.search_rows import best_rows, pareto_rows, verdict_line

    if fmt is Fmt.json:
        print(to_json(result.as_dict()))
    elif fmt is Fmt.csv:
        print_rows(pareto_rows(result), "csv")
    else:
        print_rows(best_rows(result), "table", f"{result.inputs['model']}: best configurations")
        print(verdict_line(result))
        _info(f"{result.evaluated:,} configurations in {result.seconds:.2f} s")


# ---------------------------------------------------------------- map


@app.command("map")
def map_cmd(
    model: ModelOpt,
    x: Annotated[
        str, typer.Option("--x", help="X axis (one of the axes listed above).")
    ] = "scale-out-bandwidth",
    y: Annotated[str, typer.Option("--y", help="Y axis.")] = "scale-up-bandwidth",
    x_range: Annotated[str | None, typer.Option("--x-range", help="LOW:HIGH in the axis' unit.")] = None,
    y_range: Annotated[str | None, typer.Option("--y-range", help="LOW:HIGH in the axis' unit.")] = None,
    points: Annotated[int, typer.Option("--points", min=2, max=128, help="Grid points per axis.")] = 24,
    hardware: Annotated[str, typer.Option("--hardware", help="Base hardware the axes modify.")] = "h800",
    context: Annotated[int, typer.Option("--context", help="Mean KV length per request.")] = 4096,
    tpot_slo_ms: Annotated[float, typer.Option("--tpot-slo-ms", help="TPOT SLO.")] = 50.0,
    max_gpus: Annotated[int, typer.Option("--max-gpus", min=16, max=4096, help="Largest deployment.")] = 256,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """The AFD/EP throughput ratio over two axes: scale-out-bandwidth, scale-up-bandwidth,
    scale-up-domain, fp8-flops, hbm-bandwidth, expert-intermediate-size, experts-per-token,
    num-experts, context, tpot-slo.

    Example: afdscope map --model step3 --x scale-out-bandwidth --y expert-intermediate-size --plot map.png
    """
    from afdscope.afd_map import afd_ep_map, axis, paper_gpu_points
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model

    _check_plot(plot, force)
    _finite("--tpot-slo-ms", tpot_slo_ms)
    x_axis, y_axis = axis(x), axis(y)
    xr = _range("--x-range", x_range, x_axis.default_range)
    yr = _range("--y-range", y_range, y_axis.default_range)
    m, hw = load_model(model), load_hardware(hardware)
    scenario = _scenario(context, 0, 0.0, WeightsOpt.fp8, KvOpt.bf16, KvOpt.bf16)
    from afdscope.deploy.options import DEFAULT_OPTIONS
    from afdscope.deploy.step import check_slo

    check_slo(tpot_slo_ms * 1e-3, DEFAULT_OPTIONS, 1.0)
    update, state = _progress_after_one_second()
    result = afd_ep_map(
        m,
        hw,
        scenario,
        tpot_slo_ms * 1e-3,
        x_axis,
        y_axis,
        x_axis.values(*xr, points),
        y_axis.values(*yr, points),
        max_gpus=max_gpus,
        progress=update,
    )
    if state["bar"] is not None:
        state["bar"].stop()
    if plot:
        from afdscope.report.figures import plot_map

        plot_map(result, plot, paper_gpu_points(x_axis, y_axis, m, scenario, tpot_slo_ms * 1e-3))
    from afdscope.report.output import print_rows

    print_rows(result.rows(), fmt.value, "AFD / EP tokens/s per GPU")


def _range(flag: str, text: str | None, default: tuple[float, float]) -> tuple[float, float]:
    if text is None:
        return default
    lo, sep, hi = text.partition(":")
    try:
        low, high = float(lo), float(hi)
    except ValueError:
        low = high = float("nan")
    if not sep or not (0 < low < high) or not all(map(__import__("math").isfinite, (low, high))):
        raise AfdscopeError(f"{flag} '{text}': write LOW:HIGH with 0 < LOW < HIGH, e.g. {flag} 25:400")
    return low, high


# ---------------------------------------------------------------- report


@app.command("report")
def report_cmd(
    model: ModelOpt,
    context: ContextOpt,
    tpot_slo_ms: Annotated[float, typer.Option("--tpot-slo-ms", help="TPOT SLO in ms.")],
    hardware: Annotated[
        list[str] | None, typer.Option("--hardware", help="Candidate GPUs (EP and AFD).")
    ] = None,
    attention_hardware: Annotated[
        list[str] | None, typer.Option("--attention-hardware", help="AFD attention candidates.")
    ] = None,
    ffn_hardware: Annotated[
        list[str] | None, typer.Option("--ffn-hardware", help="AFD FFN candidates.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    max_gpus: Annotated[int, typer.Option("--max-gpus", min=16, max=4096, help="Largest deployment.")] = 256,
    price: Annotated[list[str] | None, typer.Option("--price", help="HARDWARE=USD per GPU-hour.")] = None,
    force: ForceOpt = False,
) -> None:
    """One self-contained HTML page: verdict, best configurations, Pareto fronts, TPOT budget,
    imbalance sensitivity, the paper's view and the where-AFD-pays map.

    Example: afdscope report --model deepseek-v3 --hardware h800 --context 4096 --tpot-slo-ms 50 -o r.html
    """
    from afdscope.cost import parse_prices
    from afdscope.report.deployment_report import write_report

    _finite("--tpot-slo-ms", tpot_slo_ms)
    update, state = _progress_after_one_second()
    path, data = write_report(
        out,
        force,
        model=model,
        context=context,
        tpot_slo_ms=tpot_slo_ms,
        hardware=_split(hardware) or [],
        attention_hardware=_split(attention_hardware) or [],
        ffn_hardware=_split(ffn_hardware) or [],
        max_gpus=max_gpus,
        prices=parse_prices(price),
        progress=update,
    )
    if state["bar"] is not None:
        state["bar"].stop()
    from afdscope.report.search_rows import verdict_line

    print(verdict_line(data.search))
    _info(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; computed in {data.seconds:.2f} s)")


register_validate(app)  # `afdscope validate` (src/afdscope/cli_validate.py)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except AfdscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(message)
            sys.exit(0)
        print(f"error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
