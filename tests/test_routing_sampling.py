"""Routing Monte Carlo (afdscope.routing.sampling and its samplers), checked against hand arithmetic and
closed forms: order statistics of normals, hypergeometric node-touch probabilities."""

from math import comb

import numpy as np
import pytest

from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.routing import Popularity, sample_load_factors, simulate_routing

DSV3 = load_model("deepseek-v3")  # 256 experts, top-8, 8 groups / top-4 groups, H = 7168, M = 2048
FLAT = DSV3.model_copy(update={"n_group": None, "topk_group": None})  # no group-limited routing


def tiny(n=4, k=1):
    return DSV3.model_copy(update={"n_routed_experts": n, "top_k": k, "n_group": None, "topk_group": None})


# Expected maximum of n independent standard normals (∫ x·n·φ(x)·Φ(x)^(n−1) dx).
E_MAX_NORMAL = {8: 1.4236, 64: 2.3437}


# ---------------------------------------------------------------- routing


def test_uniform_large_t_gives_sigma_near_one():
    # 10^6 tokens × 8 picks over 8 GPUs: 10^6 assignments per GPU, sd ≈ √10^6 = 1000 → max/mean ≈ 1.0014.
    s = simulate_routing(DSV3, Popularity.uniform(256), 10**6, 50, gpus=8)
    assert s.sigma_p5 > 0.99 and s.sigma_mean > 0.95


def test_uniform_max_over_mean_matches_normal_order_statistics():
    # Counts sampler, EP 64, T = 8192, K = 8, no groups: each GPU's 4 experts get independent
    # Binomial(8192, 1/32) counts: mean 1024, variance 4·8192·(1/32)(31/32) = 992 → E[max/mean] ≈
    # 1 + 2.3437·√992/1024 = 1.0721.
    s = simulate_routing(FLAT, Popularity.uniform(256), 8192, 2000, gpus=64, method="counts", seed=1)
    assert s.max_over_mean_tokens == pytest.approx(1 + E_MAX_NORMAL[64] * np.sqrt(992) / 1024, rel=0.002)
    # Exact sampler, EP 8, T = 1024: a token puts a hypergeometric(256, 32, 8) number of picks on a GPU,
    # variance 8·(1/8)(7/8)·248/255; the 8 counts sum to T·K exactly, so they are 8 iid normals less
    # their mean: iid variance v·8/7 → E[max/mean] ≈ 1 + 1.4236·√(v·8/7)/1024 = 1.0439.
    v = 1024 * 8 * (1 / 8) * (7 / 8) * 248 / 255
    e = simulate_routing(FLAT, Popularity.uniform(256), 1024, 200, gpus=8, method="exact", seed=2)
    assert e.max_over_mean_tokens == pytest.approx(1 + E_MAX_NORMAL[8] * np.sqrt(v * 8 / 7) / 1024, rel=0.004)


def test_sigma_falls_with_ep_size_and_rises_with_tokens():
    u = Popularity.uniform(256)
    by_gpus = [simulate_routing(DSV3, u, 4096, 500, gpus=g).sigma_mean for g in (8, 32, 128)]
    assert by_gpus[0] > by_gpus[1] > by_gpus[2]
    by_tokens = [simulate_routing(DSV3, u, t, 500, gpus=64).sigma_mean for t in (1024, 8192, 65536)]
    assert by_tokens[0] < by_tokens[1] < by_tokens[2]


def test_two_gpu_hand_example():
    # 4 experts [0.4, 0.3, 0.2, 0.1], K = 1, {0, 1} on GPU 0 and {2, 3} on GPU 1: loads 0.7 / 0.3 of T,
    # mean 0.5 → σ = 0.5/0.7 at large T (sd of GPU 0's share: √(0.7·0.3/10^6) ≈ 5e-4).
    pop = Popularity(np.array([0.4, 0.3, 0.2, 0.1]))
    s = simulate_routing(tiny(), pop, 10**6, 20, gpus=2)
    assert s.sigma_mean == pytest.approx(0.5 / 0.7, abs=2e-3)
    assert np.allclose(s.expected_sigma, 0.5 / 0.7)
    assert s.max_over_mean_tokens == pytest.approx(1.4, abs=4e-3)
    e = simulate_routing(tiny(), pop, 20000, 40, gpus=2, method="exact")
    assert e.sigma_mean == pytest.approx(0.5 / 0.7, abs=0.01)
    # With EPLB (R = 2) the same popularity balances: σ → 1.
    b = simulate_routing(tiny(), pop, 10**6, 20, gpus=2, redundant=2)
    assert b.sigma_mean > 0.995


def test_eplb_raises_sigma_under_power_law():
    pop = Popularity.power_law(256, 1.01)
    plain = simulate_routing(DSV3, pop, 8192, 300, gpus=64)
    # The hottest expert is in every token: its GPU gets ≥ T of the T·8/64 = T/8 mean → max/mean ≥ 8.
    assert plain.max_over_mean_tokens >= 8 and plain.sigma_mean <= 1 / 8
    eplb = simulate_routing(DSV3, pop, 8192, 300, gpus=64, redundant=64)
    assert eplb.sigma_mean > 0.85 > plain.sigma_mean
    assert eplb.placement.kind == "eplb" and eplb.placement.slots_per_gpu == 5


def test_counts_sampler_agrees_with_exact():
    # Zipf pins the hot experts to fixed GPUs, so only routing noise differs between the samplers.
    for pop, kwargs in (
        (Popularity.zipf(256, 1.01), {"gpus": 8}),
        (Popularity.power_law(256, 1.01), {"gpus": 64, "redundant": 64}),
    ):
        e = simulate_routing(DSV3, pop, 1024, 80, method="exact", seed=5, **kwargs)
        c = simulate_routing(DSV3, pop, 1024, 4000, method="counts", seed=5, **kwargs)
        assert c.max_over_mean_tokens == pytest.approx(e.max_over_mean_tokens, rel=0.01)
        assert c.distinct_experts_max == pytest.approx(e.distinct_experts_max, rel=0.02)


def test_exact_sampler_makes_exactly_k_picks():
    # Every token picks exactly K = 8 experts: the mean over 8 GPUs is exactly T·8/8.
    s = simulate_routing(FLAT, Popularity.power_law(256, 1.2), 1000, 10, gpus=8, method="exact")
    assert np.all(s.tokens_mean == 1000)
    # Group-limited with capped groups: K on average (a token may take K ± 1).
    g = simulate_routing(DSV3, Popularity.power_law(256, 1.2), 1000, 40, gpus=8, method="exact")
    assert g.tokens_mean.mean() == pytest.approx(1000, rel=0.005)


def test_afd_node_dedup_matches_hypergeometric():
    # 32 FFN GPUs, 8 per node → 4 nodes of 64 experts; uniform top-8 without groups: a token misses a
    # node with probability C(192, 8)/C(256, 8), so each node receives T·(1 − that) copies.
    touch = 1 - comb(192, 8) / comb(256, 8)
    s = simulate_routing(FLAT, Popularity.uniform(256), 2048, 60, ffn_gpus=32, mode="afd", method="exact")
    assert s.nodes == 4
    assert np.mean(s.bytes_mean) / s.dispatch_bytes == pytest.approx(2048 * touch, rel=0.003)
    one = simulate_routing(FLAT, Popularity.uniform(256), 512, 5, ffn_gpus=8, mode="afd", method="exact")
    assert np.all(one.bytes_mean == 512 * one.dispatch_bytes) and one.max_over_mean_bytes == 1.0


def test_group_limited_routing_caps_nodes_per_token():
    # 64 FFN GPUs, 8 per node: node n holds experts 32n..32n+31 = group n. Group-limited routing picks
    # 4 of 8 groups, so a token reaches at most 4 nodes: mean copies per node ≤ T/2. Without the limit a
    # token misses a node with probability C(224, 8)/C(256, 8) → 0.662·T copies.
    kw = {"ffn_gpus": 64, "mode": "afd", "method": "exact"}
    grouped = simulate_routing(DSV3, Popularity.uniform(256), 1024, 20, **kw)
    assert np.all(grouped.bytes_mean / grouped.dispatch_bytes <= 1024 / 2)
    free = simulate_routing(DSV3, Popularity.uniform(256), 1024, 20, group_limited=False, **kw)
    touch = 1 - comb(224, 8) / comb(256, 8)
    assert np.mean(free.bytes_mean) / free.dispatch_bytes == pytest.approx(1024 * touch, rel=0.01)


def test_distinct_experts():
    # Plenty of tokens: every expert on a GPU is hit (4 per GPU at EP 64, 5 with one EPLB slot each).
    assert simulate_routing(DSV3, Popularity.uniform(256), 65536, 20, gpus=64).distinct_experts_max == 4
    eplb = simulate_routing(DSV3, Popularity.uniform(256), 65536, 20, gpus=64, redundant=64)
    assert eplb.distinct_experts_max == 5
    # One token, K = 1: exactly one expert anywhere is hit.
    assert simulate_routing(tiny(), Popularity.uniform(4), 1, 20, gpus=2).distinct_experts_max == 1


def test_vectorised_reduced_size_and_seeds():
    pop = Popularity.power_law(256, 1.01)
    a = simulate_routing(DSV3, pop, 1024, 1000, gpus=64, seed=7)
    b = simulate_routing(DSV3, pop, 1024, 1000, gpus=64, seed=7)
    c = simulate_routing(DSV3, pop, 1024, 1000, gpus=64, seed=8)
    assert a.method == "counts" and a.tokens_max.shape == (1000,)
    assert np.array_equal(a.tokens_max, b.tokens_max) and np.array_equal(a.bytes_max, b.bytes_max)
    assert not np.array_equal(a.tokens_max, c.tokens_max)
    g = simulate_routing(DSV3, pop, 1024, 1000, gpus=64, seed=np.random.default_rng(7))
    assert np.all(np.isfinite(g.sigma)) and np.all((g.sigma > 0) & (g.sigma <= 1))


def test_sample_load_factors_shape_and_per_draw_tokens():
    pop = Popularity.uniform(256)
    tf, bf = sample_load_factors(DSV3, pop, 4096, (30, 58), gpus=64, seed=3)
    assert tf.shape == bf.shape == (30, 58) and np.all(tf >= 1)
    # Tokens per step: fewer tokens, more noise.
    t = np.repeat([[256.0], [65536.0]], 58, axis=1)
    tf, _ = sample_load_factors(DSV3, pop, t, (2, 58), gpus=64, seed=3)
    assert tf[0].mean() > tf[1].mean()
    tf, bf = sample_load_factors(DSV3, pop, 4096, 100, ffn_gpus=32, mode="afd")
    assert np.all(bf < tf.max())  # node copies are smoother than per-GPU assignments


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gpus": None}, "needs gpus"),
        ({"mode": "afd"}, "needs ffn_gpus"),
        ({"mode": "xyz"}, "mode"),
        ({"tokens": 0}, "tokens"),
        ({"redundant": 10}, "split evenly"),
        ({"method": "fast"}, "method"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"tokens": 128, "draws": 2, "gpus": 64} | kwargs
    with pytest.raises(AfdscopeError, match=match):
        simulate_routing(DSV3, Popularity.uniform(256), **args)


def test_popularity_must_match_model():
    with pytest.raises(AfdscopeError, match="one share per routed expert"):
        simulate_routing(DSV3, Popularity.uniform(128), 128, 2, gpus=8)
