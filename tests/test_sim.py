"""Discrete-event simulator: agrees with the closed forms when nothing is random, shows the bubbles the
paper predicts, and reacts to noise the way stragglers do. Few steps each, so the file runs in seconds."""

import json
from dataclasses import replace

import numpy as np
import pytest

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.calibration import named_calibration
from afdscope.errors import AfdscopeError
from afdscope.sim import SimOptions, simulate_afd, simulate_ep, trace_events, write_trace
from afdscope.sim.noise import max_lognormal, normal_quantile
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew

V3 = load_model("deepseek-v3")
H800 = load_hardware("h800")
CTX = Scenario(context_tokens=4096)
TWO = SimOptions(steps=2)


def _ep(hw, gpus, **kw):
    return EpDeployment(hardware=hw, gpus=gpus, **kw)


def _afd(attention_hw, ffn_hw, attention_gpus, ffn_gpus, micro_batches):
    return AfdDeployment(
        attention_hardware=attention_hw,
        ffn_hardware=ffn_hw,
        attention_gpus=attention_gpus,
        ffn_gpus=ffn_gpus,
        micro_batches=micro_batches,
    )


@pytest.mark.parametrize("m", [2, 3, 4])
def test_afd_without_noise_matches_the_closed_form(m):
    r = simulate_afd(V3, _afd(H800, H800, 32, 16, m), CTX, batch_per_gpu=32 * m, sim=TWO)
    assert abs(r.relative_gap) < 0.01
    # The closed form's once-per-step fill, min(round trip, m·stage) − stage, is what the event
    # simulation produces: the two agree to rounding.
    assert abs(r.relative_gap) < 1e-9
    assert r.step_ms[0] == pytest.approx(r.step_ms[1])


@pytest.mark.parametrize("overlap", ["2bo", "sbo", "nbo"])
@pytest.mark.parametrize("hw, batch", [("h800", 128), ("h20", 128), ("h800", 16)])
def test_ep_without_noise_matches_the_closed_form(overlap, hw, batch):
    dep = _ep(load_hardware(hw), 144, overlap=overlap)
    r = simulate_ep(V3, dep, CTX, batch_per_gpu=batch, sim=TWO)
    assert r.bubble_fraction.keys() == {"compute", "comm"}
    if overlap == "2bo":
        # The closed form counts every layer at its steady state plus one trailing combine; the stream
        # order's prologue and epilogue differ from that by well under a per-mille of the step.
        assert abs(r.relative_gap) < 2e-3
    else:
        assert abs(r.relative_gap) < 1e-9  # one micro-batch: the same sums in the same order


@pytest.mark.parametrize("overlap", ["2bo", "nbo"])
def test_ep_with_one_tp_group_matches_the_closed_form(overlap):
    # TP8 attention over EP8: no dispatch, an all-reduce combine; the event simulation runs the same
    # phases and settles at the closed form.
    dep = _ep(H800, 8, overlap=overlap, attention_tp=8)
    r = simulate_ep(V3, dep, CTX, batch_per_gpu=4, sim=TWO)
    assert abs(r.relative_gap) < (2e-3 if overlap == "2bo" else 1e-9)


def test_ep_2bo_stalls_when_the_combine_outlasts_its_window():
    # A slow network (1 GB/s per GPU) makes every transfer longer than the compute it can hide behind.
    slow = H800.model_copy(update={"scale_out_bandwidth": 1e9})
    r = simulate_ep(V3, _ep(slow, 144), CTX, batch_per_gpu=128, sim=TWO)
    assert abs(r.relative_gap) < 0.01  # stalls make the first and last layers differ more
    cf = r.closed_form["per_layer_us"]
    assert cf["combine"] > cf["attention"]  # the window (second attention half) is shorter than the combine
    assert r.bubble_fraction["compute"] > 0.3


def test_half_duplex_link_matches_when_not_saturated():
    paper_cal = named_calibration("paper")  # half duplex, no pipeline fill in the closed form
    paper = load_hardware("h800", "paper")
    r = simulate_afd(V3, _afd(paper, paper, 32, 16, 3), CTX, batch_per_gpu=96, calibration=paper_cal, sim=TWO)
    assert abs(r.relative_gap) < 0.01
    assert r.bubble_fraction.keys() == {"attention", "ffn", "link"}


def _three_stage(scale_out: float):
    hw = H800.model_copy(update={"scale_out_bandwidth": H800.scale_out_bandwidth * scale_out})
    scenario = Scenario(context_tokens=16384)
    dep = _afd(hw, hw, 32, 32, 3)
    ev = evaluate_afd(V3, dep, scenario, 24)
    r = simulate_afd(V3, dep, scenario, batch_per_gpu=24, sim=TWO)
    t_a, t_f = float(ev.attention_s), float(ev.ffn_s)
    t_c = float(ev.dispatch_s + ev.combine_s)
    return ev, r, 2 * t_a >= t_f + t_c


def test_attention_never_waits_when_two_attention_stages_cover_ffn_and_comm():
    ev, r, condition = _three_stage(1.0)
    assert condition and float(ev.attention_s) >= float(ev.ffn_s)
    assert r.bubble_fraction["attention"] == pytest.approx(0.0, abs=1e-9)
    assert r.bubble_fraction["ffn"] > 0.1  # the FFN waits instead


def test_comm_heavy_three_stage_pipeline_leaves_attention_bubbles():
    ev, r, condition = _three_stage(0.05)  # scale-out cut to 2.5 GB/s per GPU
    assert not condition
    # Steady state: attention is busy m·t_a of every layer; the dense layers (always busy) dilute it.
    steady = 1 - 3 * float(ev.attention_s) / float(ev.layer_s)
    assert r.bubble_fraction["attention"] > 0.05
    assert r.bubble_fraction["attention"] == pytest.approx(steady, abs=0.02)
    assert abs(r.relative_gap) < 0.01


def test_same_seed_same_result_and_another_seed_differs():
    sim = SimOptions(steps=4, seed=7, jitter_cv=0.1, spike_prob=1e-3, spike_size=5)
    dep = _afd(H800, H800, 32, 16, 3)
    a = simulate_afd(V3, dep, CTX, batch_per_gpu=96, sim=sim)
    b = simulate_afd(V3, dep, CTX, batch_per_gpu=96, sim=sim)
    assert a.step_ms == b.step_ms and a.bubble_fraction == b.bubble_fraction
    c = simulate_afd(V3, dep, CTX, batch_per_gpu=96, sim=SimOptions(steps=4, seed=8))
    assert c.step_ms != a.step_ms


def test_jitter_raises_p99_above_p50_and_costs_throughput():
    sim = SimOptions(steps=30, seed=1, jitter_cv=0.1)
    afd = simulate_afd(V3, _afd(H800, H800, 32, 16, 3), CTX, batch_per_gpu=96, sim=sim)
    ep = simulate_ep(V3, _ep(H800, 144), CTX, batch_per_gpu=128, sim=sim)
    for r in (afd, ep):
        assert r.tpot_ms_p99 > r.tpot_ms_p50
        assert r.relative_gap < -0.01  # every stage waits for its slowest rank


def test_a_certain_spike_scales_every_operator():
    base = simulate_ep(V3, _ep(H800, 64), CTX, batch_per_gpu=64, sim=TWO)
    spiked = simulate_ep(
        V3, _ep(H800, 64), CTX, batch_per_gpu=64, sim=SimOptions(steps=2, spike_prob=1, spike_size=3)
    )
    assert spiked.step_ms[0] == pytest.approx(3 * base.step_ms[0])


def test_power_law_routing_slows_the_busiest_expert_gpu():
    # Against the balanced closed form: drawn power-law routing makes every layer wait for its hottest GPU.
    sim = SimOptions(steps=2, routing="power-law", alpha=0.5, seed=3)
    ideal = "balanced"
    ep = simulate_ep(V3, _ep(H800, 144), CTX, batch_per_gpu=128, skew=ideal, sim=sim)
    assert ep.relative_gap < -0.05
    assert simulate_ep(V3, _ep(H800, 144), CTX, batch_per_gpu=128, skew=ideal, sim=sim).step_ms == ep.step_ms
    afd = simulate_afd(
        V3, _afd(H800, H800, 32, 16, 3), CTX, batch_per_gpu=96, skew=ideal, sim=replace(sim, alpha=1.0)
    )
    assert afd.relative_gap < 0 and afd.tpot_ms_p50 > afd.closed_form["tpot_ms"]
    with pytest.raises(AfdscopeError, match="power-law routing, alpha 11"):
        simulate_ep(V3, _ep(H800, 144), CTX, batch_per_gpu=128, sim=replace(sim, alpha=11.0))


def test_max_of_n_lognormals_drawn_directly_matches_brute_force():
    rng = np.random.default_rng(0)
    cv, n = 0.2, 64
    s2 = np.log1p(cv * cv)
    brute = np.exp(rng.normal(-s2 / 2, np.sqrt(s2), (20000, n))).max(axis=1)
    direct = max_lognormal(rng, (200000,), n, cv)
    assert direct.mean() == pytest.approx(brute.mean(), rel=0.01)
    assert np.percentile(direct, 99) == pytest.approx(np.percentile(brute, 99), rel=0.02)
    assert max_lognormal(rng, (100000,), 1, cv).mean() == pytest.approx(1.0, rel=0.005)  # mean-1 jitter
    p = np.array([1e-12, 1e-4, 0.02, 0.3, 0.5, 0.9, 0.999])
    from statistics import NormalDist

    assert normal_quantile(p) == pytest.approx([NormalDist().inv_cdf(x) for x in p], rel=1e-8)


def test_trace_is_a_perfetto_json_of_one_step(tmp_path):
    r = simulate_afd(
        V3, _afd(H800, H800, 32, 16, 3), CTX, batch_per_gpu=96, sim=SimOptions(steps=3, trace_step=1)
    )
    path = write_trace(r, tmp_path / "step.json")
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    # 3 micro-batches × (3 dense + 58 × 4 MoE operators), plus the step's serial work.
    assert len(spans) == 3 * (3 + 58 * 4) + 1
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names == {"attention", "link A→F", "ffn", "link F→A", "serial"}
    end = max(e["ts"] + e["dur"] for e in spans)
    assert end == pytest.approx(r.step_ms[1] * 1e3)
    assert trace_events(r) == trace
    with pytest.raises(AfdscopeError, match="JSON"):
        write_trace(r, tmp_path / "step.txt")


def test_bad_options_are_errors():
    with pytest.raises(AfdscopeError, match="steps"):
        SimOptions(steps=0)
    with pytest.raises(AfdscopeError, match="spike"):
        SimOptions(spike_prob=1.5)


AFD_ARGS = ["--model", "deepseek-v3", "--hardware", "h800", "--attention-gpus", "32", "--ffn-gpus", "16"]


def test_cli_simulate_afd_json_and_trace(tmp_path, cli):
    trace = tmp_path / "t.json"
    args = [*AFD_ARGS, "--context", "4096", "--tpot-slo-ms", "60", "--steps", "3", "--jitter-cv", "0.05"]
    r = cli("simulate", "afd", *args, "--trace", str(trace), "-f", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"tpot_ms_p50", "tpot_ms_p99", "tokens_per_s_per_gpu", "bubble_fraction", "closed_form"} <= set(d)
    assert {"relative_gap", "events", "wall_s"} <= set(d) and len(d["tpot_ms"]) == 3
    assert d["batch_per_gpu"] == d["closed_form"]["batch_per_gpu"] and d["closed_form"]["tpot_ms"] <= 60
    assert json.loads(trace.read_text())["traceEvents"]


def test_cli_simulate_ep_table_and_bad_input(tmp_path, cli):
    ep = [
        "simulate",
        "ep",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--gpus",
        "144",
        "--context",
        "4096",
    ]
    r = cli(*ep, "--batch-per-gpu", "64", "--steps", "2")
    assert r.returncode == 0, r.stderr
    assert "tokens/s per GPU" in r.stdout and "events in" in r.stderr
    for extra, needle in (
        (["--batch-per-gpu", "64", "--trace", str(tmp_path / "t.txt")], "--trace"),
        ([], "--batch-per-gpu"),
    ):
        r = cli(*ep, *extra)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and needle in r.stderr, r.stderr
    assert not list(tmp_path.iterdir())


def test_load_factor_options_reach_the_simulated_column():
    skew = RoutingSkew(expert_load_factor=2.0, comm_load_factor=2.0)
    r = simulate_ep(V3, _ep(H800, 144), CTX, batch_per_gpu=128, skew=skew, sim=TWO)
    # Balanced draws multiply the options' factors by 1: simulation and closed form see the same skew.
    assert abs(r.relative_gap) < 0.01


@pytest.mark.parametrize("domains", [2, 3])
def test_afd_with_attention_domains_matches_the_closed_form(domains):
    from afdscope.specs.deployment import AfdDeployment

    dep = AfdDeployment(
        attention_hardware=H800,
        ffn_hardware=H800,
        attention_gpus=16 * domains,
        ffn_gpus=16,
        micro_batches=2,
        attention_domains=domains,
    )
    r = simulate_afd(V3, dep, CTX, batch_per_gpu=64, sim=TWO)
    # D·m micro-batches share the FFN GPUs and links; each domain's m its own attention pool.
    assert abs(r.relative_gap) < 0.01
    assert r.bubble_fraction.keys() == {"attention", "ffn", "link"}
    assert r.closed_form["config"]["attention_domains"] == domains
