"""Kernel-efficiency profiles: one YAML file per GPU architecture family (calibration/profiles/<family>.yaml).

A profile holds, per kernel and compute format, the fractions of the datasheet peaks a kernel reaches and
its fixed costs, with the table it was fitted on and the fit's held-out error. Each hardware file names its
family (`calibration_profile`); a GPU listed in an entry's `measured_on` uses its own measurements, any other
GPU of the family inherits them. An entry `{same_as: <format>}` reuses another format's values (marked
inherited). `afdscope calibration fit` (afdscope.calibration.fit) rewrites the fitted numbers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from afdscope.errors import AfdscopeError

GEMM_KERNELS = ("grouped", "dense")


@dataclass(frozen=True)
class GemmKernel:
    """One GEMM kernel's efficiencies on one architecture and format.

    e_mem: fraction of peak HBM bandwidth while streaming weights and activations.
    e_mma: fraction of the format's dense peak FLOP/s in the main loop.
    tile_m: rows the kernel pads each group's (or the GEMM's) rows to (1 = no padding).
    t_min_s: fixed time of one kernel (launch gap, prologue, epilogue, wave tail), added once.
    k0: reduction length worth of per-output-tile overhead: MMA time × (1 + k0 / K).
    overlap_p: exponent of the soft maximum of memory and MMA time (inf = hard max).
    t_k_s: latency per element of the reduction dimension, added to the fixed time (t_min + t_k·K): a
    CTA walks K block by block, and at decode sizes a narrow GEMM has too few CTAs to hide it.
    """

    e_mem: float
    e_mma: float
    tile_m: int
    t_min_s: float
    k0: float = 0.0
    overlap_p: float = math.inf
    t_k_s: float = 0.0

    def __post_init__(self):
        for name in ("e_mem", "e_mma"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise AfdscopeError(f"{name} = {v!r}: must be in (0, 1]")
        if not (isinstance(self.tile_m, int) and self.tile_m >= 1):
            raise AfdscopeError(f"tile_m = {self.tile_m!r}: must be an integer >= 1")
        if not (self.t_min_s >= 0 and self.k0 >= 0 and self.t_k_s >= 0):
            raise AfdscopeError("t_min_s, k0 and t_k_s must be >= 0")
        if not self.overlap_p >= 1:
            raise AfdscopeError(f"overlap_p = {self.overlap_p!r}: must be >= 1 (inf = hard max)")


IDEAL_KERNEL = GemmKernel(e_mem=1.0, e_mma=1.0, tile_m=1, t_min_s=0.0)


@dataclass(frozen=True)
class ProfileUse:
    """Which profile entry a result used: e.g. 'hopper/gemm.grouped.fp8', measured or inherited."""

    profile: str
    status: str  # "measured" (this GPU is in the entry's tables), "inherited", or "preset"

    def as_dict(self) -> dict[str, str]:
        return {"profile": self.profile, "status": self.status}


PRESET_USE = ProfileUse("preset", "preset")


def _profiles_dir():
    return resources.files(__package__) / "profiles"


def list_profiles() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in _profiles_dir().iterdir() if p.name.endswith(".yaml"))


@functools.cache
def load_profile(family: str) -> dict[str, Any]:
    """The parsed YAML of one family's profile."""
    if family not in list_profiles():
        raise AfdscopeError(
            f"unknown calibration profile '{family}'; known: {', '.join(list_profiles())} "
            "(set calibration_profile in the hardware file)"
        )
    text = (_profiles_dir() / f"{family}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("family") != family:
        raise AfdscopeError(f"calibration/profiles/{family}.yaml: 'family' must be {family!r}")
    return data


def _entry(family: str, path: tuple[str, ...], fmt: str, hw_name: str) -> tuple[dict, ProfileUse]:
    """Entry `path`.`fmt` of `family` (following same_as and the family's `inherits`)."""
    seen = []
    fam, key, aliased = family, fmt, False
    while True:
        data = load_profile(fam)
        node: Any = data
        for p in path:
            node = (node or {}).get(p)
        entry = (node or {}).get(key)
        if entry is not None and "same_as" in entry:
            key, aliased = entry["same_as"], True
            if (fam, key) in seen:
                raise AfdscopeError(f"calibration/profiles/{fam}.yaml: same_as cycle at {key}")
            seen.append((fam, key))
            continue
        if entry is not None:
            label = f"{fam}/{'.'.join(path)}.{key}"
            measured = hw_name in entry.get("measured_on", ()) and fam == family and not aliased
            return entry, ProfileUse(label, "measured" if measured else "inherited")
        parent = data.get("inherits")
        if not parent:
            raise AfdscopeError(
                f"calibration profile '{family}' has no {'.'.join(path)} entry for format {fmt!r}; "
                f"add one to calibration/profiles/{family}.yaml"
            )
        fam, aliased = parent, True


@functools.cache
def gemm_kernel(family: str, kernel: str, fmt: str, hw_name: str = "") -> tuple[GemmKernel, ProfileUse]:
    """The GEMM kernel values of (family, kernel, format), and which entry they came from."""
    if kernel not in GEMM_KERNELS:
        raise AfdscopeError(f"unknown GEMM kernel {kernel!r}; use one of {', '.join(GEMM_KERNELS)}")
    e, use = _entry(family, ("gemm", kernel), fmt, hw_name)
    return (
        GemmKernel(
            e_mem=float(e["e_mem"]),
            e_mma=float(e["e_mma"]),
            tile_m=int(e["tile_m"]),
            t_min_s=float(e["t_min_us"]) * 1e-6,
            k0=float(e.get("k0", 0.0)),
            overlap_p=float(e.get("overlap_p", math.inf)),
            t_k_s=float(e.get("t_k_ns", 0.0)) * 1e-9,
        ),
        use,
    )


@functools.cache
def attention_entry(family: str, kv_fmt: str, hw_name: str = "") -> tuple[dict, ProfileUse]:
    """The attention values of (family, KV format): see ops.attention."""
    return _entry(family, ("attention",), kv_fmt, hw_name)


@functools.cache
def small_ops_entry(family: str, hw_name: str = "") -> tuple[dict, ProfileUse]:
    """Memory efficiency and per-kernel floor of the small elementwise kernels."""
    return _entry(family, (), "small_ops", hw_name)


@functools.cache
def comm_entry(family: str, tier: str = "ll_nvlink", hw_name: str = "") -> tuple[dict, ProfileUse]:
    """A communication kernel entry: `ll_nvlink` (DeepEP low-latency all-to-all that stays on NVLink):
    alpha_us and e_bw (fraction of the peak scale-up bandwidth the kernel moves)."""
    return _entry(family, ("comm",), tier, hw_name)


def family_of(hw) -> str:
    """The hardware's calibration profile (its `calibration_profile` field; 'hopper' when a user file
    leaves it out)."""
    return getattr(hw, "calibration_profile", None) or "hopper"
