"""What a result counts, in words: the notes the eval table and the report print with every result.

`counting_notes(result)` gives (topic, sentence) pairs: the GPUs counted (decode only; prefill is not
sized), the tokens counted (output tokens), whole-node counting (GPUs a deployment leaves idle in the
nodes or scale-up domains it occupies), the routing skew assumed, the expected error, and the calibration
profile each GPU's kernels use (measured on that GPU or inherited from another). Nothing here evaluates a
deployment: every value comes from the `DeploymentResult`, its deployment and its calibration.
"""

from __future__ import annotations

import math

from afdscope.errors import AfdscopeError

DECODE_ONLY = (
    "decode GPUs only: prefill is not sized (a disaggregated prefill pool comes on top); tokens/s per GPU "
    "divides by every decode GPU of the deployment (attention and FFN alike)"
)
OUTPUT_TOKENS = "output (generated) tokens; prompt tokens are not counted in tokens/s or in $ per 1M"


def deployment_unit(hw) -> tuple[int, str]:
    """The whole unit a GPU of `hw` is bought or scheduled in: the scale-up domain on a Superpod (72 on an
    NVL72), else the node (`gpus_per_node`); and its name."""
    if hw.is_superpod:
        return int(hw.scale_up_domain), f"{hw.scale_up_domain}-GPU scale-up domain"
    return int(hw.gpus_per_node), f"{hw.gpus_per_node}-GPU node"


def idle_gpus(gpus: int, unit: int) -> int:
    """GPUs left over in the last whole unit: ⌈gpus / unit⌉ · unit − gpus."""
    return math.ceil(gpus / unit) * unit - gpus


def _gpus_by_hardware(result) -> list[tuple[object, int]]:
    """(hardware, GPUs of it) for the result's deployment; one entry per distinct device."""
    d = result.deployment
    if d is None:
        return []
    if d.mode == "ep":
        return [(d.hardware, d.total_gpus)]
    counts: dict[str, list] = {}
    for hw, n in (
        (d.attention_hardware, d.attention_gpus),
        (d.ffn_hardware, d.ffn_gpus + d.shared_expert_gpus),
    ):
        counts.setdefault(hw.name, [hw, 0])[1] += n
    return [(hw, n) for hw, n in counts.values()]


def whole_node_note(result) -> str:
    """How the deployment's GPUs fill whole nodes / scale-up domains, naming any left idle."""
    parts = []
    for hw, n in _gpus_by_hardware(result):
        unit, name = deployment_unit(hw)
        units = math.ceil(n / unit)
        idle = idle_gpus(n, unit)
        head = f"{n} × {hw.name} fill{'s' if n == 1 else ''} {units} × {name}"
        if idle:
            parts.append(
                f"{head}: {idle} GPU{'s' if idle > 1 else ''} left idle "
                f"(not counted in tokens/s per GPU or in the cost)"
            )
        else:
            parts.append(f"{head}: none idle")
    return "; ".join(parts) if parts else "GPU counts as given"


def expected_error_note(result) -> str:
    """The expected error band, e.g. "−27 % / +63 % (basis)"."""
    e = result.expected_error
    if not e:
        return "not stated"
    low, high = float(e["low"]), float(e["high"])
    band = f"±{high:.0%}" if math.isclose(-low, high, abs_tol=0.005) else f"{_signed(low)} / {_signed(high)}"
    return f"{band} (predicted / actual − 1; {e.get('basis', '')})"


def _signed(x: float) -> str:
    """A fraction as a signed percentage with a real minus sign: +63%, −27%, 0%."""
    pct = round(x * 100)
    return "0%" if pct == 0 else f"{'−' if pct < 0 else '+'}{abs(pct)}%"


def _kernel_format(result) -> str:
    """The routed experts' format as the result's configuration names it."""
    c = result.config
    return c.get("expert_weights") or c.get("weights") or "fp8"


def profile_note(hw, calibration, fmt: str) -> str:
    """Which kernel-efficiency profile `hw`'s routed-expert GEMMs use, e.g. "AMD Instinct MI300X: Hopper
    FP8 profile, not measured on this GPU (cdna3 inherits hopper)"."""
    from afdscope.calibration.profiles import family_of
    from afdscope.ops.experts import resolve_kernel

    gemm = getattr(calibration, "gemm", None)
    if gemm is None:
        return f"{hw.display_name}: calibration not recorded"
    try:
        _, use = resolve_kernel(hw, gemm, "grouped", hw.runnable_dtype(fmt))
    except AfdscopeError as exc:
        return f"{hw.display_name}: no profile entry ({exc})"
    if use.status == "preset":
        preset = getattr(calibration, "name", "given")
        return f"{hw.display_name}: the {preset} preset's kernel values (no profile)"
    family = use.profile.split("/", 1)[0]
    text = f"{hw.display_name}: {family.capitalize()} {fmt.upper()} profile ({use.profile}), "
    if use.status == "measured":
        return text + "measured on this GPU"
    own = family_of(hw)
    why = f"{own} inherits {family}" if own != family else "fitted on other GPUs of the family"
    return text + f"not measured on this GPU ({why})"


def counting_notes(result) -> list[tuple[str, str]]:
    """(topic, sentence) pairs saying what `result` counts and assumes (see the module docstring)."""
    notes = [
        ("GPUs counted", DECODE_ONLY),
        ("tokens counted", OUTPUT_TOKENS),
        ("whole nodes", whole_node_note(result)),
        ("routing skew assumed", result.routing_skew),
        ("expected error", expected_error_note(result)),
    ]
    hws = [hw for hw, _ in _gpus_by_hardware(result)]
    if hws:
        profiles = [profile_note(hw, result.calibration, _kernel_format(result)) for hw in hws]
        notes.append(("calibration profile", "; ".join(profiles)))
    return notes


# Throughput real routing costs against balanced routing in published deployments: SGLang large-scale EP
# blog 2025-05 (DeepSeek-V3 on 96 H100: 20 % slower than balanced, 5 % with simulated perfect EPLB) and
# xDeepServe arXiv 2508.02520 (EPLB cuts forward latency 40 % on CloudMatrix384); the rows of
# calibration/expert_load_skew.csv, summarised in spec beyond.md §F as "skew costs 5–40 % in practice".
PUBLISHED_SKEW_COST = (0.05, 0.40)


def published_share_range() -> tuple[float, float]:
    """The share of balanced throughput published deployments keep under real routing: (0.60, 0.95)."""
    low, high = PUBLISHED_SKEW_COST
    return 1.0 - high, 1.0 - low


LIMITATIONS = (
    "Decode only: prefill, its GPUs and its interference with decode are not modelled.",
    "Steady state at one context length: no request-length distribution, admission or queueing; the batch "
    "is the largest that meets the SLO.",
    "Kernel efficiencies come from calibration profiles fitted on a few GPUs; other GPUs inherit them "
    "(see 'calibration profile'), and the expected error is the spread of a handful of published "
    "deployments, not a guarantee.",
    "Routing skew is modelled from a power-law expert popularity, not measured on your traffic.",
    "Rental prices are list prices per GPU-hour; power, networking and idle GPUs of partly used nodes "
    "are not costed.",
)
