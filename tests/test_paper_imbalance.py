"""Load-imbalance α of paper §3.3 (spec paper-model.md §7), checked against hand arithmetic."""

import numpy as np
import pytest

from afdscope.errors import AfdscopeError
from afdscope.paper.imbalance import (
    alpha_afd,
    alpha_afd_ceil,
    alpha_afd_exact,
    alpha_afd_floor,
    alpha_dp_afd,
    alpha_dp_ep,
    alpha_ep_ep,
    imbalance_grid,
)


def test_alpha_ep_at_lambda_4_sigma_0_8():
    # (4 + 1)/(4 + 1/0.8) = 5/5.25
    assert alpha_ep_ep(4, 0.8) == pytest.approx(5 / 5.25)
    assert round(float(alpha_ep_ep(4, 0.8)), 3) == 0.952


def test_alpha_afd_5_attention_1_ffn():
    # σ = 0.8: x = 4 is an integer → exact: 0.8·6/(4 + 1) = 0.96
    assert alpha_afd(5, 1, 0.8) == pytest.approx(0.96)
    # σ = 0.7: x = 3.5; floor: (6/5)·3/4 = 0.9; ceil: (6/5)·(4/5)·(3.5/4) = 0.84 → 0.9
    assert alpha_afd_floor(5, 1, 0.7) == pytest.approx(0.9)
    assert alpha_afd_ceil(5, 1, 0.7) == pytest.approx(0.84)
    assert alpha_afd(5, 1, 0.7) == pytest.approx(0.9)


def test_corrected_prefactor_reduces_to_exact_when_x_is_integer():
    # With (λ+1)/λ both floor and ceil equal α_exact at integer x; the printed (λ+1) would give 6×.
    assert alpha_afd_floor(5, 1, 0.8) == pytest.approx(alpha_afd_exact(5, 1, 0.8))
    assert alpha_afd_ceil(5, 1, 0.8) == pytest.approx(alpha_afd_exact(5, 1, 0.8))
    assert alpha_afd(4, 2, 1.0) == pytest.approx(1.0)


def test_afd_exact_equals_ep_formula_at_lambda_n_a_over_n_f():
    na, nf, s = np.array([3, 7, 10]), np.array([2, 4, 6]), 0.75
    assert alpha_afd_exact(na, nf, s) == pytest.approx(alpha_ep_ep(na / nf, s))


def test_dp_imbalance():
    # LEP: (λ + 1)/(λ/σ + 1); λ = 4, σ = 0.8 → 5/6
    assert alpha_dp_ep(4, 0.8) == pytest.approx(5 / 6)
    assert alpha_dp_afd(0.8) == pytest.approx(0.8)
    assert alpha_dp_ep(4, 0.8) > alpha_dp_afd(0.8)


def test_fig6_grid_afd_worse_in_172_of_204():
    g = imbalance_grid()
    assert len(g.lam) == 204  # (9 + 17 + 25) integer N_A × 4 σ
    assert int(g.afd_worse.sum()) == 172
    # Where AFD is not worse, σ·N_A is an integer (32 points).
    x = g.sigma * g.n_attention
    assert np.allclose(x[~g.afd_worse], np.round(x[~g.afd_worse]))


def test_afd_never_beats_the_continuous_alpha():
    g = imbalance_grid(sigmas=np.linspace(0.5, 1.0, 11), n_ffn=(1, 2, 3, 5, 8), lambda_max=8)
    assert np.all(g.alpha_afd <= alpha_afd_exact(g.n_attention, g.n_ffn, g.sigma) + 1e-12)


def test_lambda_filter_and_empty_grid():
    g = imbalance_grid(lambdas=[2.5])
    assert set(g.lam) == {2.5} and set(g.n_ffn) == {2, 4, 6}
    with pytest.raises(AfdscopeError, match="no integer N_A"):
        imbalance_grid(lambdas=[1.1], n_ffn=(2,))
