"""`afdscope report`: one self-contained HTML page for a deployment decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from afdscope.cli.common import (
    calibration_name,
    finite,
    info,
    progress_after_one_second,
    split,
    stop_progress,
)
from afdscope.cli.options import (
    AttnCandidatesOpt,
    BalancedOpt,
    CalibrationName,
    CalibrationOpt,
    CandidatesOpt,
    ContextOpt,
    DeployPresetOpt,
    FfnCandidatesOpt,
    ForceOpt,
    MaxGpusOpt,
    ModelOpt,
    PriceOpt,
)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)


def report_cmd(
    model: ModelOpt,
    context: ContextOpt,
    tpot_slo_ms: Annotated[float, typer.Option("--tpot-slo-ms", help="TPOT SLO in ms.")],
    hardware: CandidatesOpt = None,
    attention_hardware: AttnCandidatesOpt = None,
    ffn_hardware: FfnCandidatesOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    max_gpus: MaxGpusOpt = 256,
    price: PriceOpt = None,
    calibration: CalibrationOpt = CalibrationName.default,
    preset: DeployPresetOpt = None,
    balanced: BalancedOpt = False,
    force: ForceOpt = False,
) -> None:
    """One self-contained HTML page: verdict, best configurations, Pareto fronts, TPOT budget,
    imbalance sensitivity, the paper's view and the where-AFD-pays map.

    Example: afdscope report --model deepseek-v3 --hardware h800 --context 4096 --tpot-slo-ms 50 -o r.html
    """
    from afdscope.catalog.prices import parse_prices
    from afdscope.report.deployment_report import write_report
    from afdscope.report.search_rows import verdict_line

    finite("--tpot-slo-ms", tpot_slo_ms)
    name = calibration_name(calibration, preset)
    update, state = progress_after_one_second()
    path, data = write_report(
        out,
        force,
        model=model,
        context=context,
        tpot_slo_ms=tpot_slo_ms,
        hardware=split(hardware) or [],
        attention_hardware=split(attention_hardware) or [],
        ffn_hardware=split(ffn_hardware) or [],
        max_gpus=max_gpus,
        prices=parse_prices(price),
        preset=name,
        progress=update,
        balanced=balanced,
    )
    stop_progress(state)
    print(verdict_line(data.search))
    info(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; computed in {data.seconds:.2f} s)")
