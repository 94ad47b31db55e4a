"""`afdscope models`, `afdscope model show`, `afdscope hardware [show]`: the catalogs."""

from __future__ import annotations

from typing import Annotated

import typer

from afdscope.cli.common import print_fields
from afdscope.cli.options import Fmt, FormatOpt, SetOpt, ValueSetOpt

model_app = typer.Typer(
    help="One model's spec.\n\nExample: afdscope model show deepseek-v3", no_args_is_help=True
)
hardware_app = typer.Typer(
    help="List the hardware catalog, or show one device.\n\nExample: afdscope hardware --hardware-set paper",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.command("models")(models_cmd)
    app.add_typer(model_app, name="model")
    app.add_typer(hardware_app, name="hardware")


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
    from afdscope.report.output import to_json

    detail = model_detail(load_model(name))
    if fmt is Fmt.json:
        print(to_json(detail))
    else:
        print_fields(detail, fmt.value, name)


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
    from afdscope.report.output import to_json

    detail = hardware_detail(load_hardware(name, value_set.value))
    if fmt is Fmt.json:
        print(to_json(detail))
    else:
        print_fields(detail, fmt.value, name)
