"""`afdscope eval ep|afd`: predict one deployment (throughput, TPOT, memory, bottleneck)."""

from __future__ import annotations

import typer

from afdscope.cli.common import (
    afd_hardware,
    calibration_and_skew,
    check_context,
    check_formats,
    check_mode,
    ms_to_s,
    scenario,
)
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
    SharedOnOpt,
    SharedOnOptT,
    StrictOpt,
    SubNodeOpt,
    TpotOpt,
    ValueSetOpt,
    WeightsOpt,
    WOpt,
)
from afdscope.errors import AfdscopeError

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
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.ep import eval_ep

    check_mode(batch_per_gpu, tpot_slo_ms)
    workload = scenario(
        context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype,
        expert_weights, dispatch_dtype, combine_dtype,
    )  # fmt: skip
    cal, skew = calibration_and_skew(calibration, preset, balanced, expert_load_factor, comm_load_factor)
    m, hw = load_model(model), load_hardware(hardware, value_set.value)
    check_context(m, context)
    check_formats(workload, hw)
    deployment = ep_deployment(hw, gpus, overlap, attention_tp, redundant_experts, shared_expert_gpus)
    result = eval_ep(
        m,
        deployment,
        workload,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=ms_to_s(tpot_slo_ms),
        calibration=cal,
        skew=skew,
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
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.afd import eval_afd

    check_mode(batch_per_gpu, tpot_slo_ms)
    attention_hw, ffn_hw = afd_hardware(hardware, attention_hardware, ffn_hardware, value_set.value)
    workload = scenario(
        context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype,
        expert_weights, dispatch_dtype, combine_dtype,
    )  # fmt: skip
    cal, skew = calibration_and_skew(calibration, preset, balanced, expert_load_factor, comm_load_factor)
    m = load_model(model)
    check_context(m, context)
    check_formats(workload, attention_hw, ffn_hw)
    deployment = afd_deployment(
        attention_hw,
        ffn_hw,
        attention_gpus,
        ffn_gpus,
        micro_batches,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
        sub_node=sub_node,
        redundant_experts=redundant_experts,
        attention_domains=attention_domains,
        shared_experts_on=shared_experts_on,
        shared_expert_gpus=shared_expert_gpus,
    )
    result = eval_afd(
        m,
        deployment,
        workload,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=ms_to_s(tpot_slo_ms),
        calibration=cal,
        skew=skew,
    )
    print_result(result, fmt, strict)


def shared_placement(shared_experts_on: SharedOnOpt | None, shared_expert_gpus: int) -> str:
    """Where AFD's shared experts run: --shared-expert-gpus N puts them on N dedicated GPUs."""
    if shared_experts_on is SharedOnOpt.dedicated and not shared_expert_gpus:
        raise AfdscopeError(
            "--shared-experts-on dedicated needs --shared-expert-gpus N (the GPUs that run them)"
        )
    if shared_expert_gpus and shared_experts_on not in (None, SharedOnOpt.dedicated):
        raise AfdscopeError(
            f"--shared-expert-gpus {shared_expert_gpus} puts the shared experts on dedicated GPUs, "
            f"--shared-experts-on {shared_experts_on.value} elsewhere; drop one of them"
        )
    if shared_expert_gpus:
        return "dedicated"
    return (shared_experts_on or SharedOnOpt.attention).value


def ep_deployment(hw, gpus, overlap, attention_tp, redundant_experts, shared_expert_gpus=0):
    """The EP deployment the flags describe (flag names in the errors)."""
    from afdscope.specs.deployment import EpDeployment

    if gpus % attention_tp:
        raise AfdscopeError(f"--attention-tp {attention_tp} does not divide --gpus {gpus}; give a divisor")
    return EpDeployment(
        hardware=hw,
        gpus=gpus,
        overlap=overlap.value,
        attention_tp=attention_tp,
        redundant_experts=redundant_experts,
        shared_expert_gpus=shared_expert_gpus,
    )


def afd_deployment(
    attention_hw,
    ffn_hw,
    attention_gpus,
    ffn_gpus,
    micro_batches,
    *,
    attention_tp,
    expert_tp,
    sub_node,
    redundant_experts,
    attention_domains=1,
    shared_experts_on=None,
    shared_expert_gpus=0,
):
    """The AFD deployment the flags describe (flag names in the errors)."""
    from afdscope.specs.deployment import AfdDeployment

    if attention_gpus % attention_domains:
        raise AfdscopeError(
            f"--attention-domains {attention_domains} does not divide --attention-gpus {attention_gpus}; "
            "give a divisor"
        )
    return AfdDeployment(
        attention_hardware=attention_hw,
        ffn_hardware=ffn_hw,
        attention_gpus=attention_gpus,
        ffn_gpus=ffn_gpus,
        micro_batches=micro_batches,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
        shared_experts_on=shared_placement(shared_experts_on, shared_expert_gpus),
        whole_nodes=not sub_node,
        redundant_experts=redundant_experts,
        attention_domains=attention_domains,
        shared_expert_gpus=shared_expert_gpus,
    )
