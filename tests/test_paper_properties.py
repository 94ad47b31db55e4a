"""Invariants of the paper model over random but valid hardware and models (Hypothesis)."""

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from afdscope.catalog.model_catalog import load_model
from afdscope.paper.ceiling import hfu_ceiling
from afdscope.paper.ffn_rank import RankProblem, rank_curve
from afdscope.paper.options import PaperOptions
from afdscope.specs.hardware import Hardware, Sustained

MODELS = ["deepseek-v3", "kimi-k2", "step3", "qwen3-coder-480b", "ernie-4.5-300b", "glm-4.7", "mixtral-8x22b"]
N_F = np.arange(1, 65)
PROFILE = settings(max_examples=int(os.environ.get("AFDSCOPE_PROPERTY_EXAMPLES", "60")), deadline=None)

hardware_fields = st.fixed_dictionaries(
    {
        "fp8_flops": st.floats(50e12, 20e15),
        "hbm_capacity": st.floats(16e9, 400e9),
        "hbm_bandwidth": st.floats(0.5e12, 20e12),
        "scale_up_bandwidth": st.floats(10e9, 2e12),
        "scale_up_domain": st.sampled_from([8, 16, 72, 384]),
        "scale_out_bandwidth": st.floats(5e9, 400e9),
    }
)


def make_hw(**f) -> Hardware:
    return Hardware(
        name="random",
        display_name="random",
        value_set="paper",
        bf16_flops=f["fp8_flops"] / 2,
        sustained=Sustained(compute=1, hbm=1, scale_up=1, scale_out=1),
        **f,
    )


options_st = st.builds(
    PaperOptions,
    slo_s=st.floats(0.02, 0.2),
    accepted_tokens_per_step=st.floats(1.0, 3.0),
    step_gap_s=st.floats(0.0, 0.015),
    full_duplex=st.booleans(),
    dedup=st.sampled_from(["paper", "hypergeometric"]),
)


@PROFILE
@given(hardware_fields, st.sampled_from(MODELS), options_st)
def test_utilisations_are_fractions_and_hfu_is_ofu_times_sparsity(f, model, options):
    c = rank_curve(RankProblem.single(load_model(model), make_hw(**f)), N_F, options)
    for arr in (c.hfu, c.ofu, c.temporal_sparsity, c.tokens_per_rank, c.intensity):
        assert np.all(np.isfinite(arr)) and np.all(arr >= 0)
    assert np.all(c.hfu <= 1 + 1e-12)
    assert np.all(c.ofu <= 1 + 1e-12)
    # S_t exceeds 1 only where the local experts cannot even stream within t_B (infeasible).
    assert np.all(c.temporal_sparsity[c.bandwidth_ok] <= 1 + 1e-12)
    np.testing.assert_allclose(c.hfu, c.ofu * c.temporal_sparsity, rtol=1e-9)


@PROFILE
@given(
    hardware_fields,
    st.sampled_from(MODELS),
    st.sampled_from(["scale_out_bandwidth", "scale_up_bandwidth", "hbm_bandwidth", "hbm_capacity"]),
    st.floats(1.0, 4.0),
)
def test_more_bandwidth_or_memory_never_lowers_the_ceiling(f, model, field, factor):
    m = load_model(model)
    base = hfu_ceiling(m, make_hw(**f), PaperOptions())
    more = hfu_ceiling(m, make_hw(**(f | {field: f[field] * factor})), PaperOptions())
    assert more.hfu_unconstrained >= base.hfu_unconstrained * (1 - 1e-9)
    if base.hfu_ceiling is not None:
        assert more.hfu_ceiling is not None and more.hfu_ceiling >= base.hfu_ceiling * (1 - 1e-9)


@PROFILE
@given(hardware_fields, st.sampled_from(MODELS), st.floats(0.02, 0.1), st.floats(1.0, 3.0))
def test_a_longer_slo_never_lowers_the_ceiling(f, model, slo_s, factor):
    m, hw = load_model(model), make_hw(**f)
    base = hfu_ceiling(m, hw, PaperOptions(slo_s=slo_s))
    longer = hfu_ceiling(m, hw, PaperOptions(slo_s=slo_s * factor))
    if base.hfu_ceiling is not None:
        assert longer.hfu_ceiling is not None and longer.hfu_ceiling >= base.hfu_ceiling * (1 - 1e-9)


@PROFILE
@given(hardware_fields, st.sampled_from(MODELS))
def test_corrections_only_raise_hfu(f, model):
    """Full duplex and hypergeometric dedup carry more tokens per link, so HFU never falls."""
    p = RankProblem.single(load_model(model), make_hw(**f))
    base = rank_curve(p, N_F, PaperOptions()).hfu
    for opts in (PaperOptions(full_duplex=True), PaperOptions(dedup="hypergeometric")):
        assert np.all(rank_curve(p, N_F, opts).hfu >= base * (1 - 1e-9))


@PROFILE
@given(hardware_fields, st.sampled_from(MODELS))
def test_spec_round_trips_through_json(f, model):
    hw = make_hw(**f)
    again = Hardware.model_validate_json(hw.model_dump_json())
    m = load_model(model)
    assert hfu_ceiling(m, again, PaperOptions()) == hfu_ceiling(m, hw, PaperOptions())
