"""Pareto fronts and the 9-digit tie rule (`afdscope.search.pareto`), checked on points worked by hand."""

import numpy as np

from afdscope.search.pareto import pareto_front, rounded


def test_pareto_front_by_hand():
    x = np.array([1, 2, 3, 2, 1, 3.0])
    y = np.array([5, 4, 1, 2, 6, 0.5])
    # (1,6) beats (1,5); (2,4) beats (2,2); (3,1) beats (3,0.5).
    assert list(pareto_front(x, y)) == [4, 1, 2]
    assert pareto_front(np.array([]), np.array([])).size == 0


def test_values_equal_to_nine_digits_tie():
    v = np.array([0.1 + 0.2, 0.3, 0.3000001, np.inf, 0.0])
    r = rounded(v)
    assert r[0] == r[1] and r[1] != r[2]
    assert np.isinf(r[3]) and r[4] == 0
