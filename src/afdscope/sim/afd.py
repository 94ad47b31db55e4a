"""Simulate AFD decode steps: m micro-batches ping-pong between attention and FFN GPUs.

Per MoE layer a micro-batch runs attention (its domain's attention GPUs) → A2F dispatch (link) → routed
experts (FFN GPUs) → F2A combine (link) → the next layer. A full-duplex link is two resources, one per
direction; a half-duplex one is a single resource both transfers queue on. With D attention domains, D·m
micro-batches share the FFN GPUs and the links while each domain's m run on its own attention GPUs.
Dense layers run on the attention GPUs. Stage times are the evaluator's (`evaluate_afd`), so with no
noise the simulated layer settles at the closed form's max(m · max(t_a, D·max(t_f, t_c)), round trip).
"""

from __future__ import annotations

import time

from afdscope.deploy.afd import eval_afd, evaluate_afd
from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.sim import engine
from afdscope.sim.noise import random_streams, stage_multipliers
from afdscope.sim.options import DEFAULT_SIM, SimOptions
from afdscope.sim.plan import build_plan, per_instance, per_step
from afdscope.sim.result import SimResult, summarise
from afdscope.sim.routing import drawn_skew, load_factors
from afdscope.specs.deployment import AfdDeployment
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew


def simulate_afd(
    model: MoEModel,
    deployment: AfdDeployment,
    scenario: Scenario,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
    *,
    sim: SimOptions = DEFAULT_SIM,
) -> SimResult:
    """Simulate `sim.steps` decode steps at a batch per attention GPU, or at the batch the closed form
    picks for a TPOT SLO."""
    t0 = time.perf_counter()
    dep = deployment
    # The closed form validates the inputs and, under an SLO, picks the batch.
    closed = eval_afd(model, dep, scenario, batch_per_gpu, tpot_slo_s, calibration, skew)
    batch, m, domains = closed.batch_per_gpu, dep.micro_batches, dep.attention_domains
    mbs = domains * m
    shape = (sim.steps, model.n_moe_layers, mbs)
    noise_rng, routing_seed = random_streams(sim.seed)
    per_domain = dep.attention_gpus // domains
    tokens = batch / m * scenario.query_positions * per_domain  # one micro-batch of one domain
    base = evaluate_afd(model, dep, scenario, batch, calibration, skew).skew
    expert_f, comm_f = load_factors(
        model,
        sim,
        tokens,
        shape,
        routing_seed,
        mode="afd",
        expert_gpus=dep.ffn_gpus,
        redundant=dep.redundant_for(model),
        gpus_per_node=dep.ffn_hardware.gpus_per_node,
    )
    ev = evaluate_afd(model, dep, scenario, batch, calibration, drawn_skew(base, skew, expert_f, comm_f))

    # Every stage waits for the slowest rank of the side that runs it; a transfer for every NIC.
    n_link = per_domain + dep.ffn_gpus
    stages = [
        ("attention", ev.attention_s, per_domain),
        ("dispatch", ev.dispatch_s, n_link),
        ("ffn", ev.ffn_s, dep.ffn_gpus),
        ("combine", ev.combine_s, n_link),
    ]
    times = {
        name: per_instance(t, shape) * stage_multipliers(noise_rng, shape, n, sim) for name, t, n in stages
    }
    dense_shape = (sim.steps, model.n_dense_layers, mbs)
    dense = per_step(ev.dense_layer_s / m, shape)[:, None, None] * stage_multipliers(
        noise_rng, dense_shape, per_domain, sim
    )
    serial = per_step(ev.serial_s, shape) * stage_multipliers(noise_rng, (sim.steps,), per_domain, sim)

    # Resources: one attention pool per domain, then the link(s) and the FFN GPUs.
    attention = tuple(f"attention {d}" if domains > 1 else "attention" for d in range(domains))
    if calibration.comm.full_duplex:
        resources = (*attention, "link A→F", "ffn", "link F→A")
        route = (0, domains, domains + 1, domains + 2)
        roles = {"attention": list(range(domains)), "ffn": [domains + 1], "link": [domains, domains + 2]}
    else:
        resources = (*attention, "link", "ffn")
        route = (0, domains, domains + 1, domains)
        roles = {"attention": list(range(domains)), "ffn": [domains + 1], "link": [domains]}
    moe_stages = [(r, name, times[name]) for r, (name, _, _) in zip(route, stages, strict=True)]
    plan = build_plan(model, resources, moe_stages, (0, dense), serial)
    if domains > 1:
        # Micro-batch j belongs to domain j // m: its attention (and dense) operators run on that pool.
        ops = tuple(tuple(j // m if r == 0 else r for r in plan.ops) for j in range(mbs))
        plan = type(plan)(plan.resources, ops, plan.labels, plan.durations, plan.serial_s)
    run = engine.run(plan, sim.trace_step)
    return summarise(
        "afd", run, closed, dep.attention_gpus, ev.tokens_per_step, roles, sim, time.perf_counter() - t0
    )
