"""Expert placement and EPLB (afdscope.routing.placement), checked against hand packing and weight counts."""

import numpy as np
import pytest

from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError
from afdscope.routing import Popularity, contiguous_placement, eplb_memory_bytes, eplb_placement

DSV3 = load_model("deepseek-v3")  # 256 experts, top-8, 8 groups / top-4 groups, H = 7168, M = 2048


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
