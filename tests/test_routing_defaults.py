"""The default skew (afdscope.routing.defaults): order statistics against closed forms and Monte Carlo,
the popularity fits against their published shares, the cached table against a direct Monte Carlo."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.routing import Popularity, sample_load_factors
from afdscope.routing.defaults import (
    COLLECTIVE_CV,
    CONTEXT_CV,
    _eplb_any,
    attention_dp_factor,
    collective_straggler,
    decode_context_cv,
    expected_max_normal,
    fit_collective_cv,
    modelled_skew,
    popularity_alpha,
)
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.skew import BALANCED, RoutingSkew

DS = load_model("deepseek-v3")
QWEN = load_model("qwen3-235b")
H800 = load_hardware("h800")


def ep(gpus, redundant=0, **kw):
    return EpDeployment(hardware=H800, gpus=gpus, redundant_experts=redundant, **kw)


# --- order statistics ------------------------------------------------------------------------------
def test_expected_max_normal_closed_forms():
    assert expected_max_normal(1) == pytest.approx(0.0, abs=1e-9)
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-6)
    assert expected_max_normal(3) == pytest.approx(1.5 / math.sqrt(math.pi), rel=1e-6)
    # Tabulated order statistics (Harter 1961): E[max of 10] = 1.53875, of 100 = 2.50759.
    np.testing.assert_allclose(expected_max_normal(np.array([10, 100])), [1.53875, 2.50759], atol=2e-5)


def test_straggler_two_ranks_closed_form():
    # Two i.i.d. mean-1 log-normals: E[max] = 2 Φ(s/√2), s² = ln(1 + cv²) (exponential tilting).
    for cv in (0.05, 0.3, 1.0):
        s = math.sqrt(math.log1p(cv * cv))
        assert collective_straggler(2, cv) == pytest.approx(1 + math.erf(s / 2), rel=1e-6)
    assert collective_straggler(1, 0.4) == pytest.approx(1.0, rel=1e-9)
    assert collective_straggler(288, 0.0) == 1.0


def test_straggler_against_monte_carlo():
    rng = np.random.default_rng(5)
    for n, cv in ((8, 0.2), (288, 0.05), (1000, 0.5)):
        s2 = math.log1p(cv * cv)
        x = np.exp(rng.normal(-s2 / 2, math.sqrt(s2), size=(4000, n))).max(1)
        assert collective_straggler(n, cv) == pytest.approx(
            x.mean(), rel=4 * x.std() / math.sqrt(4000) + 1e-3
        )
    out = collective_straggler(np.array([[1], [16], [256]]), np.array([0.05, 0.1]))
    assert out.shape == (3, 2) and np.all(np.diff(out, axis=0) > 0) and np.all(np.diff(out, axis=1) > 0)


def test_collective_cv_reproduces_xdeepserve_dispatch():
    # xDeepServe §7.1 (published-layer-times.csv, xds-colocated-ep288): dispatch mean 234 µs, minimum
    # 185 µs over 288 dies. Minimum = unloaded; mean = E[max of 288] × the byte factor of that layout.
    layout = EpDeployment(hardware=load_hardware("ascend-910c"), gpus=256, redundant_experts=256)
    byte_factor = modelled_skew(load_model("deepseek-r1"), layout, 96 * 288 / 256).comm_load_factor
    assert 1.05 < byte_factor < 1.15
    assert collective_straggler(288, COLLECTIVE_CV) * byte_factor == pytest.approx(234 / 185, rel=0.005)
    assert fit_collective_cv(234 / 185 / byte_factor, 288) == pytest.approx(COLLECTIVE_CV, abs=0.001)


def test_attention_dp_factor():
    # Two ranks, 4 requests each, cv 0.2: 1 + 0.2/2 · 1/√π.
    assert attention_dp_factor(2, 4, 0.2) == pytest.approx(1 + 0.1 / math.sqrt(math.pi), rel=1e-6)
    assert attention_dp_factor(1, 16, 0.5) == pytest.approx(1.0)
    b = np.array([[1.0, 4.0], [16.0, 64.0]])
    f = attention_dp_factor(64, b, 0.3)
    assert f.shape == (2, 2) and np.all(np.diff(f.ravel()) < 0)  # more requests per rank average out
    # Monte Carlo: 64 ranks × 32 requests with KV = 1000 + U(0, 1000) (cv 0.192).
    rng = np.random.default_rng(1)
    kv = (1000 + 1000 * rng.random((2000, 64, 32))).sum(-1)
    mc = (kv.max(1) / kv.mean(1)).mean()
    assert attention_dp_factor(64, 32, decode_context_cv(1000, 1000)) == pytest.approx(mc, rel=0.002)


def test_decode_context_cv():
    # 1K in / 1K out: KV = 1024 + U(0, 1024): sd 1024/√12 over mean 1536.
    assert decode_context_cv(1024, 1024) == pytest.approx(1024 / math.sqrt(12) / 1536)
    assert abs(CONTEXT_CV - decode_context_cv(1024, 1024)) < 0.001
    assert decode_context_cv(2000, 0) == 0.0


# --- popularity and routing factors ---------------------------------------------------------------
def test_popularity_fits_published_top_20_percent():
    # aiconfigurator: the top 20 % of experts carry 30–40 % (DeepSeek-V3) and ~65 % (Qwen3-235B).
    a_ds, _ = popularity_alpha(DS)
    a_qw, _ = popularity_alpha(QWEN)
    assert Popularity.power_law(256, a_ds).top_share(0.2, 8) == pytest.approx(0.35, abs=0.01)
    assert Popularity.power_law(128, a_qw).top_share(0.2, 8) == pytest.approx(0.65, abs=0.01)
    assert "no published figure" in popularity_alpha(load_model("gpt-oss-120b"))[1]


def test_uniform_popularity_matches_normal_order_statistics():
    # α = 0, EP 64, 8,192 tokens: 1 + 2.3437·√992/1024 = 1.0721 (docs/imbalance.md); many tokens → 1.
    assert modelled_skew(DS, ep(64), 128, alpha=0.0).expert_load_factor == pytest.approx(1.0721, rel=0.01)
    assert modelled_skew(DS, ep(8), 2**17, alpha=0.0).expert_load_factor < 1.01


def test_more_redundant_slots_never_raise_the_expert_factor():
    for tokens in (16, 128, 1024):
        f = [modelled_skew(DS, ep(64, r), tokens).expert_load_factor for r in (0, 64, 128, 192)]
        assert all(b <= a + 0.005 for a, b in zip(f, f[1:], strict=False)), f
    # The uneven 256 + 32 slots on 128 GPUs (3 slots each, some empty) beat no replicas, and no EPLB at
    # all is worse still: contiguous ids put the 4.6×-mean hottest expert with a random neighbour.
    no_eplb = modelled_skew(DS, ep(128), 128, eplb=False).expert_load_factor
    eplb0 = modelled_skew(DS, ep(128), 128).expert_load_factor
    eplb32 = modelled_skew(DS, ep(128, 32), 128).expert_load_factor
    assert eplb32 < eplb0 < no_eplb


def test_uneven_eplb_placement():
    pi = Popularity.power_law(256, 0.37).inclusion(8)
    p = _eplb_any(pi, 256, 128, 32)
    assert p.slot_expert.shape == (128, 3) and p.replicas.sum() == 288
    assert (p.slot_expert >= 0).sum() == 288 and p.slot_expert.max() < 256


@pytest.mark.parametrize(("model", "gpus", "redundant"), [(DS, 72, 32), (DS, 256, 256), (QWEN, 16, 0)])
def test_cached_table_matches_direct_monte_carlo(model, gpus, redundant):
    # The table: draws_at(…) draws per point (192 at 8 assignments per GPU, fewer above, at least 32) on
    # a factor-2 grid, interpolated in log tokens. Off-grid totals ≥ the group size agree with a direct
    # 4,000-draw Monte Carlo within 1.5 % (sampling noise of the table plus the interpolation).
    alpha, _ = popularity_alpha(model)
    pop = Popularity.power_law(model.n_routed_experts, alpha)
    for total in (1.5 * gpus, 23 * gpus, 181 * gpus, 1000 * gpus):
        got = modelled_skew(model, ep(gpus, redundant), total / gpus).expert_load_factor
        e, _ = sample_load_factors(
            model, pop, round(total), 4000, gpus=gpus, redundant=redundant, eplb=True, seed=9, method="counts"
        )
        assert got == pytest.approx(e.mean(), rel=0.015), total


def test_shapes_and_afd():
    s = modelled_skew(DS, ep(72, 32), np.array([[32.0, 64.0], [128.0, 256.0]]))
    for f in (s.expert_load_factor, s.comm_load_factor, s.attention_factor):
        assert np.shape(f) == (2, 2)
    assert np.all(np.diff(s.expert_load_factor.ravel()) < 0)  # more tokens: less relative skew
    assert isinstance(modelled_skew(DS, ep(72, 32), 64).expert_load_factor, float)
    afd = AfdDeployment(attention_hardware=H800, ffn_hardware=H800, attention_gpus=16, ffn_gpus=16)
    a = modelled_skew(DS, afd, 1152, attention_gpus=np.array([8, 16, 32]))
    assert np.shape(a.expert_load_factor) == (3,) and np.shape(a.comm_straggler) == (3,)
    assert a.comm_straggler[1] == pytest.approx(collective_straggler(32, COLLECTIVE_CV))
    # Expert TP 8 over 16 FFN GPUs: two routing ranks.
    tp = afd.replace(expert_tp=8)
    assert modelled_skew(DS, tp, 1152).expert_load_factor < modelled_skew(DS, afd, 1152).expert_load_factor


def test_bad_inputs():
    with pytest.raises(AfdscopeError, match="replicas need EPLB"):
        modelled_skew(DS, ep(72, 32), 64, eplb=False)
    with pytest.raises(AfdscopeError, match="tokens per micro-batch"):
        modelled_skew(DS, ep(72), np.array([1.0, 0.0]))
    with pytest.raises(AfdscopeError, match="ranks"):
        collective_straggler(0, 0.1)
    with pytest.raises(AfdscopeError, match="comm_straggler"):
        RoutingSkew(comm_straggler=0.9)
    with pytest.raises(AfdscopeError, match="attention_factor"):
        RoutingSkew(attention_factor=np.array([1.0, np.nan]))


def test_describe_and_times():
    assert BALANCED.describe() == "balanced" and BALANCED.is_balanced
    s = modelled_skew(DS, ep(128, 32), 128)
    text = s.describe()
    assert text.startswith("modelled: EPLB 32 slots, power law α 0.37") and "stragglers" in text
    assert f"busiest GPU {s.expert_load_factor:.2f}×" in text and not s.is_balanced
    drawn = s.times(np.array([1.0, 1.1]), 1.0)
    assert drawn.comm_straggler == s.comm_straggler and drawn.source == s.source
    np.testing.assert_allclose(drawn.expert_load_factor, s.expert_load_factor * np.array([1.0, 1.1]))


def test_speed():
    tokens = np.linspace(8, 512, 1000)
    t0 = time.perf_counter()
    modelled_skew(DS, ep(96, 96), tokens, alpha=0.3701)  # a key no other test uses: builds the table
    first = time.perf_counter() - t0
    warm = []
    for _ in range(20):
        t0 = time.perf_counter()
        modelled_skew(DS, ep(96, 96), tokens, alpha=0.3701)
        warm.append(time.perf_counter() - t0)
    assert first < 1.0  # measured 0.16–0.30 s on one core
    assert min(warm) < 2e-4  # measured 0.1 ms


def test_a_skew_does_not_depend_on_what_was_asked_before():
    # The cached Monte Carlo table draws each grid point from its own stream: the same call gives the same
    # factors whether its grid points were computed alone or together with others.
    import afdscope.routing.defaults as d

    d._TABLES.clear()
    alone = modelled_skew(DS, ep(64), 32.0).expert_load_factor
    d._TABLES.clear()
    modelled_skew(DS, ep(64), np.array([1.0, 4096.0]))  # fills a wide range of points first
    after = modelled_skew(DS, ep(64), 32.0).expert_load_factor
    assert alone == after
