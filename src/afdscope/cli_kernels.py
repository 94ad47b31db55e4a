"""`afdscope calibration [fit]` and `afdscope op experts|attention`: the kernel models on their own.

`register(app)` adds both groups. Heavy imports happen inside the commands so `afdscope --help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from afdscope.errors import AfdscopeError


class _Fmt(StrEnum):
    table = "table"
    json = "json"


calibration_app = typer.Typer(
    help="Kernel-model errors against the measured tables; refit the profiles.\n\n"
    "Example: afdscope calibration --format table"
)
op_app = typer.Typer(
    help="One operator on one GPU (for checking against kernel benchmarks).\n\n"
    "Example: afdscope op experts --model deepseek-v3 --hardware h800 --experts 8 --tokens-per-expert 64"
)


@calibration_app.callback(invoke_without_command=True)
def calibration_cmd(
    ctx: typer.Context,
    fmt: Annotated[_Fmt, typer.Option("--format", "-f", help="Output format.")] = _Fmt.table,
) -> None:
    """Held-out error per (operator, hardware, source) of the shipped profiles.

    Example: afdscope calibration --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    from afdscope.calibration.fit import error_table
    from afdscope.report.output import print_rows

    rows = [r.as_dict() for r in error_table()]
    print_rows(
        rows, fmt.value, "Kernel models vs measured tables (held-out shapes; |predicted/measured − 1|)"
    )


@calibration_app.command("fit")
def fit_cmd() -> None:
    """Refit every profile from the CSVs and rewrite calibration/profiles/<family>.yaml.

    Example: afdscope calibration fit
    """
    from afdscope.calibration.fit import fit_all

    for family, results in fit_all(write=True).items():
        for (kernel, fmt), (_, stats, _) in results.items():
            h = stats["held_out"]
            print(f"{family} {kernel} {fmt}: held-out n={h.get('n', 0)} median {h.get('median_abs_error')}")


def _common(model: str, hardware: str):
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model

    return load_model(model), load_hardware(hardware)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise AfdscopeError(f"--{name} {value:g}: give a positive number")


@op_app.command("experts")
def op_experts(
    model: Annotated[str, typer.Option("--model", help="Catalog model or config path.")],
    hardware: Annotated[str, typer.Option("--hardware", help="Catalog GPU or YAML path.")],
    experts: Annotated[int, typer.Option("--experts", help="Routed experts on the GPU.")],
    tokens_per_expert: Annotated[float, typer.Option("--tokens-per-expert", help="Rows per expert.")],
    weights: Annotated[
        str, typer.Option("--weights", help="Expert weight format: fp8|bf16|fp4|int8.")
    ] = "fp8",
) -> None:
    """One MoE layer's routed experts (every local expert hit by the same rows).

    Example: afdscope op experts --model deepseek-v3 --hardware h20 --experts 16 --tokens-per-expert 32
    """
    import json

    from afdscope.ops.experts import GemmCalibration, expert_layer_parts
    from afdscope.specs.scenario import Precision

    _positive("experts", experts)
    _positive("tokens-per-expert", tokens_per_expert)
    if weights not in ("fp8", "bf16", "fp4", "int8"):
        raise AfdscopeError(f"--weights {weights!r}: use fp8, bf16, fp4 or int8")
    m, hw = _common(model, hardware)
    p = expert_layer_parts(
        hw,
        experts * tokens_per_expert,
        experts,
        m.hidden_size,
        m.moe_intermediate_size,
        Precision(weights=weights),
        GemmCalibration(count_distinct_experts=False),
    )
    print(
        json.dumps(
            {
                "time_us": float(p.time_s) * 1e6,
                "gemm_us": {"gate_up": float(p.gate_up_s) * 1e6, "down": float(p.down_s) * 1e6},
                "activation_us": float(p.activation_s) * 1e6,
                "bound": str(p.bound),
                "profile": p.profile.as_dict(),
            },
            indent=2,
        )
    )


@op_app.command("attention")
def op_attention(
    model: Annotated[str, typer.Option("--model", help="Catalog model or config path.")],
    hardware: Annotated[str, typer.Option("--hardware", help="Catalog GPU or YAML path.")],
    batch: Annotated[int, typer.Option("--batch", help="Requests on the GPU.")],
    context: Annotated[int, typer.Option("--context", help="KV tokens per request.")],
    kv_dtype: Annotated[str, typer.Option("--kv-dtype", help="bf16|fp8.")] = "bf16",
    attention_dtype: Annotated[str, typer.Option("--attention-dtype", help="bf16|fp8.")] = "bf16",
    weights: Annotated[str, typer.Option("--weights", help="Projection format.")] = "fp8",
    mtp_draft: Annotated[int, typer.Option("--mtp-draft", help="MTP draft tokens (query rows 1 + n).")] = 0,
) -> None:
    """The mean attention layer on one GPU (data parallel).

    Example: afdscope op attention --model deepseek-v3 --hardware h200 --batch 64 --context 4096
    """
    import json

    from afdscope.ops.attention import attention_layer_parts
    from afdscope.specs.scenario import Precision

    _positive("batch", batch)
    _positive("context", context)
    if mtp_draft < 0:
        raise AfdscopeError(f"--mtp-draft {mtp_draft}: give 0 or more draft tokens")
    for flag, v, allowed in (
        ("kv-dtype", kv_dtype, ("bf16", "fp8")),
        ("attention-dtype", attention_dtype, ("bf16", "fp8")),
        ("weights", weights, ("fp8", "bf16", "fp4", "int8")),
    ):
        if v not in allowed:
            raise AfdscopeError(f"--{flag} {v!r}: use one of {', '.join(allowed)}")
    m, hw = _common(model, hardware)
    p = attention_layer_parts(
        m,
        hw,
        batch,
        context,
        Precision(weights=weights, kv=kv_dtype, attention=attention_dtype),
        query_positions=1 + mtp_draft,
    )
    core, proj = float(p.core_s), float(p.projection_s)
    print(
        json.dumps(
            {
                "time_us": float(p.total_s) * 1e6,
                "core_us": core * 1e6,
                "projections_us": proj * 1e6,
                "small_ops_us": float(p.small_ops_s) * 1e6,
                "overhead_us": float(p.overhead_s) * 1e6,
                "bound": "memory" if float(p.kv_read_s) >= float(p.core_math_s) else "compute",
                "profile": p.profile.as_dict(),
            },
            indent=2,
        )
    )


def _comm_op(which: str, model, hardware, gpus, tokens_per_gpu, dispatch_dtype, combine_dtype) -> None:
    import json
    from dataclasses import replace

    from afdscope.ops.comm import DEFAULT_COMM, ep_comm
    from afdscope.specs.scenario import Precision

    _positive("gpus", gpus)
    _positive("tokens-per-gpu", tokens_per_gpu)
    for flag, v, allowed in (
        ("dispatch-dtype", dispatch_dtype, ("fp8", "fp4", "int8", "bf16")),
        ("combine-dtype", combine_dtype, ("bf16", "fp8", "int8")),
    ):
        if v not in allowed:
            raise AfdscopeError(f"--{flag} {v!r}: use one of {', '.join(allowed)}")
    m, hw = _common(model, hardware)
    prec = Precision(dispatch=dispatch_dtype, combine=combine_dtype)
    cal = replace(DEFAULT_COMM, formats_from_precision=True)
    c = ep_comm(m, hw, tokens_per_gpu, gpus, cal, precision=prec)
    scale = 1.0
    if which == "combine":
        scale = float(cal.combine_bytes(m.hidden_size, prec)) / float(cal.dispatch_bytes(m.hidden_size, prec))
    t = c.dispatch_s if which == "dispatch" else c.combine_s
    print(
        json.dumps(
            {
                "time_us": float(t) * 1e6,
                "nvlink_bytes": float(c.dispatch_scale_up_bytes) * scale,
                "rdma_bytes": float(c.dispatch_scale_out_bytes) * scale,
                "profile": {"profile": "ops.comm.DEFAULT_COMM", "status": "preset"},
            },
            indent=2,
        )
    )


_GPUS = typer.Option("--gpus", help="GPUs in the expert-parallel group.")
_TOKENS = typer.Option("--tokens-per-gpu", help="Tokens each GPU sends.")
_DISPATCH = typer.Option("--dispatch-dtype", help="fp8|fp4|int8|bf16.")
_COMBINE = typer.Option("--combine-dtype", help="bf16|fp8|int8.")


@op_app.command("dispatch")
def op_dispatch(
    model: Annotated[str, typer.Option("--model", help="Catalog model or config path.")],
    hardware: Annotated[str, typer.Option("--hardware", help="Catalog GPU or YAML path.")],
    gpus: Annotated[int, _GPUS],
    tokens_per_gpu: Annotated[float, _TOKENS],
    dispatch_dtype: Annotated[str, _DISPATCH] = "fp8",
    combine_dtype: Annotated[str, _COMBINE] = "bf16",
) -> None:
    """One EP dispatch (all-to-all of the tokens to their experts), DeepEP-style.

    Example: afdscope op dispatch --model deepseek-v3 --hardware h800 --gpus 32 --tokens-per-gpu 128
    """
    _comm_op("dispatch", model, hardware, gpus, tokens_per_gpu, dispatch_dtype, combine_dtype)


@op_app.command("combine")
def op_combine(
    model: Annotated[str, typer.Option("--model", help="Catalog model or config path.")],
    hardware: Annotated[str, typer.Option("--hardware", help="Catalog GPU or YAML path.")],
    gpus: Annotated[int, _GPUS],
    tokens_per_gpu: Annotated[float, _TOKENS],
    dispatch_dtype: Annotated[str, _DISPATCH] = "fp8",
    combine_dtype: Annotated[str, _COMBINE] = "bf16",
) -> None:
    """One EP combine (expert outputs back to their tokens), DeepEP-style.

    Example: afdscope op combine --model deepseek-v3 --hardware h800 --gpus 32 --tokens-per-gpu 128
    """
    _comm_op("combine", model, hardware, gpus, tokens_per_gpu, dispatch_dtype, combine_dtype)


def register(app: typer.Typer) -> None:
    """Add `afdscope calibration` and `afdscope op` to the command app."""
    app.add_typer(calibration_app, name="calibration")
    app.add_typer(op_app, name="op")
