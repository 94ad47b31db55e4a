"""Constants of the deployment model checked against the sources their comments name, worked by hand."""

import pytest

from afdscope.deploy.calibration import CALIBRATIONS, DEFAULT_CALIBRATION
from afdscope.specs.deployment import USUAL_EPLB_SHARE, eplb_redundant


def test_comm_stream_share_is_the_mean_of_the_published_kernel_traces():
    # Kernel time on the compute stream / transfer time, per the traces named in calibration.py:
    # SGLang H100 EP72 dispatch 165 µs of 2 × 200 µs, combine 175 of 2 × 370; DeepSeek H800 EP128
    # dispatch 85 of 192, combine 37 of 369.
    dispatch = (165 / 400 + 85 / 192) / 2  # 0.428
    combine = (175 / 740 + 37 / 369) / 2  # 0.168
    share_d, share_k = DEFAULT_CALIBRATION.comm_stream_share
    assert share_d == pytest.approx(dispatch, abs=0.01)
    assert share_k == pytest.approx(combine, abs=0.01)
    # The paper's accounting hides no kernel time on the stream.
    assert CALIBRATIONS["paper"].comm_stream_share == (0.0, 0.0)


def test_usual_eplb_share_is_deepseeks_32_redundant_of_256():
    assert 256 * USUAL_EPLB_SHARE == 32


@pytest.mark.parametrize(
    "experts, ranks, share, redundant",
    [
        (256, 72, 0.125, 32),  # 288 slots = 4 per GPU exactly
        (256, 128, 0.125, 128),  # 288 → ⌈2.25⌉ = 3 per GPU → 384 slots
        (256, 48, 0.0, 32),  # no share: an uneven 256 / 48 still fills ⌈5.33⌉ = 6 per GPU → 288
        (128, 16, 0.125, 16),  # 144 slots = 9 per GPU exactly
        (256, 256, 0.0, 0),  # one expert per GPU, no replicas
    ],
)
def test_eplb_redundant_fills_every_rank(experts, ranks, share, redundant):
    assert eplb_redundant(experts, ranks, share) == redundant
