"""`afdscope eval ep|afd`: predict one deployment (throughput, TPOT, memory, bottleneck)."""

from __future__ import annotations

import typer

from afdscope.cli.options import (
    AcceptOpt,
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
    EvalOverlapOpt,
    ExpertLoadOpt,
    ExpertTpOpt,
    ExpertWOpt,
    FfnGpusOpt,
    FfnHwOpt,
    Fmt,
    FormatOpt,
    HardwareOpt,
    KvDtypeOpt,
    KvOpt,
    MicroBatchesOpt,
    ModelOpt,
    OverlapOpt,
    RedundantOpt,
    SetOpt,
    SharedGpusOpt,
    SharedOnOptT,
    StrictOpt,
    SubNodeOpt,
    TpotOpt,
    ValueSetOpt,
    WeightsOpt,
    WOpt,
)

eval_app = typer.Typer(
    help="Predict one deployment: throughput, TPOT, memory, bottleneck.\n\n"
    "Example: afdscope eval ep --model deepseek-v3 --hardware h800 --gpus 144 --context 4096 "
    "--tpot-slo-ms 50",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def print_result(result, fmt: Fmt, strict: bool) -> None:
    """One evaluation as JSON or a table; --strict exits 1 when it is infeasible."""
    from afdscope.report.deploy_rows import result_rows
    from afdscope.report.notes import counting_notes
    from afdscope.report.output import print_rows, to_json

    if fmt is Fmt.json:
        print(to_json(result.as_dict() | {"notes": dict(counting_notes(result))}))
    else:
        rows = result_rows(result)
        # The skew the evaluation assumed, after the bottleneck (JSON carries it as `routing_skew`).
        at = next((i + 1 for i, r in enumerate(rows) if r["field"] == "bottleneck"), len(rows))
        rows.insert(at, {"field": "routing_skew", "value": result.routing_skew})
        print_rows(rows, fmt.value, f"{result.mode.upper()} deployment")
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
    expert_weights: ExpertWOpt = None,
    dispatch_dtype: DispatchDtypeOpt = DispatchOpt.fp8,
    combine_dtype: CombineDtypeOpt = CombineOpt.bf16,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    overlap: EvalOverlapOpt = OverlapOpt.two,
    attention_tp: AttnTpOpt = 1,
    shared_expert_gpus: SharedGpusOpt = 0,
    calibration: CalibrationOpt = CalibrationName.default,
    balanced: BalancedOpt = False,
    preset: DeployPresetOpt = None,
    expert_load_factor: ExpertLoadOpt = None,
    comm_load_factor: CommLoadOpt = None,
    redundant_experts: RedundantOpt = None,
    value_set: SetOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    strict: StrictOpt = False,
) -> None:
    """Large-scale EP over --gpus GPUs.

    Example: afdscope eval ep --model deepseek-v3 --hardware h800 --gpus 144 --context 4989 --tpot-slo-ms 50
    """
    from afdscope.cli.deployment import run

    print_result(run("ep", locals()), fmt, strict)


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
    expert_weights: ExpertWOpt = None,
    dispatch_dtype: DispatchDtypeOpt = DispatchOpt.fp8,
    combine_dtype: CombineDtypeOpt = CombineOpt.bf16,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    shared_experts_on: SharedOnOptT = None,
    shared_expert_gpus: SharedGpusOpt = 0,
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
    fmt: FormatOpt = Fmt.table,
    strict: StrictOpt = False,
) -> None:
    """AFD with --attention-gpus and --ffn-gpus, possibly on different hardware.

    Example: afdscope eval afd --model step3 --hardware h800 --attention-gpus 16 --ffn-gpus 16
    --context 4096 --tpot-slo-ms 50
    """
    from afdscope.cli.deployment import run

    print_result(run("afd", locals()), fmt, strict)
