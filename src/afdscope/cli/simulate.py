"""`afdscope simulate ep|afd`: decode steps in SimPy (jitter, spikes, routing skew, pipeline bubbles)."""

from __future__ import annotations

from pathlib import Path

import typer

from afdscope.cli.common import afd_hardware, check_mode, deploy_options, finite, info, ms_to_s, scenario
from afdscope.cli.options import (
    AcceptOpt,
    AlphaOpt,
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
    ExpertLoadOpt,
    ExpertTpOpt,
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
    SharedOnOpt,
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
    help="Simulate decode steps (SimPy): jitter, spikes, routing skew, pipeline bubbles.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")


def sim_options(steps, seed, jitter_cv, spike_prob, spike_size, routing, alpha, trace, force):
    """The simulator's settings, with --trace checked (JSON name, overwrite) before anything runs."""
    from afdscope.sim import SimOptions

    for flag, value in (("--jitter-cv", jitter_cv), ("--spike-size", spike_size), ("--alpha", alpha)):
        finite(flag, value)
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
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    overlap: SimOverlapOpt = OverlapOpt.two,
    attention_tp: AttnTpOpt = 1,
    preset: DeployPresetOpt = "default",
    expert_load_factor: ExpertLoadOpt = 1.0,
    comm_load_factor: CommLoadOpt = 1.0,
    redundant_experts: RedundantOpt = 0,
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
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.sim import simulate_ep

    check_mode(batch_per_gpu, tpot_slo_ms)
    sim = sim_options(steps, seed, jitter_cv, spike_prob, spike_size, routing, alpha, trace, force)
    workload = scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    result = simulate_ep(
        load_model(model),
        load_hardware(hardware, value_set.value),
        workload,
        gpus,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=ms_to_s(tpot_slo_ms),
        options=deploy_options(
            preset, expert_load_factor, comm_load_factor, redundant_experts, ep_overlap=overlap.value
        ),
        attention_tp=attention_tp,
        sim=sim,
    )
    print_sim(result, fmt, trace)


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
    from afdscope.catalog.model_catalog import load_model
    from afdscope.sim import simulate_afd

    check_mode(batch_per_gpu, tpot_slo_ms)
    attention_hw, ffn_hw = afd_hardware(hardware, attention_hardware, ffn_hardware, value_set.value)
    sim = sim_options(steps, seed, jitter_cv, spike_prob, spike_size, routing, alpha, trace, force)
    workload = scenario(context, mtp_draft, mtp_accept, weights, kv_dtype, attention_dtype)
    result = simulate_afd(
        load_model(model),
        attention_hw,
        ffn_hw,
        workload,
        attention_gpus,
        ffn_gpus,
        micro_batches,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=ms_to_s(tpot_slo_ms),
        options=deploy_options(
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
    print_sim(result, fmt, trace)
