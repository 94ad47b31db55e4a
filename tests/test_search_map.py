"""Where-AFD-pays maps: axes, vectorised = looped, monotonic bandwidth, statuses."""

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.calibration import DEFAULT_CALIBRATION
from afdscope.errors import AfdscopeError
from afdscope.search.map import _cell_best, afd_ep_map, axis, paper_gpu_points
from afdscope.specs.scenario import Scenario

V3 = load_model("deepseek-v3")
H800 = load_hardware("h800")
CTX = Scenario(context_tokens=4096)


def test_axis_values():
    bw = axis("scale-out-bandwidth").values(25, 400, 5)
    assert bw == pytest.approx([25, 50, 100, 200, 400])  # geometric
    k = axis("experts-per-token").values(1, 8, 8)
    assert list(k) == [1, 2, 3, 4, 5, 6, 7, 8]  # linear integers
    with pytest.raises(AfdscopeError, match="unknown map axis"):
        axis("nvlink")
    with pytest.raises(AfdscopeError, match="range"):
        axis("context").values(4096, 1024, 4)


def test_vectorised_inner_axis_equals_cell_by_cell():
    x, y = axis("scale-out-bandwidth"), axis("hbm-bandwidth")
    xs, ys = np.array([25.0, 100.0]), np.array([2.0, 8.0])
    r = afd_ep_map(V3, H800, CTX, 0.05, x, y, xs, ys)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            hw = H800.model_copy(update={"scale_out_bandwidth": xv * 1e9, "hbm_bandwidth": yv * 1e12})
            ep, afd = _cell_best(V3, hw, CTX, DEFAULT_CALIBRATION, None, 256, 0.05, None)
            assert r.best_ep[i, j] == pytest.approx(ep[0]) and r.best_afd[i, j] == pytest.approx(afd[0])


def test_more_scale_out_bandwidth_never_lowers_either_mode():
    x, y = axis("scale-out-bandwidth"), axis("experts-per-token")
    r = afd_ep_map(V3, H800, CTX, 0.05, x, y, x.values(12.5, 400, 6), np.array([4.0, 8.0]))
    assert np.all(np.diff(r.best_ep, axis=1) >= -1e-9 * r.best_ep[:, 1:])
    assert np.all(np.diff(r.best_afd, axis=1) >= -1e-9 * r.best_afd[:, 1:])
    assert r.best_ep.shape == (2, 6)


def test_statuses_and_no_nan_in_rows():
    x, y = axis("tpot-slo"), axis("context")
    r = afd_ep_map(V3, H800, CTX, 0.05, x, y, np.array([3.0, 60.0]), np.array([4096.0]))
    rows = r.rows()
    assert rows[0]["status"] == "neither" and rows[0]["ratio"] is None  # 3 ms is below any step
    assert rows[1]["status"] == "both" and rows[1]["ratio"] == pytest.approx(
        rows[1]["afd_tokens_per_s_per_gpu"] / rows[1]["ep_tokens_per_s_per_gpu"]
    )


def test_paper_gpus_marked_at_their_datasheet_values():
    pts = {
        n: (px, py)
        for n, px, py in paper_gpu_points(
            axis("scale-out-bandwidth"), axis("scale-up-bandwidth"), V3, CTX, 0.05
        )
    }
    assert pts["h800"] == (50.0, 200.0) and pts["b300"] == (100.0, 900.0)
    assert len(pts) == 8


def test_same_axis_twice_is_an_error():
    a = axis("context")
    with pytest.raises(AfdscopeError, match="different"):
        afd_ep_map(V3, H800, CTX, 0.05, a, a, np.array([1024.0]), np.array([2048.0]))
