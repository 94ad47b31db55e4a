"""Transitional: the search entry points the CLI and the report call (`search`, `afd_ep_map`,
`analyse_bests`, `map_around` and the sensitivity helpers) still accept the old `DeployOptions` bundle in
place of a `Calibration`; this splits it. Deleted with `deploy/options.py` once those callers pass typed
values."""

from __future__ import annotations

from dataclasses import dataclass

from afdscope.deploy.calibration import Calibration
from afdscope.deploy.options import DeployOptions


@dataclass(frozen=True)
class Split:
    calibration: Calibration
    skew: object  # RoutingSkew | "modelled" | "balanced" | None
    redundant_experts: int | None = None  # EPLB slots the options named (None: the usual)
    shared_experts_on: str = "attention"
    ep_overlap: str = "2bo"
    legacy: bool = False  # taken from a DeployOptions


def split(calibration, skew=None) -> Split:
    """(calibration, skew) as given, or a DeployOptions in the calibration's place taken apart exactly
    as the evaluators' transitional adapters take it apart (its skew wins unless `skew` is given)."""
    if not isinstance(calibration, DeployOptions):
        return Split(calibration, skew)
    o = calibration
    return Split(
        o.calibration, o.skew if skew is None else skew, o.eplb_slots, o.shared_experts_on, o.ep_overlap
    )
