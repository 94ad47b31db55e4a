"""`afdscope paper …`: the analyses of arXiv 2602.09721 (Fig. 4, 5, 6, §5, and all tables and figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from afdscope.cli.common import check_plot, finite, paper_options, print_fields, split
from afdscope.cli.options import (
    AccOpt,
    DedupOptT,
    Fmt,
    ForceOpt,
    FormatOpt,
    FullDuplexOpt,
    GapOpt,
    HardwareOpt,
    MaxNodesOpt,
    ModelOpt,
    PlotOpt,
    PresetOpt,
    SetOpt,
    SloOpt,
    ValueSetOpt,
)

paper_app = typer.Typer(
    help="The analyses of arXiv 2602.09721, reproduced.\n\nExample: afdscope paper matrix --preset paper",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(paper_app, name="paper")


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

    check_plot(plot, force)
    options = paper_options(preset, slo_ms, accepted_tokens, step_gap_ms, full_duplex, dedup)
    cells = matrix_study(split(models), split(hardware), value_set.value, options, max_ffn_nodes)
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

    check_plot(plot, force)
    options = paper_options(preset, slo_ms, accepted_tokens, step_gap_ms, full_duplex, dedup)
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

    check_plot(plot, force)
    finite("--lambda-max", lambda_max)
    for value in [*(sigma or []), *(lam or [])]:
        finite("--sigma/--lambda", value)
    grid = imbalance_study(sigma, n_ffn, lam, lambda_max)
    if plot:
        from afdscope.report.figures import plot_imbalance

        plot_imbalance(grid, plot)
    print_rows(imbalance_rows(grid), fmt.value, "α: AFD (whole nodes) vs EP at equal λ")


@paper_app.command("eaas")
def paper_eaas(
    model: ModelOpt,
    hardware: HardwareOpt = "h800",
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
    from afdscope.report.output import to_json

    options = paper_options(preset, slo_ms, None, None, None, None)
    est = eaas_estimate(load_model(model), load_hardware(hardware, value_set.value), options, max_ffn_nodes)
    if fmt is Fmt.json:
        print(to_json(est.as_dict()))
    else:
        print_fields(est.as_dict(), fmt.value, "Expert-as-a-Service")


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

    options = paper_options(preset, slo_ms, None, None, None, None)
    summary = write_paper_outputs(out, options, force=force)
    print(summary.text)
