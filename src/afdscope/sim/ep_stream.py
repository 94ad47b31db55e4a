"""An EP GPU's decode step segment by segment: its compute stream runs a fixed order of segments, and
each dispatch or combine runs on the network between the segment that launches it and the one that
waits for it (deploy/schedules.py gives the orders and their closed forms).

Segments per micro-batch and MoE layer: 1 = first attention half, 2 = second half + the dispatch kernel
(launches the dispatch), 3 = shared experts, 4 = routed experts + the combine kernel (launches the
combine). Segment 1 of the next layer and segment 4 wait for the combine and the dispatch.

    2BO (micro-batches X, Y; Y half a layer behind):
        prologue X1 X2 Y1 X3, per layer X4 Y2 X1' Y3 Y4 X2' Y1' X3', epilogue X4 Y2 Y3 Y4
    SBO / NBO (one micro-batch): 1 2 3 4 per layer; SBO runs the dispatch under segment 3 and the combine
        under the down GEMM (its transfer starts with the down GEMM, the layer ends with both).

A plain recurrence over a known order (no event queue needed): segment start = max(stream free,
awaited transfer's end). Durations are arrays (steps, MoE layers, micro-batches) that already carry the
noise; dense layers run before the MoE layers on the stream, then the step's serial work.
"""

from __future__ import annotations

import time

import numpy as np

from afdscope.sim.engine import Run

RESOURCES = ("compute", "network")


def _order_2bo(n_layers: int) -> list[tuple[int, int, int]]:
    """(micro-batch, layer, segment) in stream order for two micro-batches."""
    order = [(0, 0, 1), (0, 0, 2), (1, 0, 1), (0, 0, 3)]
    for layer in range(n_layers - 1):
        n = layer + 1
        order += [(0, layer, 4), (1, layer, 2), (0, n, 1), (1, layer, 3)]
        order += [(1, layer, 4), (0, n, 2), (1, n, 1), (0, n, 3)]
    last = n_layers - 1
    return order + [(0, last, 4), (1, last, 2), (1, last, 3), (1, last, 4)]


def run(
    scheme: str,
    seg: dict[int, np.ndarray],
    dispatch: np.ndarray,
    combine: np.ndarray,
    down: np.ndarray,
    dense_s: np.ndarray,
    serial_s: np.ndarray,
    trace_step: int = 0,
) -> Run:
    """`seg[i]`: durations of segment i (steps, layers, micro-batches); `dispatch`, `combine`: transfer
    times; `down`: the down GEMM inside segment 4 (SBO's combine window); `dense_s`, `serial_s`: (steps,)."""
    t0 = time.perf_counter()
    steps, n_layers, m = dispatch.shape
    if scheme == "2bo":
        order = _order_2bo(n_layers)
    else:
        order = [(0, layer, i) for layer in range(n_layers) for i in (1, 2, 3, 4)]
    step_s = np.zeros(steps)
    busy = np.zeros(2)
    window = np.zeros(2)
    trace: list[tuple] = []
    events = 0
    seg_l = {i: seg[i].tolist() for i in seg}
    d_l, k_l, down_l = dispatch.tolist(), combine.tolist(), down.tolist()
    for s in range(steps):
        traced = s == trace_step
        t = float(dense_s[s])  # dense layers first, both micro-batches, nothing to overlap
        net_first, net_last = np.inf, 0.0
        d_end = [0.0] * m  # when each micro-batch's dispatch of the current layer arrives
        k_end = [0.0] * m  # ... its combine of the previous layer
        for j, layer, i in order:
            dur = seg_l[i][s][layer][j]
            if i == 1:
                start = max(t, k_end[j])
            elif i == 4 and scheme != "nbo":
                start = max(t, d_end[j])
            else:
                start = t
            end = start + dur
            if i == 2:  # the dispatch leaves when its kernel has run
                if scheme == "nbo":
                    end = end + d_l[s][layer][j]  # the stream waits for it
                else:
                    d_end[j] = end + d_l[s][layer][j]
                    net_first, net_last = min(net_first, end), max(net_last, d_end[j])
                    busy[1] += d_l[s][layer][j]
            elif i == 4:
                k = k_l[s][layer][j]
                if scheme == "nbo":
                    end = end + k
                elif scheme == "sbo":
                    k_start = end - down_l[s][layer][j]
                    end = max(end, k_start + k)
                    k_end[j] = end
                    net_first, net_last = min(net_first, k_start), max(net_last, k_start + k)
                    busy[1] += k
                else:
                    k_end[j] = end + k
                    net_first, net_last = min(net_first, end), max(net_last, k_end[j])
                    busy[1] += k
            busy[0] += dur
            events += 1
            if traced:
                trace.append(("compute", f"L{layer} seg{i}", j, start, start + dur))
            t = end
        t = max([t, *k_end])  # the last combines land
        if net_last > 0:
            window[1] += net_last - net_first
        window[0] += t - float(dense_s[s])
        busy[0] += float(dense_s[s])
        if traced:
            trace.append(("serial", "step serial work", -1, t, t + float(serial_s[s])))
        step_s[s] = t + float(serial_s[s])
    return Run(
        step_s=step_s,
        busy_s=busy,
        window_s=window,
        events=events,
        wall_s=time.perf_counter() - t0,
        trace=tuple(trace),
    )
