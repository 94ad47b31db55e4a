"""`afdscope map`: the AFD/EP throughput ratio over two hardware or model axes."""

from __future__ import annotations

from typing import Annotated

import typer

from afdscope.cli.common import (
    calibration_and_skew,
    check_context,
    check_plot,
    finite,
    progress_after_one_second,
    scenario,
    stop_progress,
)
from afdscope.cli.options import (
    BalancedOpt,
    CalibrationName,
    CalibrationOpt,
    DeployPresetOpt,
    Fmt,
    ForceOpt,
    FormatOpt,
    KvOpt,
    MaxGpusOpt,
    ModelOpt,
    PlotOpt,
    WeightsOpt,
)


def register(app: typer.Typer) -> None:
    app.command("map")(map_cmd)


def map_cmd(
    model: ModelOpt,
    x: Annotated[
        str, typer.Option("--x", help="X axis (one of the axes listed above).")
    ] = "scale-out-bandwidth",
    y: Annotated[str, typer.Option("--y", help="Y axis.")] = "scale-up-bandwidth",
    x_range: Annotated[
        str | None, typer.Option("--x-range", metavar="LOW:HIGH", help="The range in the axis' unit.")
    ] = None,
    y_range: Annotated[
        str | None, typer.Option("--y-range", metavar="LOW:HIGH", help="The range in the axis' unit.")
    ] = None,
    points: Annotated[int, typer.Option("--points", min=2, max=128, help="Grid points per axis.")] = 24,
    hardware: Annotated[str, typer.Option("--hardware", help="Base hardware the axes modify.")] = "h800",
    context: Annotated[int, typer.Option("--context", help="Mean KV length per request.")] = 4096,
    tpot_slo_ms: Annotated[float, typer.Option("--tpot-slo-ms", help="TPOT SLO.")] = 50.0,
    max_gpus: MaxGpusOpt = 256,
    calibration: CalibrationOpt = CalibrationName.default,
    balanced: BalancedOpt = False,
    preset: DeployPresetOpt = None,
    fmt: FormatOpt = Fmt.table,
    plot: PlotOpt = None,
    force: ForceOpt = False,
) -> None:
    """The AFD/EP throughput ratio over two axes: scale-out-bandwidth, scale-up-bandwidth,
    scale-up-domain, fp8-flops, hbm-bandwidth, expert-intermediate-size, experts-per-token,
    num-experts, context, tpot-slo.

    Example: afdscope map --model step3 --x scale-out-bandwidth --y expert-intermediate-size --plot map.png
    """
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.search.map import afd_ep_map, axis, paper_gpu_points, parse_range

    check_plot(plot, force)
    finite("--tpot-slo-ms", tpot_slo_ms)
    x_axis, y_axis = axis(x), axis(y)
    xr = parse_range("--x-range", x_range, x_axis.default_range)
    yr = parse_range("--y-range", y_range, y_axis.default_range)
    m, hw = load_model(model), load_hardware(hardware)
    check_context(m, context)
    workload = scenario(context, 0, 0.0, WeightsOpt.fp8, KvOpt.bf16, KvOpt.bf16)
    cal, skew = calibration_and_skew(calibration, preset, balanced)
    from afdscope.deploy.step import check_slo

    slo_s = tpot_slo_ms * 1e-3
    check_slo(slo_s, cal, 1.0)
    update, state = progress_after_one_second()
    x_values, y_values = x_axis.values(*xr, points), y_axis.values(*yr, points)
    result = afd_ep_map(
        m, hw, workload, slo_s, x_axis, y_axis, x_values, y_values, cal, max_gpus, update, skew
    )
    stop_progress(state)
    if plot:
        from afdscope.report.figures import plot_map

        plot_map(result, plot, paper_gpu_points(x_axis, y_axis, m, workload, slo_s))
    from afdscope.report.output import print_rows

    print_rows(result.rows(), fmt.value, "AFD / EP tokens/s per GPU")
