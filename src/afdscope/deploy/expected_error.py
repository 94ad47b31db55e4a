"""The expected error of a prediction: the validation band of comparable published deployments (same GPU
family and mode), read from calibration/error_bands.csv (made by afdscope.validation.bands)."""

from __future__ import annotations

import functools

from afdscope.calibration import read_table

FALLBACK = {"low": -0.30, "high": 0.30, "basis": "no validation bands shipped: a stated ±30 %"}


@functools.cache
def _bands() -> dict[tuple[str, str], dict]:
    try:
        rows = read_table("error_bands.csv")
    except FileNotFoundError:
        return {}
    return {
        (r["family"], r["mode"]): {"low": float(r["low"]), "high": float(r["high"]), "basis": r["basis"]}
        for r in rows
    }


def expected_error(families: tuple[str, ...], mode: str) -> dict:
    """{"low", "high", "basis"} for a prediction of `mode` on GPUs of `families` (AFD: both sides; a
    band of their own only when both are the same family)."""
    bands = _bands()
    fams = set(families)
    if len(fams) == 1 and (next(iter(fams)), mode) in bands:
        return dict(bands[(next(iter(fams)), mode)])
    for key in (("any", mode), ("any", "any")):
        if key in bands:
            return dict(bands[key])
    return dict(FALLBACK)


def deployment_families(deployment) -> tuple[str, ...]:
    """The GPU families (calibration profiles) a deployment runs on."""
    from afdscope.calibration.profiles import family_of

    if deployment is None:
        return ()
    if deployment.mode == "ep":
        return (family_of(deployment.hardware),)
    return (family_of(deployment.attention_hardware), family_of(deployment.ffn_hardware))
