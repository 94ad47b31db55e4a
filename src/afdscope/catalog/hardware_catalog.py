"""Hardware catalog: YAML files in human units (TFLOPS, GB, TB/s, GB/s) → immutable `Hardware` in SI.

Each file holds datasheet peaks plus sustained fractions, and optionally the paper's Table 5 values. Two
value sets come out of one file: "datasheet" (peaks × sustained fractions) and "paper" (peaks overridden by
the `paper:` block, all fractions 1, so `effective_*` returns Table 5 exactly).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt, ValidationError

from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware, Sustained, ValueSet
from afdscope.units import GB, GB_S, TB_S, TFLOPS

PAPER_HARDWARE: tuple[str, ...] = ("h20", "h100", "h200", "h800", "b200", "b300", "gb200", "gb300")

# strict: a quoted "989" in YAML is a mistake, not a number to coerce.
_STRICT = ConfigDict(extra="forbid", strict=True)


class _Datasheet(BaseModel):
    model_config = _STRICT

    bf16_dense_tflops: PositiveFloat
    fp8_dense_tflops: PositiveFloat | None = None
    fp4_dense_tflops: PositiveFloat | None = None
    hbm_capacity_gb: PositiveFloat
    hbm_bandwidth_tb_s: PositiveFloat
    scale_up_bandwidth_gb_s: PositiveFloat
    scale_up_domain_gpus: PositiveInt
    scale_out_bandwidth_gb_s: PositiveFloat


class _Paper(BaseModel):
    """Table 5 values; a missing one keeps the datasheet peak (GB200/GB300 have no paper scale-out)."""

    model_config = _STRICT

    fp8_dense_tflops: PositiveFloat | None = None
    hbm_bandwidth_tb_s: PositiveFloat | None = None
    hbm_capacity_gb: PositiveFloat | None = None
    scale_up_bandwidth_gb_s: PositiveFloat | None = None
    scale_out_bandwidth_gb_s: PositiveFloat | None = None


class _HardwareFile(BaseModel):
    model_config = _STRICT

    name: str
    display_name: str
    gpus_per_node: PositiveInt = 8
    datasheet: _Datasheet
    sustained: Sustained = Sustained()
    paper: _Paper | None = None
    price_usd_per_gpu_hour: PositiveFloat | None = None
    sources: list[str] = []
    notes: list[str] = []


def _catalog_dir():
    return resources.files("afdscope.catalog") / "hardware"


def list_hardware() -> list[str]:
    """Short names of the packaged devices, sorted."""
    return sorted(p.name.removesuffix(".yaml") for p in _catalog_dir().iterdir() if p.name.endswith(".yaml"))


def load_hardware(name_or_path: str, value_set: ValueSet = "datasheet") -> Hardware:
    """A packaged device by short name (case-insensitive), or a user YAML file with the same schema."""
    if value_set not in ("datasheet", "paper"):
        raise AfdscopeError(f"unknown value set '{value_set}'; use 'datasheet' or 'paper'")
    key = name_or_path.strip().lower()
    if key in list_hardware():
        return _load_packaged(key, value_set)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return _build(_parse(lambda: path.read_text(encoding="utf-8"), str(path)), str(path), value_set)
    raise AfdscopeError(
        f"unknown hardware '{name_or_path}'; known: {', '.join(list_hardware())}; "
        "or pass a path to a YAML file"
    )


@functools.cache
def _load_packaged(name: str, value_set: ValueSet) -> Hardware:
    # Hardware is frozen, so sharing one instance between callers is safe.
    resource = _catalog_dir() / f"{name}.yaml"
    label = f"catalog/hardware/{name}.yaml"
    hw = _build(_parse(lambda: resource.read_text(encoding="utf-8"), label), label, value_set)
    if hw.name != name:
        raise AfdscopeError(f"{label}: field 'name' = {hw.name!r}: must match the file name ({name!r})")
    return hw


def _parse(read, label: str) -> _HardwareFile:
    try:
        text = read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise AfdscopeError(f"{label}: cannot read hardware file ({reason}); check the path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise AfdscopeError(f"{label}: malformed YAML{where}: {problem}; fix the syntax") from None
    if not isinstance(data, dict):
        raise AfdscopeError(f"{label}: expected a mapping with keys name, display_name, datasheet, ...")
    try:
        return _HardwareFile.model_validate(data)
    except ValidationError as exc:
        raise AfdscopeError(validation_message(exc, label, _HardwareFile)) from None


def validation_message(exc: ValidationError, label: str, model: type[BaseModel]) -> str:
    """The first pydantic error as one line: `<file>: field 'a.b' = -1: must be > 0`."""
    # A misspelt key also shows up as a missing one; the unknown key is the cause, so report it first.
    err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    loc = ".".join(str(p) for p in err["loc"])
    ctx = err.get("ctx", {})
    kind = err["type"]
    if kind == "missing":
        return f"{label}: field '{loc}' is missing; add it"
    if kind == "extra_forbidden":
        allowed = ", ".join(_fields_at(model, err["loc"][:-1]))
        return f"{label}: unknown key '{loc}'; allowed here: {allowed}"
    fixes = {
        "greater_than": lambda: f"must be > {ctx['gt']:g}",
        "greater_than_equal": lambda: f"must be >= {ctx['ge']:g}",
        "less_than": lambda: f"must be < {ctx['lt']:g}",
        "less_than_equal": lambda: f"must be <= {ctx['le']:g}",
    }
    fix = fixes[kind]() if kind in fixes else err["msg"][0].lower() + err["msg"][1:]
    return f"{label}: field '{loc}' = {err['input']!r}: {fix}"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model that `loc` points into, for the 'allowed keys' hint."""
    for part in loc:
        annotation = model.model_fields[part].annotation
        nested = [a for a in (annotation, *getattr(annotation, "__args__", ())) if isinstance(a, type)]
        model = next(a for a in nested if issubclass(a, BaseModel))
    return list(model.model_fields)


def _build(f: _HardwareFile, label: str, value_set: ValueSet) -> Hardware:
    ds = f.datasheet
    values: dict[str, Any] = {
        "fp8_dense_tflops": ds.fp8_dense_tflops,
        "hbm_bandwidth_tb_s": ds.hbm_bandwidth_tb_s,
        "hbm_capacity_gb": ds.hbm_capacity_gb,
        "scale_up_bandwidth_gb_s": ds.scale_up_bandwidth_gb_s,
        "scale_out_bandwidth_gb_s": ds.scale_out_bandwidth_gb_s,
    }
    sustained = f.sustained
    if value_set == "paper":
        if f.paper is None:
            raise AfdscopeError(
                f"{label}: hardware '{f.name}' has no paper values (no 'paper:' block); "
                "use the datasheet value set (--hardware-set datasheet), or one of: "
                + ", ".join(PAPER_HARDWARE)
            )
        values |= f.paper.model_dump(exclude_none=True)
        # Table 5 values are already sustained: fractions of 1 make effective_* return them unchanged.
        sustained = Sustained(compute=1.0, hbm=1.0, scale_up=1.0, scale_out=1.0)
    fp8 = values["fp8_dense_tflops"]
    try:
        return Hardware(
            name=f.name,
            display_name=f.display_name,
            value_set=value_set,
            bf16_flops=ds.bf16_dense_tflops * TFLOPS,
            fp8_flops=None if fp8 is None else fp8 * TFLOPS,
            fp4_flops=None if ds.fp4_dense_tflops is None else ds.fp4_dense_tflops * TFLOPS,
            hbm_capacity=values["hbm_capacity_gb"] * GB,
            hbm_bandwidth=values["hbm_bandwidth_tb_s"] * TB_S,
            scale_up_bandwidth=values["scale_up_bandwidth_gb_s"] * GB_S,
            scale_up_domain=ds.scale_up_domain_gpus,
            scale_out_bandwidth=values["scale_out_bandwidth_gb_s"] * GB_S,
            gpus_per_node=f.gpus_per_node,
            sustained=sustained,
            price_usd_per_gpu_hour=f.price_usd_per_gpu_hour,
            sources=tuple(f.sources),
            notes=tuple(f.notes),
        )
    except ValidationError as exc:  # e.g. an empty name; the file fields are already checked
        raise AfdscopeError(validation_message(exc, label, Hardware)) from None
