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

from afdscope.catalog.names import unknown_name_hint
from afdscope.errors import AfdscopeError
from afdscope.specs.hardware import Hardware, Sustained, ValueSet
from afdscope.units import GB, GB_S, TB_S, TFLOPS

PAPER_HARDWARE: tuple[str, ...] = ("h20", "h100", "h200", "h800", "b200", "b300", "gb200", "gb300")

_MIB = 2**20  # bytes in the MiB nvidia-smi prints

# strict: a quoted "989" in YAML is a mistake, not a number to coerce.
_STRICT = ConfigDict(extra="forbid", strict=True)


class _Datasheet(BaseModel):
    model_config = _STRICT

    bf16_dense_tflops: PositiveFloat
    fp8_dense_tflops: PositiveFloat | None = None
    fp4_dense_tflops: PositiveFloat | None = None
    int8_dense_tops: PositiveFloat | None = None  # INT8 tensor-core TOPS, dense
    hbm_capacity_gb: PositiveFloat
    # What the device reports (nvidia-smi "MiB" total, rocm-smi bytes / 2**20); when given it sets the
    # datasheet value set's capacity, else hbm_capacity_gb × 1e9 does. The paper value set keeps GB.
    hbm_capacity_mib: PositiveFloat | None = None
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
    calibration_profile: str | None = None  # calibration/profiles/<family>.yaml


def _catalog_dir():
    return resources.files("afdscope.catalog") / "hardware"


def list_hardware() -> list[str]:
    """Short names of the packaged devices, sorted."""
    return sorted(p.name.removesuffix(".yaml") for p in _catalog_dir().iterdir() if p.name.endswith(".yaml"))


def load_hardware(name_or_path: str | Path | Hardware, value_set: ValueSet = "datasheet") -> Hardware:
    """A `Hardware` from a packaged device's short name, a user YAML file, or a spec.

    * a short name ('h800'), case-insensitive: `list_hardware()` lists them;
    * a path to a YAML file with the catalog's schema (docs/adding-hardware.md). If its `name:` is a
      packaged device's ('name: h800'), the device is labelled by its path instead (`name` = the path as
      given, `display_name` gets the path in brackets), so a user's H800 never passes for the catalog's:
      price it with `--price <path>=USD` and read it as that path in every table;
    * a `Hardware`, returned as it is when its value set is `value_set` (names and specs alike).

    A short name wins over a file of that name in the working directory; write `./h800` for the file.
    An unknown name raises `AfdscopeError` naming the nearest short names ("did you mean h800?"), or all
    of them when none is close.
    """
    if value_set not in ("datasheet", "paper"):
        raise AfdscopeError(f"unknown value set '{value_set}'; use 'datasheet' or 'paper'")
    if isinstance(name_or_path, Hardware):
        if name_or_path.value_set != value_set:
            raise AfdscopeError(
                f"hardware '{name_or_path.name}' holds {name_or_path.value_set} values, not {value_set}; "
                f"load it by name with value_set='{value_set}'"
            )
        return name_or_path
    if not isinstance(name_or_path, str | Path):
        raise AfdscopeError(
            f"hardware = {name_or_path!r} ({type(name_or_path).__name__}): pass a short name such as "
            "'h800', a path to a YAML file, or a Hardware"
        )
    name_or_path = str(name_or_path)
    key = name_or_path.strip().lower()
    if key in list_hardware():
        return _load_packaged(key, value_set)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        label = str(path)
        hw = _build(_parse(lambda: path.read_text(encoding="utf-8"), label), label, value_set)
        if hw.name.strip().lower() in list_hardware():  # 'name: h800' in a user's file: label it by its path
            hw = hw.model_copy(update={"name": label, "display_name": f"{hw.display_name} ({label})"})
        return hw
    raise AfdscopeError(
        f"unknown hardware '{name_or_path}'; {unknown_name_hint(name_or_path, list_hardware())} "
        "(a path to a YAML file works too)"
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
            int8_flops=None if ds.int8_dense_tops is None else ds.int8_dense_tops * TFLOPS,
            hbm_capacity=(
                ds.hbm_capacity_mib * _MIB
                if value_set == "datasheet" and ds.hbm_capacity_mib is not None
                else values["hbm_capacity_gb"] * GB
            ),
            hbm_bandwidth=values["hbm_bandwidth_tb_s"] * TB_S,
            scale_up_bandwidth=values["scale_up_bandwidth_gb_s"] * GB_S,
            scale_up_domain=ds.scale_up_domain_gpus,
            scale_out_bandwidth=values["scale_out_bandwidth_gb_s"] * GB_S,
            gpus_per_node=f.gpus_per_node,
            sustained=sustained,
            price_usd_per_gpu_hour=f.price_usd_per_gpu_hour,
            sources=tuple(f.sources),
            notes=tuple(f.notes),
            calibration_profile=f.calibration_profile,
        )
    except ValidationError as exc:  # e.g. an empty name; the file fields are already checked
        raise AfdscopeError(validation_message(exc, label, Hardware)) from None
