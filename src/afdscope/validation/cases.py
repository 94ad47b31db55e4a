"""The validation set as typed cases: published decode operating points and per-layer kernel times.

Each CSV row becomes one frozen pydantic object; a bad row raises one `AfdscopeError` naming the file,
the line, the column and what is wrong. Lines starting with `#` are comments (origin and source lines).
"""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from afdscope.errors import AfdscopeError

DEPLOYMENTS_FILE = "public-deployments.csv"
LAYER_TIMES_FILE = "published-layer-times.csv"

# Formats the sources state. `int8` (W8A8 INT8 on Ascend) has no Precision of its own; the evaluator
# maps it (afdscope.validation.evaluate) and records the approximation in the row.
StatedDtype = Literal["fp4", "fp8", "bf16", "int8"]


class Case(BaseModel):
    """One published decode operating point with every input its source states (SI units where a unit
    is implied: TPOT in ms and bandwidth in GB/s are kept as the CSV states them, converted on use)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    deployment: str
    mode: Literal["ep", "afd"]
    model: str = Field(min_length=1)
    hardware: str = Field(min_length=1)
    network_gb_s_per_gpu: PositiveFloat | None = None  # scale-out per GPU where it differs from the catalog
    gpus: PositiveInt | None = None  # EP
    attention_gpus: PositiveInt | None = None  # AFD
    ffn_gpus: PositiveInt | None = None  # AFD
    micro_batches: PositiveInt | None = None  # AFD pipeline depth
    overlap: Literal["2bo", "sbo", "nbo"] | None = None  # EP
    batch_per_gpu: PositiveInt | None = None  # None: the memory cap ("KV cache roughly full")
    context_tokens: PositiveInt
    weights: StatedDtype
    expert_weights: StatedDtype
    kv_dtype: StatedDtype
    attention_dtype: StatedDtype
    mtp_draft: int = Field(0, ge=0, le=8)
    mtp_accept: float = Field(0.0, ge=0, le=1)
    redundant_experts: int | None = Field(None, ge=0)  # empty: not stated (the usual EPLB slots)
    expert_tp: PositiveInt = 1
    shared_experts_on: Literal["attention", "ffn"] | None = None
    published_tpot_ms: PositiveFloat | None = None
    published_tokens_per_s_per_gpu: PositiveFloat
    case_class: Literal["a", "b"] = Field(alias="class")
    source: str = Field(min_length=1)
    caveats: str = ""
    # How the source routed tokens: "balanced" where it says so, else afdscope's modelled default skew.
    routing: Literal["balanced", "modelled"] = "modelled"

    @model_validator(mode="after")
    def _layout(self) -> Case:
        if self.mode == "ep":
            if self.gpus is None or self.overlap is None:
                raise ValueError("an ep case needs 'gpus' and 'overlap' (2bo, sbo or nbo)")
        elif self.attention_gpus is None or self.ffn_gpus is None or self.micro_batches is None:
            raise ValueError("an afd case needs 'attention_gpus', 'ffn_gpus' and 'micro_batches'")
        return self


class LayerTime(BaseModel):
    """One published per-layer kernel time (µs per MoE layer, all micro-batches of that layer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    component: Literal[
        "overall",
        "attention_core",
        "gemm_other",
        "routed_experts",
        "dispatch",
        "combine",
        "other_kernels",
        "launch",
    ]
    us_per_layer: PositiveFloat
    source: str = Field(min_length=1)
    note: str = ""


def _rows(text: str, label: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; `#` lines are skipped, empty cells become absent."""
    numbered = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise AfdscopeError(f"{label}: no header line; the file needs a CSV header and rows")
    reader = csv.reader(io.StringIO("\n".join(line for _, line in numbered)))
    records = list(reader)
    header = [h.strip() for h in records[0]]
    out = []
    # csv.reader keeps one record per line here: no cell in these files spans lines.
    for (line_no, _), cells in zip(numbered[1:], records[1:], strict=False):
        if len(cells) != len(header):
            raise AfdscopeError(
                f"{label} line {line_no}: {len(cells)} cells for {len(header)} columns; "
                "quote cells that contain commas"
            )
        out.append((line_no, {h: c.strip() for h, c in zip(header, cells, strict=True) if c.strip() != ""}))
    return out


def parse_rows(text: str, label: str, kind: type[BaseModel]) -> list:
    """One `kind` per data row of a CSV text (unique by id, or by (id, component) for layer times); a bad
    row raises `AfdscopeError` naming the file, line, column and value."""
    items, seen = [], set()
    for line_no, row in _rows(text, label):
        try:
            item = kind.model_validate(row)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "row"
            value = row.get(str(err["loc"][0])) if err["loc"] else None
            shown = f" = {value!r}" if value is not None else ""
            raise AfdscopeError(
                f"{label} line {line_no}: column '{where}'{shown}: {err['msg']}; fix the row"
            ) from None
        key = (item.id, item.component) if kind is LayerTime else item.id
        if key in seen:
            raise AfdscopeError(f"{label} line {line_no}: duplicate {key!r}; each row must be unique")
        seen.add(key)
        items.append(item)
    return items


def _read(path: str | Path | None, default: str) -> tuple[str, str]:
    if path is None:
        return files("afdscope.validation").joinpath("data", default).read_text(encoding="utf-8"), default
    try:
        return Path(path).read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise AfdscopeError(f"cannot read '{path}': {exc.strerror}; give a readable CSV file") from None


def load_cases(path: str | Path | None = None) -> list[Case]:
    """The shipped published deployments (or those in `path`), one `Case` per row."""
    text, label = _read(path, DEPLOYMENTS_FILE)
    return parse_cases(text, label)


def parse_cases(text: str, label: str = "<cases>") -> list[Case]:
    return parse_rows(text, label, Case)


def load_layer_times(path: str | Path | None = None) -> list[LayerTime]:
    """The shipped published per-layer kernel times (or those in `path`)."""
    text, label = _read(path, LAYER_TIMES_FILE)
    return parse_rows(text, label, LayerTime)
