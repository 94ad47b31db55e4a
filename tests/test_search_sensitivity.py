"""One found deployment examined (`afdscope.search.sensitivity`): EPLB sizing and the derived-σ share, by
hand. The σ sweep, derived σ and re-evaluation of a searched deployment are checked in test_report.py on
the report's own search."""

import numpy as np
import pytest

from afdscope.search.sensitivity import DerivedSigma, Sensitivity, eplb_slots


def test_eplb_slots():
    assert eplb_slots(256, 256) == 256  # 1 → 2 slots per GPU
    assert eplb_slots(256, 24) == 32  # 11 → 12 slots: 288 = 12 × 24
    assert eplb_slots(256, 144) == 176  # 2 → 3 slots
    for n, g in ((256, 64), (48, 16), (384, 40)):
        r = eplb_slots(n, g)
        assert (n + r) % g == 0 and (n + r) // g == -(-n // g) + 1


def test_share_of_balanced_by_hand():
    # A derived σ of 0.8 reaching 750 tokens/s per GPU against 1,000 at σ = 1 (the sweep's last point).
    d = DerivedSigma("ep", False, 0, 100, 1.25, 1.1, 750.0)
    sens = Sensitivity(np.array([0.5, 1.0]), {"ep": np.array([500.0, 1000.0])}, (d,), 1.01, 10, 0)
    assert sens.share_of_balanced(d) == pytest.approx(0.75)
    assert d.sigma == pytest.approx(0.8)
    none = Sensitivity(np.array([0.5, 1.0]), {"ep": np.array([0.0, 0.0])}, (d,), 1.01, 10, 0)
    assert np.isnan(none.share_of_balanced(d))
