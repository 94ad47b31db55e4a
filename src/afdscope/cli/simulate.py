"""`afdscope simulate ep|afd`: decode steps in SimPy (jitter, spikes, routing skew, pipeline bubbles)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

import typer

from afdscope.cli.common import finite, info
from afdscope.cli.options import (
    AcceptOpt,
    AlphaOpt,
    AttnDomainsOpt,
    AttnDtypeOpt,
    AttnGpusOpt,
    AttnHwOpt,
    AttnTpOpt,
    BalancedOpt,
    BatchOpt,
    BothHwOpt,
    CalibrationName,
    CalibrationOpt,
    CombineDtypeOpt,
    CombineOpt,
    CommLoadOpt,
    ContextOpt,
    DeployPresetOpt,
    DispatchDtypeOpt,
    DispatchOpt,
    DraftOpt,
    EpGpusOpt,
    ExpertLoadOpt,
    ExpertTpOpt,
    ExpertWOpt,
    FfnGpusOpt,
    FfnHwOpt,
    Fmt,
    ForceOpt,
    FormatOpt,
    HardwareOpt,
    JitterOpt,
    KvDtypeOpt,
    KvOpt,
    MicroBatchesOpt,
    ModelOpt,
    OverlapOpt,
    RedundantOpt,
    RoutingOpt,
    RoutingOptT,
    SeedOpt,
    SetOpt,
    SharedOnOptT,
    SimOverlapOpt,
    SpikeProbOpt,
    SpikeSizeOpt,
    StepsOpt,
    SubNodeOpt,
    TpotOpt,
    TraceOpt,
    ValueSetOpt,
    WeightsOpt,
    WOpt,
)
from afdscope.errors import AfdscopeError

simulate_app = typer.Typer(
    help="Simulate decode steps (SimPy): jitter, spikes, routing skew, pipeline bubbles.\n\n"
    "Example: afdscope simulate ep --model deepseek-v3 --hardware h800 --gpus 144 --context 4096 "
    "--batch-per-gpu 128 --jitter-cv 0.05",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")


def sim_options(f: Mapping):
    """The simulator's settings from the command's flags, with --trace checked (JSON name, overwrite)
    before anything runs."""
    from afdscope.sim import SimOptions

    for flag, key in (("--jitter-cv", "jitter_cv"), ("--spike-size", "spike_size"), ("--alpha", "alpha")):
        finite(flag, f[key])
    trace = f["trace"]
    if trace is not None and trace.suffix.lower() != ".json":
        raise AfdscopeError(f"--trace '{trace}': traces are JSON; give a file name ending in .json")
    if trace is not None:
        from afdscope.report.output import check_writable

        check_writable([trace], f["force"])
    return SimOptions(
        steps=f["steps"],
        seed=f["seed"],
        jitter_cv=f["jitter_cv"],
        spike_prob=f["spike_prob"],
        spike_size=f["spike_size"],
        routing=f["routing"].value,
        alpha=f["alpha"],
    )


def print_sim(result, fmt: Fmt, trace: Path | None) -> None:
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
        info(f"{steps} steps, {result.events:,} events in {result.wall_s:.2f} s")


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
    expert_weights: ExpertWOpt = None,
    dispatch_dtype: DispatchDtypeOpt = DispatchOpt.fp8,
    combine_dtype: CombineDtypeOpt = CombineOpt.bf16,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    overlap: SimOverlapOpt = OverlapOpt.two,
    attention_tp: AttnTpOpt = 1,
    calibration: CalibrationOpt = CalibrationName.default,
    balanced: BalancedOpt = False,
    preset: DeployPresetOpt = None,
    expert_load_factor: ExpertLoadOpt = None,
    comm_load_factor: CommLoadOpt = None,
    redundant_experts: RedundantOpt = None,
    value_set: SetOpt = ValueSetOpt.datasheet,
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
    from afdscope.cli.deployment import run

    flags = locals()
    print_sim(run("ep", flags, partial(sim_options, flags)), fmt, trace)


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
    expert_weights: ExpertWOpt = None,
    dispatch_dtype: DispatchDtypeOpt = DispatchOpt.fp8,
    combine_dtype: CombineDtypeOpt = CombineOpt.bf16,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    shared_experts_on: SharedOnOptT = None,
    attention_domains: AttnDomainsOpt = 1,
    sub_node: SubNodeOpt = False,
    attention_tp: AttnTpOpt = 1,
    expert_tp: ExpertTpOpt = 1,
    calibration: CalibrationOpt = CalibrationName.default,
    balanced: BalancedOpt = False,
    preset: DeployPresetOpt = None,
    expert_load_factor: ExpertLoadOpt = None,
    comm_load_factor: CommLoadOpt = None,
    redundant_experts: RedundantOpt = None,
    value_set: SetOpt = ValueSetOpt.datasheet,
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
    from afdscope.cli.deployment import run

    flags = locals()
    print_sim(run("afd", flags, partial(sim_options, flags)), fmt, trace)
