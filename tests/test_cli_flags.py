"""The evaluator flags reach the library: --calibration (and the old --preset), --balanced, the formats,
--attention-domains, --shared-expert-gpus; and the conventions of issue 13 §4 (-h, -V, -q after the
subcommand, metavars in words, command order). Expected values are worked out by hand, or inequalities
that must hold whatever the calibration."""

from __future__ import annotations

import json

import pytest

EP = ["eval", "ep", "--model", "deepseek-v3", "--hardware", "h800", "--gpus", "64", "--context", "4096"]
EPB = [*EP, "--batch-per-gpu", "64", "-f", "json"]
AFD = ["eval", "afd", "--model", "deepseek-v3", "--hardware", "h800", "--attention-gpus", "32"]
AFD += ["--ffn-gpus", "16", "--context", "4096", "--batch-per-gpu", "64", "-f", "json"]


def _json(cli, *args):
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), r.stderr


def test_balanced_is_the_ideal_and_at_least_the_default_throughput(cli):
    modelled, _ = _json(cli, *EPB)
    ideal, _ = _json(cli, *EPB, "--balanced")
    assert ideal["routing_skew"] == "balanced"
    assert modelled["routing_skew"].startswith("modelled")
    # Skew only ever slows the busiest GPU: the ideal is never below the modelled default.
    assert ideal["tokens_per_s_per_gpu"] >= modelled["tokens_per_s_per_gpu"]
    afd_modelled, _ = _json(cli, *AFD)
    afd_ideal, _ = _json(cli, *AFD, "--balanced")
    assert afd_ideal["tokens_per_s_per_gpu"] >= afd_modelled["tokens_per_s_per_gpu"]
    # Both load factors 1 given by hand is the balanced ideal too.
    ones, _ = _json(cli, *EPB, "--expert-load-factor", "1", "--comm-load-factor", "1")
    assert ones["tokens_per_s_per_gpu"] == ideal["tokens_per_s_per_gpu"]


def test_eval_table_states_the_routing_skew(cli):
    r = cli(*EP, "--batch-per-gpu", "64", "--balanced")
    assert r.returncode == 0
    # The row is labelled for people ("routing skew …") or by its key (routing_skew).
    assert any("routing" in line and "skew" in line and "balanced" in line for line in r.stdout.splitlines())


def test_calibration_paper_is_the_old_preset_paper_with_one_notice_line(cli):
    new, err_new = _json(cli, *EPB, "--calibration", "paper")
    old, err_old = _json(cli, *EPB, "--preset", "paper")
    default, _ = _json(cli, *EPB)
    assert err_new == ""
    assert err_old.strip().splitlines() == [
        "--preset is now --calibration; write --calibration paper (--preset goes in the next release)"
    ]
    assert new == old
    # The paper's accounting assumes balanced routing and ideal kernels: not the default's figure.
    assert new["routing_skew"] == "balanced"
    assert new["tokens_per_s_per_gpu"] != default["tokens_per_s_per_gpu"]


def test_int8_on_ascend_910c_runs_the_gemm_bound_experts_faster_than_bf16(cli):
    # Ascend 910C: INT8 1,504 TOPS vs BF16 752 TFLOPS, and INT8 weights are half the bytes, so the routed
    # experts at 256 requests/GPU get faster, but by at most 2× (both the FLOPs rate and the bytes halve).
    base = [*EPB[:5], "ascend-910c", *EPB[6:-4], "--context", "1024", "--batch-per-gpu", "256"]
    base = [a for a in base if a not in ("-f", "json")] + ["-f", "json", "--balanced"]
    bf16, _ = _json(cli, *base, "--weights", "bf16")
    int8, _ = _json(cli, *base, "--weights", "int8")
    experts_only, _ = _json(cli, *base, "--weights", "bf16", "--expert-weights", "int8")
    ratio = bf16["per_layer_us"]["ffn"] / int8["per_layer_us"]["ffn"]
    assert 1.0 < ratio <= 2.0
    assert int8["tokens_per_s_per_gpu"] > bf16["tokens_per_s_per_gpu"]
    # --expert-weights changes only the routed experts: attention stays at BF16's time.
    assert experts_only["per_layer_us"]["attention"] == bf16["per_layer_us"]["attention"]
    assert experts_only["per_layer_us"]["ffn"] < bf16["per_layer_us"]["ffn"]


def test_dispatch_and_combine_formats_order_the_transfer_times(cli):
    # Payload bytes per element: fp4 0.5 (+ scales) < fp8 1 < bf16 2; the time grows with the bytes.
    times = {
        d: _json(cli, *EPB, "--balanced", "--dispatch-dtype", d)[0]["per_layer_us"]
        for d in ("fp4", "fp8", "bf16")
    }
    assert times["fp4"]["dispatch"] < times["fp8"]["dispatch"] < times["bf16"]["dispatch"]
    assert times["fp4"]["combine"] == times["bf16"]["combine"]  # the combine is untouched
    fp8, _ = _json(cli, *EPB, "--balanced", "--combine-dtype", "fp8")
    assert fp8["per_layer_us"]["combine"] < times["fp8"]["combine"]


def test_shared_expert_gpus_add_gpus_and_take_the_shared_experts_off_attention(cli):
    ep, _ = _json(cli, *EPB, "--shared-expert-gpus", "8")
    assert ep["total_gpus"] == 64 + 8
    plain, _ = _json(cli, *AFD)
    dedicated, _ = _json(cli, *AFD, "--shared-expert-gpus", "8")
    assert plain["total_gpus"] == 32 + 16 and dedicated["total_gpus"] == 32 + 16 + 8
    assert dedicated["config"]["shared_experts_on"] == "dedicated"
    # The attention GPUs no longer run DeepSeek-V3's shared expert.
    assert dedicated["per_layer_us"]["attention"] < plain["per_layer_us"]["attention"]


def test_attention_domains_reach_the_evaluator(cli):
    one, _ = _json(cli, *AFD, "--balanced")
    two, _ = _json(cli, *AFD, "--balanced", "--attention-domains", "2")
    assert two["config"]["attention_domains"] == 2 and two["total_gpus"] == one["total_gpus"]
    # Each micro-batch now comes from one domain of 16 attention GPUs: fewer tokens to dispatch.
    assert two["per_layer_us"]["dispatch"] < one["per_layer_us"]["dispatch"]


def test_search_and_simulate_take_the_calibration_and_balanced_flags(cli):
    search = ["search", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096"]
    search += ["--tpot-slo-ms", "50", "--max-gpus", "64", "-f", "json"]
    modelled, _ = _json(cli, *search)
    ideal, _ = _json(cli, *search, "--balanced")
    assert ideal["ep"]["best"]["tokens_per_s_per_gpu"] >= modelled["ep"]["best"]["tokens_per_s_per_gpu"]
    sim = ["simulate", "ep", "--model", "deepseek-v3", "--hardware", "h800", "--gpus", "64"]
    sim += ["--context", "4096", "--batch-per-gpu", "64", "--steps", "2", "-f", "json"]
    s_modelled, _ = _json(cli, *sim)
    s_ideal, _ = _json(cli, *sim, "--balanced")
    s_paper, notice = _json(cli, *sim, "--preset", "paper")
    assert "--preset is now --calibration" in notice
    closed = [s["closed_form"]["tokens_per_s_per_gpu"] for s in (s_modelled, s_ideal, s_paper)]
    assert closed[1] >= closed[0] and closed[2] != closed[1]


def test_help_and_version_short_flags_and_quiet_after_the_subcommand(cli, small_search):
    for flag in ("-h", "--help"):
        r = cli("eval", "ep", flag)
        assert r.returncode == 0 and "--calibration" in r.stdout and "-h, --help" in r.stdout
    assert cli("-V").stdout == cli("--version").stdout != ""
    loud = cli(*small_search)
    quiet = cli(*small_search, "-q")
    assert loud.returncode == quiet.returncode == 0
    assert "configurations in" in loud.stderr and quiet.stderr == ""
    assert quiet.stdout == cli("-q", *small_search).stdout


def test_help_metavars_are_words_and_commands_come_in_planner_order(cli):
    for cmd in (["search"], ["eval", "ep"], ["simulate", "afd"], ["report"], ["map"], ["paper", "curve"]):
        text = cli(*cmd, "--help").stdout
        assert "<list[str]>" not in text and "range>" not in text and "<str>" not in text, cmd
    search = cli("search", "--help").stdout
    assert "--hardware LIST" in search and "--model MODEL" in search and "--max-gpus N" in search
    assert "--gpus GPUS" in cli("eval", "ep", "--help").stdout
    listed = [
        line.split()[0] for line in cli("--help").stdout.split("Commands:")[1].splitlines() if line.strip()
    ]
    names = [
        w
        for w in listed
        if w in {"models", "paper", "eval", "search", "map", "report", "imbalance", "simulate", "validate"}
    ]
    assert names == [
        "models",
        "paper",
        "eval",
        "search",
        "map",
        "report",
        "imbalance",
        "simulate",
        "validate",
    ]


@pytest.mark.parametrize("group", ["model", "hardware", "paper", "eval", "simulate", "calibration", "op"])
def test_every_group_help_has_an_example(cli, group):
    r = cli(group, "--help")
    assert r.returncode == 0 and f"Example: afdscope {group}" in " ".join(r.stdout.split())


def test_report_balanced_is_never_below_the_modelled_default(cli, tmp_path):
    from afdscope.report.deployment_report import build_report

    kw = dict(model="deepseek-v3", context=4096, tpot_slo_ms=50, hardware=["h800"], max_gpus=32)
    modelled, ideal = build_report(**kw), build_report(**kw, balanced=True)
    compared = 0
    for mode in ("ep", "afd"):
        m, b = getattr(modelled.search, mode).best, getattr(ideal.search, mode).best
        if m is None:  # infeasible under the skew: nothing to compare
            continue
        assert b.tokens_per_s_per_gpu >= m.tokens_per_s_per_gpu
        assert b.routing_skew == "balanced" and m.routing_skew.startswith("modelled")
        compared += 1
    assert compared >= 1
    base = [
        "report",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--context",
        "4096",
        "--tpot-slo-ms",
        "50",
    ]
    r = cli(*base, "--max-gpus", "16", "--balanced", "-o", str(tmp_path / "b.html"))
    assert r.returncode == 0 and (tmp_path / "b.html").exists(), r.stderr


def test_eval_json_says_what_is_counted(cli):
    import json

    r = cli(
        "eval",
        "ep",
        "--model",
        "deepseek-v3",
        "--hardware",
        "gb200",
        "--gpus",
        "64",
        "--context",
        "4096",
        "--batch-per-gpu",
        "32",
        "-f",
        "json",
    )
    d = json.loads(r.stdout)
    notes = d["notes"]
    # 64 GPUs of a 72-GPU NVL72 domain: 8 left idle; decode GPUs only; the expected error band.
    assert any("8 GPUs" in str(v) for v in notes.values())
    assert d["expected_error"]["low"] < d["expected_error"]["high"]
