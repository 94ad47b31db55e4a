"""Routing skew the evaluators apply: the busiest expert GPU's token-expert assignments and received
bytes over the mean (max/mean = 1/σ). Scalars, or arrays with one entry per routing draw that broadcast
against an evaluator's sweep. afdscope.routing derives them from routing statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import field_validator

from afdscope.errors import AfdscopeError
from afdscope.specs.validated import Validated


class RoutingSkew(Validated):
    expert_load_factor: Any = 1.0
    comm_load_factor: Any = 1.0

    @field_validator("expert_load_factor", "comm_load_factor")
    @classmethod
    def _at_least_one(cls, value, info):
        a = np.asarray(value, dtype=float)
        if not (np.all(a >= 1.0) and np.all(np.isfinite(a))):
            raise AfdscopeError(f"{info.field_name} = {value!r}: a max/mean load is a finite number ≥ 1")
        return value if a.ndim else float(a)

    @property
    def is_balanced(self) -> bool:
        return bool(
            np.all(np.asarray(self.expert_load_factor) == 1)
            and np.all(np.asarray(self.comm_load_factor) == 1)
        )

    def times(self, expert_f, comm_f) -> RoutingSkew:
        """This skew with drawn factors multiplied on (one entry per routing draw)."""
        return RoutingSkew(
            expert_load_factor=np.asarray(self.expert_load_factor) * expert_f,
            comm_load_factor=np.asarray(self.comm_load_factor) * comm_f,
        )


BALANCED = RoutingSkew()
