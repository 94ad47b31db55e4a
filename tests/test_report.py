"""`afdscope report`: the page is self-contained and says what it should; every number behind it — the
step budget, memory headroom, σ sweep, derived σ — checked against the evaluator's fields by hand."""

import html
import re

import numpy as np
import pytest

from afdscope.deploy.afd import evaluate_afd
from afdscope.deploy.budget import (
    CATEGORIES,
    kv_bytes_per_gpu_request,
    layer_split,
    memory_headroom,
    step_budget,
)
from afdscope.deploy.calibration import DEFAULT_CALIBRATION
from afdscope.deploy.ep import evaluate_ep
from afdscope.report.deployment_report import _paper_view, build_report
from afdscope.report.html import CHARTS, fmt, map_layers, render_report, verdict_sentence
from afdscope.report.search_rows import config_label
from afdscope.search.sensitivity import (
    SIGMAS,
    best_under_slo,
    derived_sigma,
    reevaluate,
    sigma_sweep,
)
from afdscope.specs.deployment import AfdDeployment, EpDeployment
from afdscope.specs.scenario import Scenario
from afdscope.specs.skew import RoutingSkew
from afdscope.units import GB

LIMIT = 0.05
SCENARIO = Scenario(context_tokens=4096)


@pytest.fixture(scope="module")
def data():
    return build_report(model="deepseek-v3", hardware=["h800"], context=4096, tpot_slo_ms=50, max_gpus=64)


@pytest.fixture(scope="module")
def page(data):
    return render_report(data)


# ----------------------------------------------------------------------------------------- the page


def test_page_is_self_contained_with_plotly_embedded_once(page):
    # No external script or stylesheet: every <script> is inline, no <link> at all.
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" not in tag, tag
    assert not re.search(r"<link[^>]*href=[\"']?https?://", page)
    assert not re.search(r"<(?:script|img|iframe)[^>]*src=[\"']?(?:https?:)?//", page)
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1  # the bundle's banner: embedded once
    assert page.count("Plotly.newPlot(") == len(CHARTS)
    assert page.count('class="plotly-graph-div"') == len(CHARTS)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_page_has_the_verdict_and_both_best_configurations(data, page):
    import html

    s = data.search
    sentence = verdict_sentence(s)
    assert html.escape(sentence) in page
    assert f"AFD/EP = {s.verdict.ratio:.2f}" in sentence
    assert sentence.startswith(("EP wins", "AFD wins", "Too close to call"))
    # The verdict box answers both questions, each with its winner, and shows the expected-error band.
    v = s.verdict
    assert sentence.count(". ") == 1 and "Cost: " in sentence and v.cost_reason in sentence
    assert f"±{v.margin:.0%}" in sentence
    assert (v.cost_winner or "").upper() in v.cost_reason or v.cost_close
    for best in (s.afd.best, s.ep.best):
        assert html.escape(config_label(best)) in page
        assert fmt(best.tokens_per_s_per_gpu) in page
    for section in ("Pareto fronts", "Where the TPOT budget goes", "Imbalance sensitivity", "paper's view"):
        assert section.replace("'", "&#x27;") in page or section in page
    assert "Where AFD pays" in page
    assert data.version in page and data.generated_at in page and data.command in page


def test_verdict_sentence_names_the_loser_limit(data):
    s = data.search
    loser = s.afd.best if s.verdict.winner == "ep" else s.ep.best
    from afdscope.search import limit_sentence

    assert limit_sentence(loser) in verdict_sentence(s)


def test_verdict_sentence_when_nothing_is_feasible():
    d = build_report(model="deepseek-v3", hardware=["h800"], context=4096, tpot_slo_ms=15, max_gpus=16)
    assert d.search.verdict.winner is None and not d.budgets and not d.sensitivity.derived
    assert verdict_sentence(d.search).startswith("Neither mode is feasible")
    page = render_report(d)
    assert page.count("Plotly.newPlot(") == len(CHARTS)


def test_fmt():
    assert fmt(3371.2) == "3,371" and fmt(49.09) == "49.1" and fmt(0.2299) == "0.230"
    assert fmt(None) == "—" and fmt(float("nan")) == "—" and fmt(12) == "12" and fmt(0.0) == "0"


# ----------------------------------------------------------------------------------------- budget


def _by_hand_common(ev, model, options):
    step, serial = float(ev.step_s), float(ev.serial_s)
    layer, dense = float(ev.layer_s), float(ev.dense_layer_s)
    fill = step - serial - model.n_moe_layers * layer - model.n_dense_layers * dense
    return step, serial, layer, dense, fill


def test_ep_budget_adds_up_by_hand(data, ds, h800):
    best = data.search.ep.best
    options = DEFAULT_CALIBRATION
    ev = reevaluate(best, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION)
    b = step_budget(ev, ds, options, LIMIT)
    step, serial, layer, dense, fill = _by_hand_common(ev, ds, options)
    a, f = float(ev.attention_s), float(ev.ffn_s)
    p = ev.phases
    d, k = float(ev.dispatch_s), float(ev.combine_s)
    if best.config["overlap"] == "2bo":
        # Both micro-batches' compute, the comm kernels' stream share and the stall of the shorter
        # window (deploy/schedules.py); the trailing combine once per step.
        m = 2
        stall = max(0.0, k - float(p.attn2) - 0.42 * d, d - float(p.attn1) - float(p.shared))
        exposed = 2 * (0.42 * d + 0.17 * k + stall)
        assert fill == pytest.approx(k)
    else:
        # No overlap: one micro-batch runs every phase in a row.
        assert best.config["overlap"] == "nbo"
        m, exposed = 1, d + k
        assert fill == pytest.approx(0.0, abs=1e-12)
    assert layer == pytest.approx(m * (a + f) + exposed)
    parts = b.per_step["ep"]
    assert sum(parts.values()) == pytest.approx(step, rel=1e-12)
    assert b.role_total_s("ep") == pytest.approx(step, rel=1e-12)
    assert parts["exposed_communication"] == pytest.approx(ds.n_moe_layers * exposed)
    head = serial - options.step_overhead_s
    assert parts["compute"] == pytest.approx(ds.n_moe_layers * m * (a + f) + ds.n_dense_layers * dense + head)
    assert parts["bubbles"] == pytest.approx(fill) and parts["idle"] == 0
    assert parts["overhead"] == options.step_overhead_s
    assert b.step_s == pytest.approx(best.step_ms * 1e-3)
    assert b.tpot_s <= LIMIT and b.slack_s == pytest.approx(LIMIT - step)


def test_afd_budget_adds_up_by_hand(data, ds, h800):
    best = data.search.afd.best
    ev = reevaluate(best, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION)
    b = step_budget(ev, ds, DEFAULT_CALIBRATION, LIMIT)
    step, serial, layer, dense, fill = _by_hand_common(ev, ds, DEFAULT_CALIBRATION)
    m = best.config["micro_batches"]
    a, f, d, c = (float(x) for x in (ev.attention_s, ev.ffn_s, ev.dispatch_s, ev.combine_s))
    link = max(d, c) if DEFAULT_CALIBRATION.comm.full_duplex else d + c
    stage = max(a, f, link)
    assert layer == pytest.approx(max(m * stage, a + d + f + c))
    assert fill == pytest.approx(max(min(a + d + f + c, m * stage) - stage, 0.0))
    head = serial - DEFAULT_CALIBRATION.step_overhead_s
    for role in ("attention", "ffn"):
        parts = b.per_step[role]
        assert set(parts) == set(CATEGORIES)
        assert sum(parts.values()) == pytest.approx(step, rel=1e-12)
        assert b.role_total_s(role) == pytest.approx(step, rel=1e-12)
        assert parts["bubbles"] == pytest.approx(ds.n_moe_layers * max(0.0, layer - m * stage) + fill)
        assert parts["exposed_communication"] == pytest.approx(ds.n_moe_layers * m * (stage - max(a, f)))
    att, ffn = b.per_step["attention"], b.per_step["ffn"]
    assert att["compute"] == pytest.approx(ds.n_moe_layers * m * a + ds.n_dense_layers * dense + head)
    assert ffn["compute"] == pytest.approx(ds.n_moe_layers * m * f)
    # The side with the longer stage never waits for the other within a layer; the other waits
    # m·|t_a − t_f| per layer, and the FFN GPUs also through the dense layers and the head.
    extra = ds.n_dense_layers * dense + head
    assert att["idle"] == pytest.approx(ds.n_moe_layers * m * max(f - a, 0.0))
    assert ffn["idle"] == pytest.approx(ds.n_moe_layers * m * max(a - f, 0.0) + extra)


def test_afd_layer_split_when_the_link_binds(ds, h800):
    slow = h800.model_copy(update={"scale_out_bandwidth": 5e9})
    dep = AfdDeployment(attention_hardware=slow, ffn_hardware=slow, attention_gpus=32, ffn_gpus=16)
    ev = evaluate_afd(ds, dep, SCENARIO, 96.0)
    split = layer_split(ev, DEFAULT_CALIBRATION)
    a, f = float(ev.attention_s), float(ev.ffn_s)
    link = max(float(ev.dispatch_s), float(ev.combine_s))
    assert link > max(a, f)  # communication-bound
    for role in ("attention", "ffn"):
        parts = split[role]
        assert sum(parts.values()) == pytest.approx(float(ev.layer_s))
        assert parts["exposed_communication"] == pytest.approx(3 * (link - max(a, f)))
    b = step_budget(ev, ds, DEFAULT_CALIBRATION, LIMIT)
    assert b.slack_s < 0 or b.tpot_s <= LIMIT


@pytest.mark.parametrize("overlap", ["nbo", "sbo"])
def test_ep_layer_split_other_overlaps(ds, h800, overlap):
    opts = DEFAULT_CALIBRATION
    ev = evaluate_ep(ds, EpDeployment(hardware=h800, gpus=64, overlap=overlap), SCENARIO, 64.0, opts)
    parts = layer_split(ev, opts)["ep"]
    a, f = float(ev.attention_s), float(ev.ffn_s)
    comm = float(ev.dispatch_s) + float(ev.combine_s)
    assert parts["compute"] == pytest.approx(a + f)
    if overlap == "nbo":
        assert parts["exposed_communication"] == pytest.approx(comm)
    assert sum(parts.values()) == pytest.approx(float(ev.layer_s))
    b = step_budget(ev, ds, opts, LIMIT)
    assert sum(b.per_step["ep"].values()) == pytest.approx(float(ev.step_s), rel=1e-12)


def test_step_budget_needs_one_point(ds, h800):
    from afdscope.errors import AfdscopeError

    ev = evaluate_ep(ds, EpDeployment(hardware=h800, gpus=64), SCENARIO, np.array([2.0, 4.0]))
    with pytest.raises(AfdscopeError, match="one configuration"):
        step_budget(ev, ds, DEFAULT_CALIBRATION, LIMIT)


# ----------------------------------------------------------------------------------------- memory


def test_kv_per_request_matches_the_evaluators_batch_limit(ds, h800):
    for tp in (1, 2):
        ev = evaluate_ep(ds, EpDeployment(hardware=h800, gpus=64, attention_tp=tp), SCENARIO, 2.0)
        kv = kv_bytes_per_gpu_request(ds, SCENARIO, tp)
        weights = ev.memory_gb_per_gpu["ep"]["total"] * GB
        free = h800.hbm_capacity * 0.79 - weights  # the named buffers fit in the 21 % reserve
        assert int(ev.max_batch_per_gpu) == int(np.floor(free / kv))


def test_memory_headroom_by_hand(data, ds, h800):
    for mode in (data.search.ep, data.search.afd):
        best = mode.best
        roles = {"ep": h800} if best.mode == "ep" else {"attention": h800, "ffn": h800}
        h = memory_headroom(best, ds, roles, SCENARIO, DEFAULT_CALIBRATION)
        assert h == data.headroom[best.mode]
        for role, r in h.items():
            kv = best.batch_per_gpu * kv_bytes_per_gpu_request(ds, SCENARIO, best.config["attention_tp"]) / GB
            # 81,559 MiB as nvidia-smi reports an H800 (the catalog's capacity); SGLang's static pool of
            # 0.79 of it for weights and KV, as the named buffers (DeepEP, workspace, graphs: a few GB)
            # fit in the 21 % reserve.
            usable = 81_559 * 2**20 * 0.79 / GB
            assert r["usable_gb"] == pytest.approx(usable)
            assert r["buffers_gb"] == pytest.approx(81_559 * 2**20 * 0.21 / GB)
            assert r["kv_gb"] == pytest.approx(0.0 if role == "ffn" else kv)
            used = best.memory_gb_per_gpu[role]["total"] + r["kv_gb"]
            assert r["headroom_gb"] == pytest.approx(usable - used)
            assert r["headroom_gb"] >= 0  # a feasible configuration fits
    # The KV-limited batch leaves less than one request's KV free on the attention side.
    afd = data.search.afd.best
    one = kv_bytes_per_gpu_request(ds, SCENARIO, afd.config["attention_tp"]) / GB
    ev = reevaluate(afd, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION)
    if afd.batch_per_gpu == int(ev.max_batch_per_gpu):
        assert data.headroom["afd"]["attention"]["headroom_gb"] < one


# ----------------------------------------------------------------------------------------- imbalance


def test_reevaluate_reproduces_the_search_point(data, ds, h800):
    for mode in (data.search.ep, data.search.afd):
        p = reevaluate(mode.best, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION).point()
        assert p.tokens_per_s_per_gpu == pytest.approx(mode.best.tokens_per_s_per_gpu, rel=1e-12)
        assert p.config == mode.best.config


def test_sigma_sweep_is_monotonic_and_balanced_at_sigma_1(data, ds, h800):
    sens = data.sensitivity
    assert np.all(np.diff(sens.sigmas) > 0) and sens.sigmas[-1] == 1.0 and set(SIGMAS) <= set(sens.sigmas)
    for mode in (data.search.ep, data.search.afd):
        y = sens.tokens_per_s_per_gpu[mode.mode]
        # Throughput never rises as σ falls (the sigmas ascend, so y must not decrease along them).
        assert np.all(np.diff(y) >= -1e-9 * y.max()), y
        # σ = 1 is the balanced ideal, at least what the best reaches under the modelled default skew.
        ideal = best_under_slo(
            mode.best, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION, LIMIT, skew="balanced"
        )
        assert y[-1] == pytest.approx(ideal, rel=1e-12)
        assert y[-1] >= mode.best.tokens_per_s_per_gpu * (1 - 1e-12)
        assert y[0] < y[-1]
        again = sigma_sweep(mode.best, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION, LIMIT, [1.0, 0.5])
        assert again[0] == pytest.approx(y[-1]) and again[1] == pytest.approx(y[list(sens.sigmas).index(0.5)])


def test_best_under_slo_is_zero_when_nothing_meets_it(data, ds, h800):
    assert best_under_slo(data.search.ep.best, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION, 1e-3) == 0.0


def test_derived_sigma(data, ds, h800):
    derived = {(d.mode, d.eplb): d for d in data.sensitivity.derived}
    assert set(derived) == {("ep", False), ("ep", True), ("afd", False), ("afd", True)}
    ep = data.search.ep.best
    d = derived[("ep", False)]
    micro = 2 if ep.config["overlap"] == "2bo" else 1  # 2BO: half the batch per micro-batch
    assert d.tokens == round(ep.batch_per_gpu / micro * ep.config["gpus"])
    assert d.sigma == pytest.approx(1 / d.expert_load_factor) and 0 < d.sigma < 1
    # EPLB spreads the hot experts: σ rises, and so does the throughput.
    for mode in ("ep", "afd"):
        assert derived[(mode, True)].sigma > derived[(mode, False)].sigma
        assert derived[(mode, True)].redundant > 0 == derived[(mode, False)].redundant
        assert derived[(mode, True)].tokens_per_s_per_gpu >= derived[(mode, False)].tokens_per_s_per_gpu
    # Re-deriving with the same seed gives the same numbers; the throughput is the evaluator's under them.
    again = derived_sigma(ep, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION, LIMIT)
    assert again == d
    skew = RoutingSkew(expert_load_factor=d.expert_load_factor, comm_load_factor=d.comm_load_factor)
    assert d.tokens_per_s_per_gpu == pytest.approx(
        best_under_slo(ep, ds, {"h800": h800}, SCENARIO, DEFAULT_CALIBRATION, LIMIT, skew=skew), rel=1e-12
    )


# ----------------------------------------------------------------------------------------- paper, map


def test_paper_view_uses_paper_values_or_says_why_not(data):
    assert data.paper.value_set == "paper" and data.paper.note is None
    assert data.paper.ceiling.n_ffn_nodes == 2 and round(data.paper.ceiling.hfu_ceiling * 100, 1) == 33.1
    mi = _paper_view("qwen3-235b", "mi300x", "mi300x")
    assert mi.value_set == "datasheet" and "no paper" in mi.note and mi.study is not None
    a800 = _paper_view("deepseek-v3", "a800", "a800")  # no FP8 peak: no paper view, a reason instead
    assert a800.study is None and "not available" in a800.note


def test_map_marks_this_deployment_inside_the_grid(data, h800, ds):
    v = data.map
    assert v.marker == (h800.scale_out_bandwidth / 1e9, ds.moe_intermediate_size)
    r = v.result
    assert r.x_values.min() <= v.marker[0] <= r.x_values.max()
    assert r.y_values.min() <= v.marker[1] <= r.y_values.max()
    assert r.best_ep.shape == (len(r.y_values), len(r.x_values))
    z, span = map_layers(r)
    both = (r.best_ep > 0) & (r.best_afd > 0)
    assert np.allclose(z[both], np.log2(r.best_afd[both] / r.best_ep[both]))
    assert np.all(np.abs(z[np.isfinite(z)]) <= span + 1e-12)


# ----------------------------------------------------------------------------------------- CLI


BASE = ["report", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["--model", "nope", "--hardware", "h800", "--context", "4096", "--tpot-slo-ms", "50"],
            "unknown model",
        ),
        ([*BASE[1:], "--tpot-slo-ms", "0"], "--tpot-slo-ms"),
        ([*BASE[1:], "--tpot-slo-ms", "1"], "per-step overhead"),
        ([*BASE[1:], "--tpot-slo-ms", "nan"], "--tpot-slo-ms"),
        ([*BASE[1:], "--tpot-slo-ms", "50", "--hardware", "h999"], "unknown hardware"),
        ([*BASE[1:], "--tpot-slo-ms", "50", "--price", "h20=1"], "not a candidate"),
        ([*BASE[1:], "--tpot-slo-ms", "50", "--price", "h800"], "--price"),
        ([*BASE[1:], "--tpot-slo-ms", "50", "--max-gpus", "8"], "--max-gpus"),
        ([*BASE[1:], "--tpot-slo-ms", "50", "--context", "0"], "--context"),
        ([*BASE[1:], "--tpot-slo-ms", "50", "--out", "report.png"], ".html"),
        (["--model", "deepseek-v3", "--context", "4096", "--tpot-slo-ms", "50"], "--hardware"),
        ([*BASE[1:]], "--tpot-slo-ms"),
    ],
)
def test_report_bad_input_one_error_line_no_file(tmp_path, args, needle, cli, assert_clean_error):
    r = cli("report", *args, cwd=tmp_path)
    assert_clean_error(r, needle)
    assert list(tmp_path.iterdir()) == []


def test_report_writes_once_and_needs_force_to_overwrite(tmp_path, cli, assert_clean_error):
    out = tmp_path / "sub" / "r.html"
    args = [*BASE, "--tpot-slo-ms", "50", "--max-gpus", "32", "-o", str(out)]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1_000_000 and "verdict:" in r.stdout and str(out) in r.stderr
    first = out.read_text()
    assert "Plotly.newPlot(" in first and "--max-gpus 32" in first
    out.write_text("keep me")
    r = cli(*args)
    assert_clean_error(r, "already exists", "--force")
    assert out.read_text() == "keep me"
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temporary file left behind
    r = cli(*args, "--force")
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]


def test_report_to_a_folder_is_an_error(tmp_path, cli, assert_clean_error):
    d = tmp_path / "x.html"
    d.mkdir()
    r = cli(*BASE, "--tpot-slo-ms", "50", "-o", str(d), "--force")
    assert_clean_error(r, "folder")


def test_the_page_tests_the_papers_conclusions(data, page):
    assert len(data.conclusions) == 3
    assert 'id="conclusions"' in page
    for claim in data.conclusions:
        assert claim.verdict in ("holds", "partly", "does not hold")
        assert html.escape(claim.reason) in page
