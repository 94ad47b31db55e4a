"""The search's latency constraint and space (`afdscope.search.space`)."""

import pytest

from afdscope.errors import AfdscopeError
from afdscope.search import Constraint


def test_constraint_validation():
    with pytest.raises(AfdscopeError):
        Constraint()
    with pytest.raises(AfdscopeError):
        Constraint(tpot_slo_s=0.05, min_tokens_per_s_per_user=20)
    with pytest.raises(AfdscopeError):
        Constraint(tpot_slo_s=float("inf"))
