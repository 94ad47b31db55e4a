"""`afdscope eval ep|afd`: predict one deployment (throughput, TPOT, memory, bottleneck)."""

from __future__ import annotations

import typer

from afdscope.cli.common import afd_hardware, check_mode, deploy_options, ms_to_s, scenario
from afdscope.cli.options import (
    AcceptOpt,
    AttnDtypeOpt,
    AttnGpusOpt,
    AttnHwOpt,
    AttnTpOpt,
    BatchOpt,
    BothHwOpt,
    CommLoadOpt,
    ContextOpt,
    DeployPresetOpt,
    DraftOpt,
    EpGpusOpt,
    EvalOverlapOpt,
    ExpertLoadOpt,
    ExpertTpOpt,
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
    SharedOnOpt,
    SharedOnOptT,
    StrictOpt,
    SubNodeOpt,
    TpotOpt,
    ValueSetOpt,
    WeightsOpt,
    WOpt,
)

eval_app = typer.Typer(
    help="Predict one deployment: throughput, TPOT, memory, bottleneck.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def print_result(result, fmt: Fmt, strict: bool) -> None:
    """One evaluation as JSON or a table; --strict exits 1 when it is infeasible."""
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
    overlap: EvalOverlapOpt = OverlapOpt.two,
    attention_tp: AttnTpOpt = 1,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
    value_set: SetOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    strict: StrictOpt = False,
) -> None:
    """Large-scale EP over --gpus GPUs.

    Example: afdscope eval ep --model deepseek-v3 --hardware h800 --gpus 144 --context 4989 --tpot-slo-ms 50
    """
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.ep import eval_ep

    check_mode(batch_per_gpu, tpot_slo_ms)
    workload = scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    options = deploy_options(
        preset, expert_load_factor, comm_load_factor, redundant_experts, ep_overlap=overlap.value
    )
    result = eval_ep(
        load_model(model),
        load_hardware(hardware, value_set.value),
        workload,
        gpus,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=ms_to_s(tpot_slo_ms),
        options=options,
        attention_tp=attention_tp,
    )
    print_result(result, fmt, strict)


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
    value_set: SetOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    strict: StrictOpt = False,
) -> None:
    """AFD with --attention-gpus and --ffn-gpus, possibly on different hardware.

    Example: afdscope eval afd --model step3 --hardware h800 --attention-gpus 16 --ffn-gpus 16
    --context 4096 --tpot-slo-ms 50
    """
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.afd import eval_afd

    check_mode(batch_per_gpu, tpot_slo_ms)
    attention_hw, ffn_hw = afd_hardware(hardware, attention_hardware, ffn_hardware, value_set.value)
    workload = scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    options = deploy_options(
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
        workload,
        attention_gpus,
        ffn_gpus,
        micro_batches,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=ms_to_s(tpot_slo_ms),
        options=options,
        whole_nodes=not sub_node,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
    )
    print_result(result, fmt, strict)
