"""Simulate large-scale EP decode steps: every GPU runs attention and experts, and takes part in the
dispatch and combine all-to-alls.

A GPU is two resources, its compute (SMs) and its communication (NIC/NVLink copy engines). Per MoE
layer a micro-batch runs a compute block (attention, shared and routed experts) then a communication
block (dispatch + combine); with two-batch overlap (2BO) one micro-batch's all-to-alls run under the
other's compute and the layer settles at the closed form's 2 · max(t_compute, t_dispatch + t_combine).
Without overlap (NBO) there is one micro-batch and nothing overlaps. Stage times are `evaluate_ep`'s.

The blocks are the closed form's abstraction of DeepSeek's split-attention schedule. Chaining the four
operators naively (attention → dispatch → experts → combine, FIFO) cannot interleave two micro-batches
when attention dominates: that runs up to ~15 % slower than 2 · max(·), which real 2BO avoids by
splitting attention in two.
"""

from __future__ import annotations

import time

from afdscope.deploy.ep import eval_ep, evaluate_ep
from afdscope.deploy.options import DEFAULT_OPTIONS, DeployOptions
from afdscope.errors import AfdscopeError
from afdscope.sim import engine
from afdscope.sim.noise import random_streams, stage_multipliers
from afdscope.sim.options import DEFAULT_SIM, SimOptions
from afdscope.sim.plan import build_plan, per_instance, per_step
from afdscope.sim.result import SimResult, summarise
from afdscope.sim.routing import load_factors, with_drawn_skew
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario


def simulate_ep(
    model: MoEModel,
    hw: Hardware,
    scenario: Scenario,
    gpus: int,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    options: DeployOptions = DEFAULT_OPTIONS,
    *,
    attention_tp: int = 1,
    sim: SimOptions = DEFAULT_SIM,
) -> SimResult:
    """Simulate `sim.steps` decode steps at a batch per GPU, or at the batch the closed form picks for
    a TPOT SLO. Overlap schemes 2BO and NBO."""
    if options.ep_overlap == "sbo":
        # SBO hides the all-to-all behind the shared expert alone, whose time Evaluation folds into ffn_s.
        raise AfdscopeError("the simulator runs EP with --overlap 2bo or nbo; sbo is closed-form only")
    t0 = time.perf_counter()
    closed = eval_ep(
        model,
        hw,
        scenario,
        gpus,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=tpot_slo_s,
        options=options,
        attention_tp=attention_tp,
    )
    batch = closed.batch_per_gpu
    mb = 2 if options.ep_overlap == "2bo" else 1
    shape = (sim.steps, model.n_moe_layers, mb)
    noise_rng, routing_seed = random_streams(sim.seed)
    tokens = batch / mb * scenario.query_positions * gpus  # one micro-batch over the EP group
    expert_f, comm_f = load_factors(
        model,
        sim,
        tokens,
        shape,
        routing_seed,
        mode="ep",
        expert_gpus=gpus,
        redundant=options.memory.redundant_experts,
    )
    skewed = with_drawn_skew(options, expert_f, comm_f)
    ev = evaluate_ep(model, hw, scenario, gpus, batch, skewed, attention_tp=attention_tp)

    # Two blocks per layer, as the closed form counts them: compute (attention, shared and routed
    # experts) and the all-to-alls (dispatch + combine). Every all-to-all synchronises the whole group,
    # so every stage waits for the slowest of `gpus`.
    stages = [(0, "compute", ev.attention_s + ev.ffn_s), (1, "all-to-all", ev.dispatch_s + ev.combine_s)]
    moe_stages = [
        (r, name, per_instance(t, shape) * stage_multipliers(noise_rng, shape, gpus, sim))
        for r, name, t in stages
    ]
    dense_shape = (sim.steps, model.n_dense_layers, mb)
    dense = per_step(ev.dense_layer_s / mb, shape)[:, None, None] * stage_multipliers(
        noise_rng, dense_shape, gpus, sim
    )
    serial = per_step(ev.serial_s, shape) * stage_multipliers(noise_rng, (sim.steps,), gpus, sim)
    plan = build_plan(model, ("compute", "comm"), moe_stages, (0, dense), serial)
    run = engine.run(plan, sim.trace_step)
    roles = {"compute": [0], "comm": [1]}
    return summarise("ep", run, closed, gpus, ev.tokens_per_step, roles, sim, time.perf_counter() - t0)
