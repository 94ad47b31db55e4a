"""The `afdscope imbalance` command over the routing Monte Carlo (afdscope.routing): JSON keys, hand-checked
EPLB memory, AFD with a popularity CSV, and one-line errors on bad input."""

import json

import pytest

# ---------------------------------------------------------------- CLI (in process: the `cli` fixture)


def test_cli_json_keys(cli):
    r = cli("imbalance", "--model", "deepseek-v3", "--gpus", "64", "--tokens", "8192", "--redundant", "64")
    assert r.returncode == 0, r.stderr
    r = cli(
        "imbalance",
        *("--model", "deepseek-v3", "--gpus", "64", "--tokens", "8192", "--alpha", "1.01"),
        *("--redundant", "64", "--draws", "500", "-f", "json"),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in (
        "sigma_mean",
        "sigma_p5",
        "max_over_mean_tokens",
        "max_over_mean_bytes",
        "distinct_experts_max",
        "expert_load_factor",
        "comm_load_factor",
        "eplb_memory_gb_per_gpu",
        "model",
        "gpus",
        "tokens",
        "alpha",
        "redundant",
        "draws",
        "seed",
    ):
        assert key in out
    assert out["eplb_extra_slots_per_gpu"] == 1
    assert out["eplb_memory_gb_per_gpu"] == pytest.approx(3 * 7168 * 2048 * 58 / 1e9)
    assert 0 < out["sigma_p5"] <= out["sigma_mean"] <= 1
    assert out["expert_load_factor"] == pytest.approx(out["max_over_mean_tokens"])


def test_cli_afd_and_csv(tmp_path, cli):
    path = tmp_path / "counts.csv"
    path.write_text("count\n" + "\n".join(str(i + 1) for i in range(256)) + "\n")
    r = cli(
        "imbalance",
        *("--model", "deepseek-v3", "--mode", "afd", "--ffn-gpus", "32", "--tokens", "4096"),
        *("--popularity", str(path), "--draws", "200", "-f", "json"),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["popularity"] == "counts.csv" and out["ffn_gpus"] == 32 and out["gpus"] is None


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--gpus", "64", "--redundant", "10"), "--redundant"),
        (("--mode", "afd"), "--ffn-gpus"),
        (("--gpus", "64", "--popularity", "uniform", "--alpha", "1.2"), "--alpha"),
        (("--gpus", "64", "--popularity", "gauss"), "--popularity"),
        (("--gpus", "64", "--popularity", "missing.csv"), "missing.csv"),
    ],
)
def test_cli_bad_input(args, needle, cli):
    r = cli("imbalance", "--model", "deepseek-v3", "--tokens", "1024", *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
