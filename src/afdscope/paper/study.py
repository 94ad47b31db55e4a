"""The paper analyses from catalog names: resolve models and hardware, evaluate, return results.

The CLI calls these; a Python user can too (names or paths in, typed results out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from afdscope.catalog.hardware_catalog import PAPER_HARDWARE, load_hardware
from afdscope.catalog.model_catalog import PAPER_MODELS, load_model
from afdscope.paper.ceiling import Ceiling, ffn_node_sweep, hfu_matrix
from afdscope.paper.ffn_rank import RankCurve, RankProblem, RegimeBoundaries, rank_curve, regime_boundaries
from afdscope.paper.imbalance import FIG6_N_FFN, FIG6_SIGMAS, ImbalanceGrid, imbalance_grid
from afdscope.paper.options import PaperOptions


def matrix_study(
    models: Sequence[str] | None = None,
    hardware: Sequence[str] | None = None,
    value_set: str = "paper",
    options: PaperOptions | None = None,
    max_ffn_nodes: int = 64,
) -> list[Ceiling]:
    """The ceiling matrix; by default the paper's 8 GPUs × 6 models, paper values and preset."""
    model_specs = [load_model(m) for m in (models or PAPER_MODELS)]
    hw_specs = [load_hardware(h, value_set) for h in (hardware or PAPER_HARDWARE)]
    return hfu_matrix(model_specs, hw_specs, options or PaperOptions(), max_ffn_nodes)


@dataclass(frozen=True)
class CurveStudy:
    title: str
    curve: RankCurve
    boundaries: RegimeBoundaries


def curve_study(
    model: str,
    hardware: str,
    value_set: str = "paper",
    options: PaperOptions | None = None,
    max_ffn_nodes: int = 64,
) -> CurveStudy:
    """HFU and the per-rank quantities for N_F = 1..max_ffn_nodes for one model on one device."""
    options = options or PaperOptions()
    m, h = load_model(model), load_hardware(hardware, value_set)
    curve = rank_curve(RankProblem.single(m, h), ffn_node_sweep(max_ffn_nodes), options)
    flags = [
        f
        for f, on in (
            ("full duplex", options.full_duplex),
            ("hypergeometric dedup", options.dedup != "paper"),
        )
        if on
    ]
    title = f"{m.name} on {h.name} ({', '.join([f'{value_set} values', *flags])})"
    return CurveStudy(title, curve, regime_boundaries(m, h, options))


def imbalance_study(
    sigmas: Sequence[float] | None = None,
    n_ffn: Sequence[int] | None = None,
    lambdas: Sequence[float] | None = None,
    lambda_max: float = 5.0,
) -> ImbalanceGrid:
    """α_AFD (whole nodes) vs α_EP at equal λ; the paper's Fig. 6 grid by default."""
    from afdscope.errors import AfdscopeError

    for s in sigmas or ():
        if not 0 < s <= 1:
            raise AfdscopeError(f"--sigma {s:g}: σ is a goodput factor, give a value in (0, 1]")
    for n in n_ffn or ():
        if n < 1:
            raise AfdscopeError(f"--n-ffn {n}: FFN node counts start at 1")
    if not 1 <= lambda_max <= 1000:
        raise AfdscopeError(f"--lambda-max {lambda_max:g}: give a ratio N_A/N_F between 1 and 1000")
    return imbalance_grid(
        sigmas=tuple(sigmas) if sigmas else FIG6_SIGMAS,
        n_ffn=tuple(n_ffn) if n_ffn else FIG6_N_FFN,
        lambda_max=lambda_max,
        lambdas=lambdas or None,
    )
