"""Routing statistics (afdscope.routing.statistics): σ for the paper's α formula and the load factors the
deployment evaluator takes, checked against the paper's formula and hand arithmetic."""

import numpy as np
import pytest

from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.paper.imbalance import alpha_ep_ep
from afdscope.routing import Popularity, busiest_rank_load_factors, sigma_for_alpha, simulate_routing
from afdscope.specs.skew import RoutingSkew

DSV3 = load_model("deepseek-v3")  # 256 experts, top-8, 8 groups / top-4 groups, H = 7168, M = 2048


def tiny(n=4, k=1):
    return DSV3.model_copy(update={"n_routed_experts": n, "top_k": k, "n_group": None, "topk_group": None})


def test_alpha_from_derived_sigma_matches_paper_formula():
    s = simulate_routing(DSV3, Popularity.power_law(256, 1.01), 8192, 400, gpus=64, redundant=64)
    sigma = sigma_for_alpha(s)
    slowdown = np.mean(s.tokens_max / s.tokens_mean)  # layer times add: the mean of max/mean
    for lam in (1.0, 4.0):
        assert alpha_ep_ep(lam, sigma) == pytest.approx((lam + 1) / (lam + slowdown))
    # The hand example at large T: σ = 5/7, λ = 4 → α = 5/(4 + 1.4) = 0.9259.
    hand = simulate_routing(tiny(), Popularity(np.array([0.4, 0.3, 0.2, 0.1])), 10**6, 20, gpus=2)
    assert alpha_ep_ep(4, sigma_for_alpha(hand)) == pytest.approx(5 / 5.4, abs=2e-3)


def test_busiest_rank_load_factors_feed_a_routing_skew():
    s = simulate_routing(DSV3, Popularity.power_law(256, 1.01), 8192, 200, gpus=64, redundant=64)
    ef, cf = busiest_rank_load_factors(s)
    assert ef == pytest.approx(s.max_over_mean_tokens) and cf == pytest.approx(s.max_over_mean_bytes)
    skew = RoutingSkew(expert_load_factor=ef, comm_load_factor=cf)
    assert skew.expert_load_factor > 1
    per_draw, _ = busiest_rank_load_factors(s, "draws")
    assert per_draw.shape == (200,) and np.all(per_draw >= 1)
    RoutingSkew(expert_load_factor=per_draw)  # arrays are accepted too
    assert busiest_rank_load_factors(s, 0.95)[0] >= busiest_rank_load_factors(s, "p50")[0]
    with pytest.raises(AfdscopeError, match="statistic"):
        busiest_rank_load_factors(s, "max")


def test_busiest_rank_load_factor_of_the_hand_example():
    s = simulate_routing(tiny(), Popularity(np.array([0.4, 0.3, 0.2, 0.1])), 10**6, 20, gpus=2)
    # The hand example at large T: GPU 0 carries 0.7 of the tokens against a mean of 0.5 → 1.4.
    assert busiest_rank_load_factors(s)[0] == pytest.approx(1.4, abs=4e-3)
