"""`afdscope search`: the best EP and AFD deployments under a latency constraint, and a verdict."""

from __future__ import annotations

from typing import Annotated

import typer

from afdscope.cli.common import (
    calibration_and_skew_of,
    check_context,
    check_formats,
    check_plot,
    finite,
    info,
    ms_to_s,
    progress_after_one_second,
    split,
    stop_progress,
    workload_of,
)
from afdscope.cli.options import (
    AcceptOpt,
    AttnCandidatesOpt,
    AttnDtypeOpt,
    BalancedOpt,
    CalibrationName,
    CalibrationOpt,
    CandidatesOpt,
    CombineDtypeOpt,
    CombineOpt,
    CommLoadOpt,
    ContextOpt,
    DeployPresetOpt,
    DispatchDtypeOpt,
    DispatchOpt,
    DraftOpt,
    ExpertLoadOpt,
    ExpertWOpt,
    FfnCandidatesOpt,
    Fmt,
    ForceOpt,
    FormatOpt,
    KvDtypeOpt,
    KvOpt,
    ModelOpt,
    PlotOpt,
    PriceOpt,
    RedundantOpt,
    SetOpt,
    TpotOpt,
    ValueSetOpt,
    WeightsOpt,
    WOpt,
)
from afdscope.errors import AfdscopeError


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)


def _print_search(result, fmt: Fmt) -> None:
    from afdscope.report.output import print_rows, to_json
    from afdscope.report.search_rows import best_rows, pareto_rows, verdict_line

    if fmt is Fmt.json:
        print(to_json(result.as_dict()))
    elif fmt is Fmt.csv:
        print_rows(pareto_rows(result), "csv")
    else:
        print_rows(best_rows(result), "table", f"{result.inputs['model']}: best configurations")
        print(verdict_line(result))
        info(f"{result.evaluated:,} configurations in {result.seconds:.2f} s")


def search_cmd(
    model: ModelOpt,
    context: ContextOpt,
    hardware: CandidatesOpt = None,
    attention_hardware: AttnCandidatesOpt = None,
    ffn_hardware: FfnCandidatesOpt = None,
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
    expert_weights: ExpertWOpt = None,
    dispatch_dtype: DispatchDtypeOpt = DispatchOpt.fp8,
    combine_dtype: CombineDtypeOpt = CombineOpt.bf16,
    kv_dtype: KvDtypeOpt = KvOpt.bf16,
    attention_dtype: AttnDtypeOpt = KvOpt.bf16,
    price: PriceOpt = None,
    calibration: CalibrationOpt = CalibrationName.default,
    balanced: BalancedOpt = False,
    preset: DeployPresetOpt = None,
    expert_load_factor: ExpertLoadOpt = None,
    comm_load_factor: CommLoadOpt = None,
    redundant_experts: RedundantOpt = None,
    value_set: SetOpt = ValueSetOpt.datasheet,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """Best EP and AFD deployments under a latency constraint, their Pareto fronts, and a verdict.

    Example: afdscope search --model deepseek-v3 --hardware h800 --context 4096 --tpot-slo-ms 50
    """
    flags = locals()
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.step import check_slo
    from afdscope.search import Constraint, SearchSpace, search

    check_plot(plot, force)
    finite("--tpot-slo-ms", tpot_slo_ms)
    finite("--min-tokens-per-s-per-user", min_tokens_per_s_per_user)
    if (tpot_slo_ms is None) == (min_tokens_per_s_per_user is None):
        raise AfdscopeError("give exactly one of --tpot-slo-ms or --min-tokens-per-s-per-user")
    for flag, value in (
        ("--tpot-slo-ms", tpot_slo_ms),
        ("--min-tokens-per-s-per-user", min_tokens_per_s_per_user),
    ):
        if value is not None and value <= 0:
            raise AfdscopeError(f"{flag} {value:g}: give a positive number")
    from afdscope.catalog.prices import priced_candidates

    hws, attn, ffn = priced_candidates(
        split(hardware), split(attention_hardware), split(ffn_hardware), price, value_set.value
    )
    workload = workload_of(flags)
    check_formats(workload, *dict.fromkeys(hws + attn + ffn))
    constraint = Constraint(
        tpot_slo_s=ms_to_s(tpot_slo_ms), min_tokens_per_s_per_user=min_tokens_per_s_per_user
    )
    cal, skew = calibration_and_skew_of(flags)
    check_slo(constraint.tpot_limit_s, cal, workload.tokens_per_step)
    update, state = progress_after_one_second()
    m = load_model(model)
    check_context(m, context)
    space = SearchSpace(max_gpus=max_gpus, max_batch_per_gpu=max_batch, redundant_experts=redundant_experts)
    result = search(m, workload, constraint, hws, attn or None, ffn or None, space, cal, skew, update)
    stop_progress(state)
    if plot:
        from afdscope.report.figures import plot_pareto

        plot_pareto(result, plot)
    _print_search(result, fmt)
