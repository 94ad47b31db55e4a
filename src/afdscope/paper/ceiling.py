"""The best FFN node count and its HFU ceiling, and the hardware × model matrix (paper §4, Fig. 5).

The ceiling is the best HFU over the N_F that pass the memory checks; the unconstrained maximum
ignores them. When only an N_F failing a check reaches a higher HFU, the cell is "memory limited"
(the paper's "HBM" cells: capacity on H100, bandwidth on H200 for DeepSeek-V3 and Kimi-K2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from afdscope.errors import AfdscopeError
from afdscope.paper.ffn_rank import LIMITS, RankCurve, RankProblem, rank_curve
from afdscope.paper.options import PaperOptions
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel


def ffn_node_sweep(max_ffn_nodes: int) -> np.ndarray:
    """N_F = 1..max_ffn_nodes, the sweep every paper analysis uses."""
    if not 1 <= max_ffn_nodes <= 4096:
        raise AfdscopeError(f"max FFN nodes = {max_ffn_nodes}: sweep at least 1 and at most 4096 nodes")
    return np.arange(1, max_ffn_nodes + 1)


# Two N_F whose HFU differ by less than this are equal (the plateau is flat up to float rounding).
_RTOL = 1e-9


@dataclass(frozen=True)
class Ceiling:
    """One matrix cell. `hfu_ceiling` is None when no N_F in the sweep passes the memory checks."""

    hardware: str
    model: str
    hfu_ceiling: float | None
    n_ffn_nodes: int | None
    limited_by: str | None
    hfu_unconstrained: float
    memory_limited: str | None  # None, "hbm_capacity" or "hbm_bandwidth"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def ceilings_from_curve(curve: RankCurve) -> dict[str, np.ndarray]:
    """Reduce a curve over its last (N_F) axis to the ceiling quantities, vectorised over the rest."""
    hfu = curve.hfu
    feasible = curve.feasible
    best_any = hfu.max(axis=-1)
    hfu_ok = np.where(feasible, hfu, -np.inf)
    best_ok = hfu_ok.max(axis=-1)
    # Smallest N_F reaching the best feasible HFU (argmax returns the first True).
    reach_ok = feasible & (hfu >= best_ok[..., None] * (1 - _RTOL))
    idx_ok = np.argmax(reach_ok, axis=-1)
    # Where a higher HFU exists only at failing N_F, name the check that fails first there.
    memory_limited = best_any > np.where(np.isfinite(best_ok), best_ok, -1.0) * (1 + _RTOL)
    reach_any = hfu >= best_any[..., None] * (1 - _RTOL)
    idx_any = np.argmax(reach_any, axis=-1)
    cap_fails = ~np.take_along_axis(curve.capacity_ok, idx_any[..., None], axis=-1)[..., 0]
    return {
        "has_feasible": np.isfinite(best_ok),
        "hfu_ceiling": best_ok,
        "n_ffn_nodes": np.take_along_axis(curve.n_ffn_nodes, idx_ok[..., None], axis=-1)[..., 0],
        "limited_by": np.take_along_axis(curve.limited_by, idx_ok[..., None], axis=-1)[..., 0],
        "hfu_unconstrained": best_any,
        "memory_limited": memory_limited,
        "capacity_fails": cap_fails,
    }


def _cell(hardware: str, model: str, r: dict, index) -> Ceiling:
    feasible = bool(r["has_feasible"][index])
    limited = None
    if r["memory_limited"][index]:
        limited = "hbm_capacity" if r["capacity_fails"][index] else "hbm_bandwidth"
    return Ceiling(
        hardware=hardware,
        model=model,
        hfu_ceiling=float(r["hfu_ceiling"][index]) if feasible else None,
        n_ffn_nodes=int(r["n_ffn_nodes"][index]) if feasible else None,
        limited_by=LIMITS[int(r["limited_by"][index])] if feasible else None,
        hfu_unconstrained=float(r["hfu_unconstrained"][index]),
        memory_limited=limited,
    )


def hfu_matrix(
    models: Sequence[MoEModel],
    hardware: Sequence[Hardware],
    options: PaperOptions,
    max_ffn_nodes: int = 64,
) -> list[Ceiling]:
    """Every hardware × model cell, N_F swept 1..max_ffn_nodes in one vectorised evaluation.
    Ordered hardware-major (the paper's figure rows are GPUs)."""
    n_f = ffn_node_sweep(max_ffn_nodes)
    curve = rank_curve(RankProblem.grid(models, hardware), n_f, options)
    r = ceilings_from_curve(curve)
    return [
        _cell(hw.name, model.name, r, (i, j))
        for j, hw in enumerate(hardware)
        for i, model in enumerate(models)
    ]


def hfu_ceiling(
    model: MoEModel, hardware: Hardware, options: PaperOptions, max_ffn_nodes: int = 64
) -> Ceiling:
    return hfu_matrix([model], [hardware], options, max_ffn_nodes)[0]
