"""The `afdscope` command end to end: formats, figures, and bad input (one error line, exit 2, no file).

Most tests run the command in process (the `cli` fixture in conftest.py); the smoke tests marked below start
the installed console script, as a user would.
"""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

# The console script `pip install` puts next to the interpreter (pyproject: afdscope = "afdscope.cli:main").
SCRIPT = Path(sys.executable).with_name("afdscope")


def smoke(*args, cwd=None):
    """A real subprocess through the console script (start-up, entry point, exit codes, files)."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_paper_matrix_json_keys_and_headline_cell(cli):
    r = cli("paper", "matrix", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 48
    assert set(rows[0]) == {
        "hardware",
        "model",
        "hfu_ceiling",
        "n_ffn_nodes",
        "limited_by",
        "hfu_unconstrained",
        "memory_limited",
    }
    h800 = next(x for x in rows if x["hardware"] == "h800" and x["model"] == "deepseek-v3")
    assert round(h800["hfu_ceiling"] * 100, 1) == 33.1 and h800["n_ffn_nodes"] == 2
    h200 = next(x for x in rows if x["hardware"] == "h200" and x["model"] == "kimi-k2")
    assert h200["memory_limited"] == "hbm_bandwidth"


def test_paper_matrix_subset_and_comma_lists(cli):
    r = cli("paper", "matrix", "--hardware", "h800,GB200", "--models", "DeepSeek-V3", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert [(x["hardware"], x["model"]) for x in json.loads(r.stdout)] == [
        ("h800", "deepseek-v3"),
        ("gb200", "deepseek-v3"),
    ]


def test_full_duplex_flag_moves_the_superpod_ceiling(cli):
    r = cli(
        "paper", "matrix", "--hardware", "gb200", "--models", "deepseek-v3", "--full-duplex", "-f", "json"
    )
    # 3·M·𝓑_up/F with the 2·H binding traffic
    assert json.loads(r.stdout)[0]["hfu_ceiling"] == pytest.approx(3 * 2048 * 720e9 / 4500e12)


def test_paper_curve_csv_and_plot(tmp_path, cli):
    png = tmp_path / "curve.png"
    r = cli("paper", "curve", "--model", "deepseek-v3", "--hardware", "h800", "-f", "csv", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 64
    assert set(rows[0]) >= {
        "n_ffn_nodes",
        "experts_per_gpu",
        "tokens_per_rank",
        "tokens_per_expert",
        "intensity",
        "ofu",
        "temporal_sparsity",
        "hfu",
        "regime",
        "feasible",
    }
    assert rows[0]["regime"] == "scale_up_bound" and rows[31]["regime"] == "max_intensity"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paper_imbalance_json_counts_172_worse(cli):
    r = cli("paper", "imbalance", "-f", "json")
    rows = json.loads(r.stdout)
    assert len(rows) == 204 and sum(x["afd_worse"] for x in rows) == 172


def test_catalog_listings_and_show(cli):
    models = json.loads(cli("models", "-f", "json").stdout)
    assert len(models) == 14
    hws = json.loads(cli("hardware", "-f", "json").stdout)
    assert len(hws) == 13
    v3 = json.loads(cli("model", "show", "deepseek-v3", "-f", "json").stdout)
    assert v3["kv_bytes_per_token_bf16"] == 70272 and v3["moe_layers"] == 58
    h800 = json.loads(cli("hardware", "show", "H800", "--hardware-set", "paper", "-f", "json").stdout)
    assert h800["scale_up_gb_s_effective"] == pytest.approx(160)


def test_paper_all_writes_tables_and_figures(out_dir):
    out = out_dir
    r = smoke("paper", "all", "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = {p.name for p in out.iterdir()}
    assert {"hfu_matrix.csv", "hfu_matrix.md", "hfu_matrix.png", "imbalance_fig6.png"} <= names
    assert "33.1% at N_F = 2" in r.stdout
    assert not any(n.endswith(".tmp") for n in names)


def test_version_and_help():
    assert SCRIPT.exists(), f"console script missing: {SCRIPT} (pip install -e .)"
    assert smoke("--version").stdout.strip().startswith("afdscope ")
    r = smoke("--help")
    assert r.returncode == 0 and "paper" in r.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("paper", "curve", "--model", "deepseek-v9", "--hardware", "h800"), ["deepseek-v9", "known"]),
        (("paper", "curve", "--model", "deepseek-v3", "--hardware", "h900"), ["h900"]),
        (("paper", "matrix", "--slo-ms", "5"), ["SLO", "ms"]),
        (("paper", "matrix", "--slo-ms", "-3"), ["--slo-ms"]),
        (("paper", "matrix", "--accepted-tokens", "0.5"), ["--accepted-tokens"]),
        (("paper", "matrix", "--hardware", "ascend-910c", "--hardware-set", "datasheet"), ["FP8"]),
        (("paper", "matrix", "--hardware", "l40s"), ["paper"]),
        (("paper", "matrix", "--preset", "nonsense"), ["preset"]),
        (("paper", "imbalance", "--sigma", "1.5"), ["σ"]),
        (("paper", "matrix", "--format", "xml"), ["xml"]),
        (("paper", "matrix", "--no-such-flag"), ["no-such-flag"]),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args, needles, cli, assert_clean_error):
    assert_clean_error(cli(*args), *needles)


def test_malformed_files_are_clean_errors(tmp_path, cli, assert_clean_error):
    bad_json = tmp_path / "config.json"
    bad_json.write_text("{ not json")
    assert_clean_error(cli("model", "show", str(bad_json)), str(bad_json.parent.name))
    bad_yaml = tmp_path / "gpu.yaml"
    bad_yaml.write_text("name: x\ndatasheet: [unclosed\n")
    assert_clean_error(cli("hardware", "show", str(bad_yaml)), "gpu.yaml")
    zero_bw = tmp_path / "zero.yaml"
    zero_bw.write_text(
        "name: zero\ndisplay_name: Zero\ndatasheet:\n  bf16_dense_tflops: 100\n  fp8_dense_tflops: 200\n"
        "  hbm_capacity_gb: 80\n  hbm_bandwidth_tb_s: 3\n  scale_up_bandwidth_gb_s: 0\n"
        "  scale_up_domain_gpus: 8\n  scale_out_bandwidth_gb_s: 50\n"
    )
    assert_clean_error(cli("hardware", "show", str(zero_bw)), "scale_up_bandwidth_gb_s")


def test_error_writes_no_file(tmp_path, assert_clean_error):
    png = tmp_path / "fig.png"
    assert_clean_error(smoke("paper", "curve", "--model", "nope", "--hardware", "h800", "--plot", str(png)))
    assert_clean_error(smoke("paper", "matrix", "--plot", str(tmp_path / "fig.svg")), ".png")
    out = tmp_path / "out"
    assert_clean_error(smoke("paper", "all", "--out", str(out), "--slo-ms", "1"))
    assert not png.exists() and not out.exists()


EVAL_KEYS = {
    "feasible",
    "reasons",
    "tokens_per_s_per_gpu",
    "tokens_per_s_per_user",
    "tpot_ms",
    "batch_per_gpu",
    "per_layer_us",
    "bottleneck",
    "hfu_ffn",
    "memory_gb_per_gpu",
}


def test_eval_ep_json_under_an_slo(cli):
    r = cli(
        "eval",
        "ep",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--gpus",
        "144",
        "--context",
        "4989",
        "--tpot-slo-ms",
        "50",
        "-f",
        "json",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= EVAL_KEYS
    assert set(d["per_layer_us"]) == {"attention", "ffn", "dispatch", "combine"}
    assert d["feasible"] and d["tpot_ms"] <= 50 and d["bottleneck"] in {"attention", "ffn", "communication"}
    # Throughput per GPU = batch × tokens per user per second (EP: every GPU serves requests).
    assert d["tokens_per_s_per_gpu"] == pytest.approx(d["batch_per_gpu"] * d["tokens_per_s_per_user"])


def test_eval_afd_heterogeneous_json(cli):
    r = cli(
        "eval",
        "afd",
        "--model",
        "step3",
        "--attention-hardware",
        "h20",
        "--ffn-hardware",
        "h800",
        "--attention-gpus",
        "32",
        "--ffn-gpus",
        "16",
        "--micro-batches",
        "3",
        "--context",
        "8192",
        "--batch-per-gpu",
        "30",
        "-f",
        "json",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= EVAL_KEYS and set(d["memory_gb_per_gpu"]) == {"attention", "ffn"}
    # Output tokens over all 48 GPUs: 32 attention GPUs × 30 requests × tokens/s per user / 48.
    assert d["tokens_per_s_per_gpu"] == pytest.approx(32 * 30 * d["tokens_per_s_per_user"] / 48)


def test_eval_infeasible_is_reported_and_strict_exits_1(cli):
    args = (
        "eval",
        "ep",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h100",
        "--gpus",
        "8",
        "--context",
        "4096",
        "--batch-per-gpu",
        "8",
        "-f",
        "json",
    )
    r = cli(*args)
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["feasible"] is False and d["bottleneck"] == "memory" and d["reasons"]
    assert cli(*args, "--strict").returncode == 1


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            (
                "eval",
                "ep",
                "--model",
                "deepseek-v3",
                "--hardware",
                "h800",
                "--gpus",
                "16",
                "--context",
                "4096",
            ),
            ["--batch-per-gpu", "--tpot-slo-ms"],
        ),
        (
            (
                "eval",
                "ep",
                "--model",
                "deepseek-v3",
                "--hardware",
                "h800",
                "--gpus",
                "16",
                "--context",
                "4096",
                "--tpot-slo-ms",
                "1",
            ),
            ["overhead"],
        ),
        (
            (
                "eval",
                "afd",
                "--model",
                "deepseek-v3",
                "--hardware",
                "h800",
                "--attention-gpus",
                "12",
                "--ffn-gpus",
                "16",
                "--context",
                "4096",
                "--batch-per-gpu",
                "30",
            ),
            ["whole number"],
        ),
        (
            (
                "eval",
                "afd",
                "--model",
                "deepseek-v3",
                "--attention-gpus",
                "16",
                "--ffn-gpus",
                "16",
                "--context",
                "4096",
                "--batch-per-gpu",
                "30",
            ),
            ["--hardware"],
        ),
        (
            (
                "eval",
                "ep",
                "--model",
                "deepseek-v3",
                "--hardware",
                "h800",
                "--gpus",
                "16",
                "--context",
                "4096",
                "--batch-per-gpu",
                "8",
                "--mtp-accept",
                "0.8",
            ),
            ["--mtp-draft"],
        ),
    ],
)
def test_eval_bad_input(args, needles, cli, assert_clean_error):
    assert_clean_error(cli(*args), *needles)


def test_search_json_shape(tmp_path, cli):
    png = tmp_path / "pareto.png"
    r = cli(
        "search",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--context",
        "4096",
        "--tpot-slo-ms",
        "50",
        "--max-gpus",
        "64",
        "--price",
        "h800=2.5",
        "-f",
        "json",
        "--plot",
        str(png),
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"ep", "afd", "verdict"} <= set(d)
    for mode in ("ep", "afd"):
        assert {"best", "pareto"} <= set(d[mode])
        assert "config" in d[mode]["best"] and set(d[mode]["best"]) >= EVAL_KEYS
        assert d[mode]["best"]["usd_per_million_output_tokens"] > 0
    assert d["verdict"]["winner"] in ("ep", "afd") and d["verdict"]["reason"]
    assert d["verdict"]["ratio"] == pytest.approx(
        d["afd"]["best"]["tokens_per_s_per_gpu"] / d["ep"]["best"]["tokens_per_s_per_gpu"]
    )
    # --price replaces the catalog's $2.0: cost = GPUs × 2.5 / (tokens/s total × 3600) × 1e6
    best = d["ep"]["best"]
    assert best["usd_per_million_output_tokens"] == pytest.approx(
        2.5 / (best["tokens_per_s_per_gpu"] * 3600) * 1e6
    )
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_search_bad_input(cli, assert_clean_error):
    base = ("search", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096")
    assert_clean_error(cli(*base), "--tpot-slo-ms")
    assert_clean_error(cli(*base, "--tpot-slo-ms", "50", "--price", "h800"), "--price")
    assert_clean_error(cli(*base, "--tpot-slo-ms", "1"), "overhead")


def test_map_csv_and_plot(tmp_path, cli):
    png = tmp_path / "map.png"
    r = cli(
        "map",
        "--model",
        "step3",
        "--x",
        "scale-out-bandwidth",
        "--y",
        "expert-intermediate-size",
        "--points",
        "3",
        "--plot",
        str(png),
        "-f",
        "json",
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 9 and {"ratio", "status", "scale-out-bandwidth"} <= set(rows[0])
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--x", "nvlink"), "unknown map axis"),
        (("--x-range", "400:25"), "--x-range"),
        (("--x", "context", "--y", "context"), "different"),
    ],
)
def test_map_bad_input(args, needle, cli, assert_clean_error):
    assert_clean_error(cli("map", "--model", "deepseek-v3", "--points", "2", *args), needle)


def test_existing_outputs_are_kept_unless_forced(tmp_path, cli, assert_clean_error):
    from afdscope.report.paper_outputs import output_names

    out = tmp_path / "out"
    assert cli("paper", "all", "--out", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(output_names())
    before = (out / "hfu_matrix.csv").stat().st_mtime_ns
    assert_clean_error(cli("paper", "all", "--out", str(out)), "--force")
    assert (out / "hfu_matrix.csv").stat().st_mtime_ns == before
    assert cli("paper", "all", "--out", str(out), "--force").returncode == 0
    png = tmp_path / "x.png"
    png.write_bytes(b"mine")
    assert_clean_error(cli("paper", "imbalance", "--plot", str(png)), "--force")
    assert png.read_bytes() == b"mine"
    assert cli("paper", "imbalance", "--plot", str(png), "--force", "-f", "csv").returncode == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


HELP_COMMANDS = [
    ["models"],
    ["model", "show"],
    ["hardware"],
    ["hardware", "show"],
    ["paper", "matrix"],
    ["paper", "curve"],
    ["paper", "imbalance"],
    ["paper", "eaas"],
    ["paper", "all"],
    ["eval", "ep"],
    ["eval", "afd"],
    ["simulate", "ep"],
    ["simulate", "afd"],
    ["imbalance"],
    ["search"],
    ["map"],
    ["report"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_every_command_has_an_example_in_its_help(command, cli):
    r = cli(*command, "--help")
    assert r.returncode == 0
    assert "Example" in r.stdout


def test_quiet_keeps_results_and_drops_information(cli, small_search):
    loud, quiet = cli(*small_search), cli("--quiet", *small_search)
    assert "configurations in" in loud.stderr and quiet.stderr == ""
    assert "verdict:" in quiet.stdout


def test_load_factor_and_replica_flags_reach_the_evaluator(cli, assert_clean_error):
    base = (
        "eval",
        "ep",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h800",
        "--gpus",
        "64",
        "--context",
        "4096",
        "--batch-per-gpu",
        "64",
        "-f",
        "json",
    )
    # The balanced ideal is the baseline: by default every evaluation applies a modelled skew.
    plain = json.loads(cli(*base, "--balanced").stdout)
    skewed = json.loads(cli(*base, "--expert-load-factor", "1.5", "--comm-load-factor", "1.5").stdout)
    assert skewed["tokens_per_s_per_gpu"] < plain["tokens_per_s_per_gpu"]
    assert plain["routing_skew"] == "balanced" and skewed["routing_skew"].startswith("given")
    none = json.loads(cli(*base, "--balanced", "--redundant-experts", "0").stdout)
    replicas = json.loads(cli(*base, "--balanced", "--redundant-experts", "64").stdout)
    # 320 expert slots over 64 GPUs: 5 instead of 4 per GPU, × 58 layers × 3·7168·2048 B
    extra = (
        replicas["memory_gb_per_gpu"]["ep"]["routed_experts"]
        - none["memory_gb_per_gpu"]["ep"]["routed_experts"]
    )
    # No --redundant-experts: under skewed routing the usual EPLB slots, 1/8 of 256 filled up to 64 GPUs'
    # ceil = 64; under balanced routing replicas cannot help, so none.
    assert skewed["config"]["redundant_experts"] == 64
    assert plain["config"]["redundant_experts"] == 0 and none["config"]["redundant_experts"] == 0
    assert extra == pytest.approx(58 * 3 * 7168 * 2048 / 1e9)
    assert_clean_error(cli(*base, "--expert-load-factor", "0.5"), "--expert-load-factor")
