"""The paper's numbers (arXiv 2602.09721, spec paper-model.md §9), worked out by hand from its equations.

Every expected value below is computed in the test from the paper's constants, or printed in the
paper, never read back from afdscope's output.
"""

import math

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.ops.comm import assignments_per_node_token
from afdscope.paper.budget import layer_budget_s
from afdscope.paper.ceiling import hfu_ceiling, hfu_matrix
from afdscope.paper.ffn_rank import RankProblem, rank_curve, regime_boundaries
from afdscope.paper.options import PaperOptions, preset
from afdscope.paper.study import matrix_study

PAPER = PaperOptions()
N_F = np.arange(1, 65)


def hw(name):
    return load_hardware(name, "paper")


def curve(model, hardware, options=PAPER):
    return rank_curve(RankProblem.single(load_model(model), hw(hardware)), N_F, options)


def cell(cells, hardware, model):
    return next(c for c in cells if c.hardware == hardware and c.model == model)


@pytest.fixture(scope="module")
def matrix():
    return matrix_study()


# --- budget -------------------------------------------------------------------------------------


def test_layer_budget_is_336_us_for_61_layers_at_45_ms():
    # (45 ms · 1.7 − 15 ms) / (3 · 61) = 61.5 ms / 183
    assert layer_budget_s(0.045, 1.7, 0.015, 3, 61) == pytest.approx(0.0615 / 183)
    assert layer_budget_s(0.045, 1.7, 0.015, 3, 61) * 1e6 == pytest.approx(336.07, abs=0.01)


def test_layer_budget_vectorises_over_layers():
    t = layer_budget_s(0.045, 1.7, 0.015, 3, np.array([61, 92]))
    assert t == pytest.approx([0.0615 / 183, 0.0615 / 276])


def test_slo_below_the_step_gap_is_an_error_naming_the_minimum():
    # 8 ms × 1.7 = 13.6 ms < 15 ms: nothing left; the minimum SLO is 15/1.7 = 8.82 ms.
    with pytest.raises(AfdscopeError, match=r"8\.82 ms"):
        layer_budget_s(0.008, 1.7, 0.015, 3, 61)


# --- the matrix (paper Fig. 5) ------------------------------------------------------------------


def test_h800_deepseek_v3_ceiling_33_1_percent_at_two_nodes(matrix):
    c = cell(matrix, "h800", "deepseek-v3")
    # Scale-up plateau: 2·M·𝓑_up/F = 2·2048·160e9/1979e12
    assert c.hfu_ceiling == pytest.approx(2 * 2048 * 160e9 / 1979e12)
    assert round(c.hfu_ceiling * 100, 1) == 33.1
    assert c.n_ffn_nodes == 2
    assert c.limited_by == "comm_scale_up"
    assert c.memory_limited is None


@pytest.mark.parametrize("gpu", ["gb200", "gb300"])
@pytest.mark.parametrize("model", ["deepseek-v3", "kimi-k2"])
def test_superpod_deepseek_and_kimi_exactly_65_5_percent(matrix, gpu, model):
    c = cell(matrix, gpu, model)
    assert c.hfu_ceiling == pytest.approx(2 * 2048 * 720e9 / 4500e12)
    assert round(c.hfu_ceiling * 100, 1) == 65.5
    assert c.memory_limited is None


@pytest.mark.parametrize("gpu", ["gb200", "gb300"])
def test_superpod_glm_4_7_is_49_2_percent(matrix, gpu):
    c = cell(matrix, gpu, "glm-4.7")
    assert c.hfu_ceiling == pytest.approx(2 * 1536 * 720e9 / 4500e12)
    assert round(c.hfu_ceiling * 100, 1) == 49.2


@pytest.mark.parametrize("gpu", ["gb200", "gb300"])
@pytest.mark.parametrize("model", ["step3", "ernie-4.5-300b"])
def test_superpod_coarse_expert_models_reach_100_percent(matrix, gpu, model):
    # 2·M·𝓑_up/F > 1 for M = 5120 and 3584: compute bound.
    c = cell(matrix, gpu, model)
    assert c.hfu_ceiling == pytest.approx(1.0)
    assert c.limited_by == "compute"


@pytest.mark.parametrize("gpu", ["gb200", "gb300"])
def test_superpod_qwen3_coder_reaches_its_scale_up_ceiling(matrix, gpu):
    # The paper's equations give 2·2560·720e9/4500e12 = 81.9 %, the model's own maximum on a
    # Superpod (not 100 %: its M = 2560 is too small for 2·M·𝓑_up to exceed F).
    c = cell(matrix, gpu, "qwen3-coder-480b")
    assert c.hfu_ceiling == pytest.approx(2 * 2560 * 720e9 / 4500e12)
    assert c.hfu_ceiling == pytest.approx(c.hfu_unconstrained)


@pytest.mark.parametrize(
    ("gpu", "check"), [("h100", "hbm_capacity"), ("h200", "hbm_bandwidth")], ids=["h100", "h200"]
)
@pytest.mark.parametrize("model", ["deepseek-v3", "kimi-k2"])
def test_hopper_memory_limited_cells(matrix, gpu, check, model):
    c = cell(matrix, gpu, model)
    assert c.memory_limited == check
    # Ceiling at N_F = 2: K/N_F = 4 < ρ = 7.2 → 2·M·(𝓑_out·4)/F
    assert c.hfu_ceiling == pytest.approx(2 * 2048 * 200e9 / 1979e12)
    assert round(c.hfu_ceiling * 100, 1) == 41.4
    assert c.n_ffn_nodes == 2
    # Unconstrained at N_F = 1: min(8·50, 360) = 360 GB/s
    assert c.hfu_unconstrained == pytest.approx(2 * 2048 * 360e9 / 1979e12)
    assert round(c.hfu_unconstrained * 100, 1) == 74.5


def test_hopper_memory_figures_of_the_paper():
    # 58 MoE layers × 3·32·7168·2048 B = 81.7 GB per GPU at N_F = 1 (Kimi: 60 × 48 experts = 126.8 GB)
    v3 = curve("deepseek-v3", "h200")
    kimi = curve("kimi-k2", "h200")
    assert 58 * v3.weight_bytes[0] / 1e9 == pytest.approx(81.7, abs=0.05)
    assert 60 * kimi.weight_bytes[0] / 1e9 == pytest.approx(126.8, abs=0.05)
    # Streaming them at 4 TB/s takes 352 µs (528 µs) > t_B ≈ 336 µs.
    assert v3.weight_bytes[0] / 4e12 * 1e6 == pytest.approx(352.3, abs=0.1)
    assert kimi.weight_bytes[0] / 4e12 * 1e6 == pytest.approx(528.5, abs=0.1)
    assert not v3.bandwidth_ok[0] and v3.capacity_ok[0]
    assert not curve("deepseek-v3", "h100").capacity_ok[0]


def test_h20_is_compute_bound_at_100_percent(matrix):
    c = cell(matrix, "h20", "deepseek-v3")
    assert c.hfu_ceiling == pytest.approx(1.0)
    assert c.limited_by == "compute"
    # Comm-bound HFU would be 2·2048·360e9/296e12 ≈ 498 %: several hundred percent.
    assert 2 * 2048 * 360e9 / 296e12 > 4


def test_matrix_is_48_cells_in_hardware_major_order(matrix):
    assert len(matrix) == 48
    assert [c.hardware for c in matrix[:6]] == ["h20"] * 6
    assert all(0 <= c.hfu_ceiling <= 1 for c in matrix if c.hfu_ceiling is not None)


# --- regimes and the dead zone (paper Table 3, Fig. 4) ------------------------------------------


def test_h800_deepseek_v3_regime_boundaries():
    b = regime_boundaries(load_model("deepseek-v3"), hw("h800"), PAPER)
    assert (b.scale_up_end, b.dead_zone_start, b.max_intensity_start) == pytest.approx((2.5, 8, 32))
    assert b.floor_hfu == pytest.approx(2 * 2048 * 50e9 / 1979e12)
    assert round(b.floor_hfu * 100, 2) == 10.35


def test_h800_deepseek_v3_curve_regimes_and_normalised_intensity():
    c = curve("deepseek-v3", "h800")
    names = c.regime_names
    assert list(names[:2]) == ["scale_up_bound"] * 2  # K/N_F = 8, 4 > ρ = 3.2
    assert set(names[2:7]) == {"stable_intensity"}  # N_F = 3..7
    assert set(names[7:31]) == {"scale_out_bound"}  # N_F = 8..31
    assert set(names[31:]) == {"max_intensity"}  # G = 1 from N_F = 32
    norm = c.intensity / c.intensity[0]
    # Plateau: I = 2·B_out·K·g/N_exp → (50·8)/160 = 2.5 × I(1) where G divides evenly (N_F = 4, 8)
    assert norm[3] == pytest.approx(2.5) and norm[7] == pytest.approx(2.5)
    # From N_F = 32: I = 2·B_out → 32·50/160 = 10 × I(1)
    assert norm[31:] == pytest.approx(10.0)
    # Dead zone: HFU stuck at the floor from N_F = 8 on, while OFU rises and S_t falls.
    floor = 2 * 2048 * 50e9 / 1979e12
    assert c.hfu[7:] == pytest.approx(floor)
    assert c.ofu[31] > c.ofu[7] and c.temporal_sparsity[31] < c.temporal_sparsity[7]


def test_rho_of_h800_and_h20():
    assert hw("h800").effective_scale_up_bandwidth / hw("h800").effective_scale_out_bandwidth == 3.2
    assert hw("h20").effective_scale_up_bandwidth / hw("h20").effective_scale_out_bandwidth == 7.2


def test_hfu_is_ofu_times_temporal_sparsity():
    for m, h in [("deepseek-v3", "h800"), ("step3", "gb200"), ("glm-4.7", "h20")]:
        c = curve(m, h)
        assert c.hfu == pytest.approx(c.ofu * c.temporal_sparsity)


def test_per_rank_quantities_by_hand_at_n_f_4():
    # H800 × DeepSeek-V3, N_F = 4: G = ceil(256/32) = 8; B_rank = 𝓑_out·t_B/(3H)·K/N_F
    c = curve("deepseek-v3", "h800")
    t_b = 0.0615 / 183
    b_rank = 50e9 * t_b / (3 * 7168) * 2
    assert c.experts_per_gpu[3] == 8
    assert c.tokens_per_rank[3] == pytest.approx(b_rank)
    assert c.tokens_per_expert[3] == pytest.approx(b_rank / 8)
    flops = 6 * b_rank * 7168 * 2048
    mem = 3 * 8 * 7168 * 2048
    assert c.intensity[3] == pytest.approx(2 * b_rank / 8)
    t_g = max(flops / 1979e12, mem / 3.35e12)
    assert c.ofu[3] == pytest.approx(flops / (1979e12 * t_g))
    assert c.temporal_sparsity[3] == pytest.approx(t_g / t_b)


# --- §10 options ---------------------------------------------------------------------------------


def test_full_duplex_raises_every_comm_bound_hfu_by_half():
    base = hfu_ceiling(load_model("deepseek-v3"), hw("gb200"), PAPER)
    fd = hfu_ceiling(load_model("deepseek-v3"), hw("gb200"), preset("full-duplex"))
    assert fd.hfu_ceiling == pytest.approx(1.5 * base.hfu_ceiling)
    floor = regime_boundaries(load_model("deepseek-v3"), hw("h800"), preset("full-duplex")).floor_hfu
    assert floor == pytest.approx(1.5 * 2 * 2048 * 50e9 / 1979e12)


def test_hypergeometric_dedup_at_n_f_equals_k():
    # P(node touched) = 1 − C(224, 8)/C(256, 8); assignments per received token = 1/P ≈ 1.52
    p = 1 - math.comb(224, 8) / math.comb(256, 8)
    assert assignments_per_node_token(256, 8, 8, "hypergeometric") == pytest.approx(1 / p)
    assert 1.45 < 1 / p < 1.6
    assert assignments_per_node_token(256, 8, 8, "paper") == 1.0
    # N_F = 1: every token reaches the only node, both give K.
    assert assignments_per_node_token(256, 8, 1, "hypergeometric") == pytest.approx(8.0)
    # N_F = 4: 64 experts per node.
    p4 = 1 - math.comb(192, 8) / math.comb(256, 8)
    assert assignments_per_node_token(256, 8, 4, "hypergeometric") == pytest.approx(2 / p4)


def test_hypergeometric_dedup_lifts_the_dead_zone_floor():
    paper = curve("deepseek-v3", "h800")
    hyper = curve("deepseek-v3", "h800", preset("hypergeometric"))
    assert np.all(hyper.hfu >= paper.hfu * (1 - 1e-12))
    assert hyper.hfu[7] == pytest.approx(
        paper.hfu[7] * assignments_per_node_token(256, 8, 8, "hypergeometric")
    )


def test_bad_options_are_errors():
    with pytest.raises(AfdscopeError, match="slo_s"):
        preset("paper", slo_s=-1)
    with pytest.raises(AfdscopeError, match="unknown preset"):
        preset("fastest")


def test_matrix_vectorised_equals_cell_by_cell():
    models = [load_model(m) for m in ("deepseek-v3", "step3")]
    hws = [hw("h800"), hw("gb200")]
    cells = hfu_matrix(models, hws, PAPER)
    for c in cells:
        single = hfu_ceiling(load_model(c.model), hw(c.hardware), PAPER)
        assert single == c
