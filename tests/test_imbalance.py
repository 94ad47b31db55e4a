"""Routing imbalance Monte Carlo (afdscope.imbalance), checked against hand arithmetic and closed forms:
order statistics of normals, hypergeometric node-touch probabilities, the paper's α formula."""

import json
import subprocess
import sys
from dataclasses import replace
from math import comb

import numpy as np
import pytest

from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.options import DEFAULT_OPTIONS
from afdscope.errors import AfdscopeError
from afdscope.imbalance import (
    Popularity,
    contiguous_placement,
    eplb_memory_bytes,
    eplb_placement,
    load_factors,
    sample_load_factors,
    sigma_for_alpha,
    simulate_routing,
)
from afdscope.paper.imbalance import alpha_ep_ep

DSV3 = load_model("deepseek-v3")  # 256 experts, top-8, 8 groups / top-4 groups, H = 7168, M = 2048
FLAT = DSV3.model_copy(update={"n_group": None, "topk_group": None})  # no group-limited routing


def tiny(n=4, k=1):
    return DSV3.model_copy(update={"n_routed_experts": n, "top_k": k, "n_group": None, "topk_group": None})


# Expected maximum of n independent standard normals (∫ x·n·φ(x)·Φ(x)^(n−1) dx).
E_MAX_NORMAL = {8: 1.4236, 64: 2.3437}


# ---------------------------------------------------------------- popularity


def test_popularity_constructors():
    u = Popularity.uniform(4)
    assert np.allclose(u.probabilities, 0.25) and not u.ranked
    # p_i ∝ i^-1 over 4 ranks: 1, 1/2, 1/3, 1/4 over 25/12.
    pl = Popularity.power_law(4, 1.0)
    assert np.allclose(pl.probabilities, np.array([12, 6, 4, 3]) / 25) and pl.ranked
    z = Popularity.zipf(4, 1.0)  # the same law, pinned to expert ids: expert 0 is the hottest
    assert np.allclose(z.probabilities, pl.probabilities) and not z.ranked
    with pytest.raises(AfdscopeError, match="sum to"):
        Popularity(np.array([0.5, 0.6]))
    with pytest.raises(AfdscopeError, match="alpha"):
        Popularity.power_law(8, -1.0)


def test_inclusion_caps_a_share_above_one_over_k():
    # Shares [0.7, 0.1, 0.1, 0.1] with K = 2: 2·0.7 = 1.4 > 1, so expert 0 is in every token (π = 1)
    # and the remaining pick spreads over the other three: 1/3 each.
    pop = Popularity(np.array([0.7, 0.1, 0.1, 0.1]))
    assert np.allclose(pop.inclusion(2), [1.0, 1 / 3, 1 / 3, 1 / 3])
    assert pop.hottest_over_mean(2) == pytest.approx(1.0 / 0.5)
    # DeepSeek-V3's fit α = 1.01 over 256 experts: p_1 = 1/Σ i^-1.01 ≈ 1/6.0, K·p_1 ≈ 1.3 > 1: the hottest
    # expert is in every token, 1 over the mean K/N = 8/256 → 32×.
    assert Popularity.power_law(256, 1.01).hottest_over_mean(8) == pytest.approx(32.0)


def test_popularity_needs_k_experts():
    with pytest.raises(AfdscopeError, match="at least 2"):
        Popularity(np.array([1.0, 0.0, 0.0])).inclusion(2)


# ---------------------------------------------------------------- CSV


def write(tmp_path, text, name="load.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_two_columns_and_one_column(tmp_path):
    two = write(tmp_path, "# trace of one layer\nexpert,count\n2,20\n0,40\n1,30\n3,10\n")
    assert np.allclose(Popularity.from_csv(two, 4).probabilities, [0.4, 0.3, 0.2, 0.1])
    one = write(tmp_path, "count\n40\n30\n20\n10\n", "one.csv")
    pop = Popularity.from_csv(one, 4)
    assert np.allclose(pop.probabilities, [0.4, 0.3, 0.2, 0.1]) and pop.name == "one.csv"


@pytest.mark.parametrize(
    "text, needles",
    [
        ("expert,tokens\n0,1\n", ["header"]),
        ("expert,count\n0,1\n1,-3\n2,1\n3,1\n", ["line 3", ">= 0"]),
        ("expert,count\n0,1\n1,abc\n2,1\n3,1\n", ["line 3", "not a number"]),
        ("expert,count\n0,1\n0,2\n2,1\n3,1\n", ["line 3", "twice"]),
        ("expert,count\n0,1\n1,1\n2,1\n", ["expert 3", "no row"]),
        ("expert,count\n0,1\n1,1\n2,1\n9,1\n", ["line 5", "0..3"]),
        ("expert,count\n0,1,2\n", ["line 2", "fields"]),
        ("count\n1\n1\n1\n1\n1\n", ["line 6", "more than 4"]),
        ("expert,count\n0,0\n1,0\n2,0\n3,0\n", ["all counts are 0"]),
        ("", ["empty"]),
    ],
)
def test_csv_errors_name_file_and_row(tmp_path, text, needles):
    path = write(tmp_path, text)
    with pytest.raises(AfdscopeError) as err:
        Popularity.from_csv(path, 4)
    assert str(path) in str(err.value)
    for n in needles:
        assert n in str(err.value)


def test_csv_missing_file(tmp_path):
    with pytest.raises(AfdscopeError, match="cannot read"):
        Popularity.from_csv(tmp_path / "nope.csv", 4)


# ---------------------------------------------------------------- placement and EPLB


def test_contiguous_placement_uneven():
    # 256 experts on 144 GPUs: 256 − 144 = 112 GPUs hold 2, the other 32 hold 1.
    pl = contiguous_placement(256, 144)
    per_gpu = (pl.slot_expert >= 0).sum(1)
    assert sorted(np.bincount(per_gpu)[1:]) == [32, 112] and pl.slots_per_gpu == 2
    assert pl.extra_slots_per_gpu == 0


def test_eplb_hand_example_balances_two_gpus():
    # Loads [0.4, 0.3, 0.2, 0.1], 2 GPUs, R = 2 → 3 slots each. Replicate the highest load per replica:
    # 0.4 → 2×0.2, then 0.3 → 2×0.15. Pack heaviest first onto the lighter GPU:
    # 0.2→G0, 0.2→G1, 0.2 (e2)→G0 (tie), 0.15→G1, 0.15→G1, 0.1→G0 (G1 full): 0.5 / 0.5.
    pl = eplb_placement(Popularity(np.array([0.4, 0.3, 0.2, 0.1])), 4, 2, 2)
    assert pl.replicas.tolist() == [2, 2, 1, 1] and pl.slots_per_gpu == 3
    assert np.allclose(pl.gpu_loads([0.4, 0.3, 0.2, 0.1]), [0.5, 0.5])
    assert pl.expected_sigma([0.4, 0.3, 0.2, 0.1]) == pytest.approx(1.0)


def test_eplb_slots_must_split_evenly():
    with pytest.raises(AfdscopeError, match="use 64"):
        eplb_placement(Popularity.uniform(256), 256, 64, 10)


def test_eplb_memory_cost():
    # One extra slot per GPU (256 + 32 = 288 = 2·144 vs ⌈256/144⌉ = 2 → 0 extra!) and EP 64 with 64 redundant:
    # ⌈320/64⌉ − ⌈256/64⌉ = 1 slot × 3·7168·2048 weights × 1 B (FP8) × 58 MoE layers.
    one_slot = 3 * 7168 * 2048 * 58
    assert eplb_memory_bytes(DSV3, 64, 64, 1.0) == one_slot
    assert eplb_memory_bytes(DSV3, 144, 32, 1.0) == 0
    pl = eplb_placement(Popularity.uniform(256), 256, 64, 64)
    assert pl.memory_cost_bytes(DSV3, 2.0) == 2 * one_slot


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


def test_alpha_from_derived_sigma_matches_paper_formula():
    s = simulate_routing(DSV3, Popularity.power_law(256, 1.01), 8192, 400, gpus=64, redundant=64)
    sigma = sigma_for_alpha(s)
    slowdown = np.mean(s.tokens_max / s.tokens_mean)  # layer times add: the mean of max/mean
    for lam in (1.0, 4.0):
        assert alpha_ep_ep(lam, sigma) == pytest.approx((lam + 1) / (lam + slowdown))
    # The hand example at large T: σ = 5/7, λ = 4 → α = 5/(4 + 1.4) = 0.9259.
    hand = simulate_routing(tiny(), Popularity(np.array([0.4, 0.3, 0.2, 0.1])), 10**6, 20, gpus=2)
    assert alpha_ep_ep(4, sigma_for_alpha(hand)) == pytest.approx(5 / 5.4, abs=2e-3)


def test_load_factors_feed_deploy_options():
    s = simulate_routing(DSV3, Popularity.power_law(256, 1.01), 8192, 200, gpus=64, redundant=64)
    ef, cf = load_factors(s)
    assert ef == pytest.approx(s.max_over_mean_tokens) and cf == pytest.approx(s.max_over_mean_bytes)
    options = replace(DEFAULT_OPTIONS, expert_load_factor=ef, comm_load_factor=cf)
    assert options.expert_load_factor > 1
    per_draw, _ = load_factors(s, "draws")
    assert per_draw.shape == (200,) and np.all(per_draw >= 1)
    replace(DEFAULT_OPTIONS, expert_load_factor=per_draw)  # arrays are accepted too
    assert load_factors(s, 0.95)[0] >= load_factors(s, "p50")[0]
    with pytest.raises(AfdscopeError, match="statistic"):
        load_factors(s, "max")


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


# ---------------------------------------------------------------- CLI

CLI = [sys.executable, "-c", "from afdscope.cli import main; main()"]


def run(*args):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_cli_json_keys():
    r = run("imbalance", "--model", "deepseek-v3", "--gpus", "64", "--tokens", "8192", "--redundant", "64")
    assert r.returncode == 0, r.stderr
    r = run(
        "imbalance",
        *("--model", "deepseek-v3", "--gpus", "64", "--tokens", "8192", "--alpha", "1.01"),
        *("--redundant", "64", "--draws", "500", "-f", "json"),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in (
        "sigma_mean",
        "sigma_p5",
        "max_over_mean_tokens",
        "max_over_mean_bytes",
        "distinct_experts_max",
        "expert_load_factor",
        "comm_load_factor",
        "eplb_memory_gb_per_gpu",
        "model",
        "gpus",
        "tokens",
        "alpha",
        "redundant",
        "draws",
        "seed",
    ):
        assert key in out
    assert out["eplb_extra_slots_per_gpu"] == 1
    assert out["eplb_memory_gb_per_gpu"] == pytest.approx(3 * 7168 * 2048 * 58 / 1e9)
    assert 0 < out["sigma_p5"] <= out["sigma_mean"] <= 1
    assert out["expert_load_factor"] == pytest.approx(out["max_over_mean_tokens"])


def test_cli_afd_and_csv(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("count\n" + "\n".join(str(i + 1) for i in range(256)) + "\n")
    r = run(
        "imbalance",
        *("--model", "deepseek-v3", "--mode", "afd", "--ffn-gpus", "32", "--tokens", "4096"),
        *("--popularity", str(path), "--draws", "200", "-f", "json"),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["popularity"] == "counts.csv" and out["ffn_gpus"] == 32 and out["gpus"] is None


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--gpus", "64", "--redundant", "10"), "--redundant"),
        (("--mode", "afd"), "--ffn-gpus"),
        (("--gpus", "64", "--popularity", "uniform", "--alpha", "1.2"), "--alpha"),
        (("--gpus", "64", "--popularity", "gauss"), "--popularity"),
        (("--gpus", "64", "--popularity", "missing.csv"), "missing.csv"),
    ],
)
def test_cli_bad_input(args, needle):
    r = run("imbalance", "--model", "deepseek-v3", "--tokens", "1024", *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
