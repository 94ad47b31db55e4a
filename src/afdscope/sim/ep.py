"""Simulate large-scale EP decode steps: every GPU runs attention and experts, and takes part in the
dispatch and combine all-to-alls.

A GPU is two resources, its compute stream and its network. The stream runs the overlap scheme's
segments in their fixed order (deploy/schedules.py, sim/ep_stream.py): under 2BO two micro-batches
alternate so that one's transfers run under the other's compute; under SBO the dispatch runs under the
shared expert and the combine under the down GEMM; under NBO nothing overlaps. Segment and transfer
times are `evaluate_ep`'s phases, so without noise a step settles at the closed form. Every segment
waits for the slowest of the `gpus` ranks (the all-to-alls synchronise the group).
"""

from __future__ import annotations

import time

from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.ep import eval_ep, evaluate_ep
from afdscope.sim import ep_stream
from afdscope.sim.noise import random_streams, stage_multipliers
from afdscope.sim.options import DEFAULT_SIM, SimOptions
from afdscope.sim.plan import per_instance, per_step
from afdscope.sim.result import SimResult, summarise
from afdscope.sim.routing import drawn_skew, load_factors
from afdscope.specs.deployment import EpDeployment
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew


def simulate_ep(
    model: MoEModel,
    deployment: EpDeployment,
    scenario: Scenario,
    batch_per_gpu: int | None = None,
    tpot_slo_s: float | None = None,
    calibration: Calibration = DEFAULT_CALIBRATION,
    skew: RoutingSkew | str | None = None,
    *,
    sim: SimOptions = DEFAULT_SIM,
) -> SimResult:
    """Simulate `sim.steps` decode steps at a batch per GPU, or at the batch the closed form picks for
    a TPOT SLO. Overlap schemes 2BO, SBO and NBO."""
    dep = deployment
    scheme, gpus = dep.overlap, dep.gpus
    t0 = time.perf_counter()
    closed = eval_ep(model, dep, scenario, batch_per_gpu, tpot_slo_s, calibration, skew)
    batch = closed.batch_per_gpu
    mb = dep.micro_batches
    shape = (sim.steps, model.n_moe_layers, mb)
    noise_rng, routing_seed = random_streams(sim.seed)
    tokens = batch / mb * scenario.query_positions * gpus  # one micro-batch over the EP group
    base = evaluate_ep(model, dep, scenario, batch, calibration, skew).skew
    expert_f, comm_f = load_factors(
        model,
        sim,
        tokens,
        shape,
        routing_seed,
        mode="ep",
        expert_gpus=gpus,
        redundant=dep.redundant_for(model),
    )
    ev = evaluate_ep(model, dep, scenario, batch, calibration, drawn_skew(base, skew, expert_f, comm_f))

    p = ev.phases
    tb = scheme == "2bo"  # the comm kernels' stream share is a 2BO term (else inside the transfer)
    noisy = {
        1: p.attn1,
        2: p.attn2 + (p.dispatch_stream if tb else 0.0),
        3: p.shared,
        4: p.experts + (p.combine_stream if tb else 0.0),
    }
    seg = {
        i: per_instance(t, shape) * stage_multipliers(noise_rng, shape, gpus, sim) for i, t in noisy.items()
    }
    comm = {
        name: per_instance(t, shape) * stage_multipliers(noise_rng, shape, gpus, sim)
        for name, t in (("dispatch", ev.dispatch_s), ("combine", ev.combine_s))
    }
    # The down GEMM is the same share of segment 4 with or without noise.
    down = seg[4] * (per_instance(p.experts_down, shape) / per_instance(noisy[4], shape))
    dense = per_step(ev.dense_layer_s, shape) * model.n_dense_layers
    dense = dense * stage_multipliers(noise_rng, (sim.steps,), gpus, sim)
    serial = per_step(ev.serial_s, shape) * stage_multipliers(noise_rng, (sim.steps,), gpus, sim)
    run = ep_stream.run(scheme, seg, comm["dispatch"], comm["combine"], down, dense, serial, sim.trace_step)
    roles = {"compute": [0], "comm": [1]}
    return summarise("ep", run, closed, gpus, ev.tokens_per_step, roles, sim, time.perf_counter() - t0)
