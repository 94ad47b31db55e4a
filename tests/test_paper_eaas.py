"""Expert-as-a-Service estimate (paper §5): ≈ 58× the AFD FFN nodes for DeepSeek-V3."""

import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.paper.eaas import eaas_estimate
from afdscope.paper.options import PaperOptions


def test_deepseek_v3_on_h800_needs_58_times_the_nodes():
    e = eaas_estimate(load_model("deepseek-v3"), load_hardware("h800", "paper"), PaperOptions())
    assert e.n_moe_layers == 58 and e.node_multiplier == 58
    assert e.afd_ffn_nodes == 2 and e.eaas_nodes == 116  # the AFD ceiling sits at N_F = 2
    # AFD: 16 experts per GPU × 58 layers × 3·7168·2048 B; EaaS: one layer's 16 experts.
    assert e.afd_expert_gb_per_gpu == pytest.approx(16 * 58 * 3 * 7168 * 2048 / 1e9)
    assert e.eaas_expert_gb_per_gpu == pytest.approx(16 * 3 * 7168 * 2048 / 1e9)
    assert e.eaas_hbm_used_fraction == pytest.approx(16 * 3 * 7168 * 2048 / 80e9)
