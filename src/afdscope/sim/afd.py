"""Simulate AFD decode steps: m micro-batches ping-pong between attention and FFN GPUs.

Per MoE layer a micro-batch runs attention (attention GPUs) → A2F dispatch (link) → routed experts
(FFN GPUs) → F2A combine (link) → the next layer. A full-duplex link is two resources, one per
direction; a half-duplex one is a single resource both transfers queue on. Dense layers run on the
attention GPUs. Stage times are the evaluator's (`evaluate_afd`), so with no noise the simulated
layer settles at the closed form's max(m · max(t_a, t_f, t_c), t_a + t_d + t_f + t_comb).
"""

from __future__ import annotations

import time

from afdscope.deploy.afd import eval_afd, evaluate_afd
from afdscope.deploy.options import DEFAULT_OPTIONS, DeployOptions
from afdscope.sim import engine
from afdscope.sim.noise import random_streams, stage_multipliers
from afdscope.sim.options import DEFAULT_SIM, SimOptions
from afdscope.sim.plan import build_plan, per_instance, per_step
from afdscope.sim.result import SimResult, summarise
from afdscope.sim.routing import load_factors, with_drawn_skew
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario


def simulate_afd(
    model: MoEModel,
    attention_hw: Hardware,
    ffn_hw: Hardware,
    scenario: Scenario,
    attention_gpus: int,
    ffn_gpus: int,
    micro_batches: int = 3,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    options: DeployOptions = DEFAULT_OPTIONS,
    *,
    whole_nodes: bool = True,
    attention_tp: int = 1,
    expert_tp: int = 1,
    sim: SimOptions = DEFAULT_SIM,
) -> SimResult:
    """Simulate `sim.steps` decode steps at a batch per attention GPU, or at the batch the closed form
    picks for a TPOT SLO."""
    t0 = time.perf_counter()
    deployment = dict(whole_nodes=whole_nodes, attention_tp=attention_tp, expert_tp=expert_tp)
    # The closed form validates the inputs and, under an SLO, picks the batch.
    closed = eval_afd(
        model,
        attention_hw,
        ffn_hw,
        scenario,
        attention_gpus,
        ffn_gpus,
        micro_batches,
        batch_per_gpu=batch_per_gpu,
        tpot_slo_s=tpot_slo_s,
        options=options,
        **deployment,
    )
    batch, m = closed.batch_per_gpu, micro_batches
    shape = (sim.steps, model.n_moe_layers, m)
    noise_rng, routing_seed = random_streams(sim.seed)
    tokens = batch / m * scenario.query_positions * attention_gpus  # one micro-batch, all attention GPUs
    expert_f, comm_f = load_factors(
        model,
        sim,
        tokens,
        shape,
        routing_seed,
        mode="afd",
        expert_gpus=ffn_gpus,
        redundant=options.memory.redundant_experts,
        gpus_per_node=ffn_hw.gpus_per_node,
    )
    skewed = with_drawn_skew(options, expert_f, comm_f)
    ev = evaluate_afd(
        model, attention_hw, ffn_hw, scenario, attention_gpus, ffn_gpus, m, batch, skewed, **deployment
    )

    # Every stage waits for the slowest rank of the side that runs it; a transfer for every NIC.
    n_a, n_link = attention_gpus, attention_gpus + ffn_gpus
    stages = [
        ("attention", ev.attention_s, n_a),
        ("dispatch", ev.dispatch_s, n_link),
        ("ffn", ev.ffn_s, ffn_gpus),
        ("combine", ev.combine_s, n_link),
    ]
    times = {
        name: per_instance(t, shape) * stage_multipliers(noise_rng, shape, n, sim) for name, t, n in stages
    }
    dense_shape = (sim.steps, model.n_dense_layers, m)
    dense = per_step(ev.dense_layer_s / m, shape)[:, None, None] * stage_multipliers(
        noise_rng, dense_shape, n_a, sim
    )
    serial = per_step(ev.serial_s, shape) * stage_multipliers(noise_rng, (sim.steps,), n_a, sim)

    if options.comm.full_duplex:
        resources = ("attention", "link A→F", "ffn", "link F→A")
        route = (0, 1, 2, 3)
        roles = {"attention": [0], "ffn": [2], "link": [1, 3]}
    else:
        resources = ("attention", "link", "ffn")
        route = (0, 1, 2, 1)
        roles = {"attention": [0], "ffn": [2], "link": [1]}
    moe_stages = [(r, name, times[name]) for r, (name, _, _) in zip(route, stages, strict=True)]
    plan = build_plan(model, resources, moe_stages, (0, dense), serial)
    run = engine.run(plan, sim.trace_step)
    return summarise(
        "afd", run, closed, attention_gpus, ev.tokens_per_step, roles, sim, time.perf_counter() - t0
    )
