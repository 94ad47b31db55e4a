"""Routing skew the evaluators apply: the busiest expert GPU's token-expert assignments and received
bytes over the mean (max/mean = 1/σ), the collectives' wait for their slowest rank, and the slowest
attention-DP rank's KV over the mean. Scalars, or arrays (one entry per routing draw, or per point of an
evaluator's sweep) that broadcast against the sweep. afdscope.routing derives them from routing
statistics; afdscope.routing.defaults.modelled_skew gives the default (docs/imbalance.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import field_validator

from afdscope.errors import AfdscopeError
from afdscope.specs.validated import Validated


class RoutingSkew(Validated):
    """expert_load_factor multiplies the busiest expert GPU's assignments, comm_load_factor its received
    bytes, comm_straggler the dispatch and combine times (a collective ends with its slowest rank), and
    attention_factor the attention core time (the slowest DP rank's KV over the mean). `source` says
    where the numbers came from, for `describe()` ("" when given by hand)."""

    expert_load_factor: Any = 1.0
    comm_load_factor: Any = 1.0
    comm_straggler: Any = 1.0
    attention_factor: Any = 1.0
    source: str = ""

    @field_validator("expert_load_factor", "comm_load_factor", "comm_straggler", "attention_factor")
    @classmethod
    def _at_least_one(cls, value, info):
        a = np.asarray(value, dtype=float)
        if not (np.all(a >= 1.0) and np.all(np.isfinite(a))):
            raise AfdscopeError(f"{info.field_name} = {value!r}: a max/mean load is a finite number ≥ 1")
        return value if a.ndim else float(a)

    @property
    def is_balanced(self) -> bool:
        return all(
            bool(np.all(np.asarray(v) == 1))
            for v in (
                self.expert_load_factor,
                self.comm_load_factor,
                self.comm_straggler,
                self.attention_factor,
            )
        )

    def times(self, expert_f, comm_f) -> RoutingSkew:
        """This skew with drawn factors multiplied on (one entry per routing draw)."""
        return self.replace(
            expert_load_factor=np.asarray(self.expert_load_factor) * expert_f,
            comm_load_factor=np.asarray(self.comm_load_factor) * comm_f,
        )

    def describe(self) -> str:
        """One line for results: "balanced", or where the factors came from and their values (a range
        over a sweep), e.g. "modelled: EPLB 32 slots, power law α 0.37 (…): busiest GPU 1.23× / 1.10×
        bytes, stragglers 1.08×, DP KV 1.04×"."""
        if self.is_balanced and not self.source:
            return "balanced"
        terms = (
            f"busiest GPU {_fmt(self.expert_load_factor)} / {_fmt(self.comm_load_factor)} bytes, "
            f"stragglers {_fmt(self.comm_straggler)}, DP KV {_fmt(self.attention_factor)}"
        )
        return f"{self.source or 'given'}: {terms}"


def _fmt(value) -> str:
    a = np.asarray(value, dtype=float)
    lo, hi = float(a.min()), float(a.max())
    return f"{lo:.2f}×" if round(lo, 2) == round(hi, 2) else f"{lo:.2f}–{hi:.2f}×"


BALANCED = RoutingSkew()
