"""Lay a deployment's stage times out as the operator sequence every micro-batch walks in a step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from afdscope.specs.model import MoEModel


@dataclass(frozen=True)
class Plan:
    """What to simulate. `ops[i]` is the resource of a micro-batch's i-th operator in a step (the same
    for every step; one tuple per micro-batch where they differ, e.g. AFD attention domains);
    `durations[s, j, i]` its time (s) in step s for micro-batch j."""

    resources: tuple[str, ...]
    ops: tuple
    labels: tuple[str, ...]  # one per operator, for the trace
    durations: np.ndarray  # (steps, micro_batches, len(ops))
    serial_s: np.ndarray  # (steps,)


def per_instance(x, shape: tuple[int, ...]) -> np.ndarray:
    """A stage time that is one number, or one per routing draw (flattened over `shape`), as `shape`."""
    x = np.asarray(x, dtype=float)
    return np.broadcast_to(x, shape) if x.size == 1 else x.reshape(shape)


def per_step(x, shape: tuple[int, ...]) -> np.ndarray:
    """A per-step quantity (dense layer, serial work) as (steps,): the evaluator broadcasts it over the
    routing draws, and MTP drafts make it follow the mean layer, so average the step's draws."""
    x = np.asarray(x, dtype=float)
    if x.size == 1:
        return np.full(shape[0], float(x.flat[0]))
    return x.reshape(shape).mean(axis=tuple(range(1, len(shape))))


def build_plan(
    model: MoEModel,
    resources: tuple[str, ...],
    moe_stages: list[tuple[int, str, np.ndarray]],
    dense_stage: tuple[int, np.ndarray],
    serial_s: np.ndarray,
) -> Plan:
    """`moe_stages`: (resource, name, times (steps, MoE layers, micro-batches)) in the order a
    micro-batch runs them in a MoE layer; `dense_stage`: (resource, times (steps, dense layers, m)).
    Layers follow the model's order, dense ones where `model.moe_layers` leaves gaps."""
    moe = set(model.moe_layers)
    ops, labels, moe_cols, dense_cols = [], [], [[] for _ in moe_stages], []
    for layer in range(model.num_layers):
        if layer in moe:
            for cols, (res, name, _) in zip(moe_cols, moe_stages, strict=True):
                cols.append(len(ops))
                ops.append(res)
                labels.append(f"L{layer} {name}")
        else:
            dense_cols.append(len(ops))
            ops.append(dense_stage[0])
            labels.append(f"L{layer} dense")
    steps, _, m = moe_stages[0][2].shape
    durations = np.empty((steps, m, len(ops)))
    for cols, (_, _, times) in zip(moe_cols, moe_stages, strict=True):
        durations[:, :, cols] = np.swapaxes(times, 1, 2)
    if dense_cols:
        durations[:, :, dense_cols] = np.swapaxes(dense_stage[1], 1, 2)
    return Plan(tuple(resources), tuple(ops), tuple(labels), durations, np.asarray(serial_s, dtype=float))
