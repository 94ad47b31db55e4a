"""The silicon validation set (aiconfigurator's measured decode TPOT): the mapping of two runs worked out
by hand, the reading of the batch column checked against the runs' stated concurrency, every run
evaluated or skipped with a reason, the recorded median bound and `afdscope validate --set silicon`."""

import csv
import io
import json
import math
import re
from importlib.resources import files

import pytest

from afdscope.errors import AfdscopeError
from afdscope.validation.silicon import (
    Unmappable,
    load_runs,
    parse_runs,
    run_inputs,
    summarise_silicon,
    validate_silicon,
)

# Recorded regression bound on the median |error| of the evaluated runs: the value when recorded (0.189,
# after the replicated-MoE layout for one TP group over the EP group) rounded up to the next 5 %. It only
# ever tightens (re-record it lower as the model improves; never raise it to make a change pass).
SILICON_MEDIAN_BOUND = 0.20


@pytest.fixture(scope="module")
def silicon():
    runs = load_runs()
    return runs, validate_silicon(runs)


def _raw_rows():
    text = files("afdscope.validation").joinpath("data", "aiconfigurator_silicon_sample.csv").read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def test_batch_column_is_per_attention_dp_rank():
    # The mapping rests on this reading: where a run states its concurrency, it equals the batch column ×
    # attention-DP ranks × decode workers (e.g. 64 × 8 × 1 = 512), so the batch is per DP rank.
    checked = 0
    for r in _raw_rows():
        m = re.search(r"silicon_concurrency=(\d+)", r["measurement"])
        if m:
            b, dp, w = (
                int(r[k]) for k in ("decode_batch_per_worker", "decode_attention_dp", "decode_workers")
            )
            assert int(m.group(1)) == b * dp * w, r["id"]
            checked += 1
    assert checked > 200


def test_mapping_of_an_attention_dp_run_by_hand(silicon):
    runs = {r.id: r for r in silicon[0]}
    # b200, SGLang, FP4: batch 64 per DP rank, 1 worker, TP 1, attention DP 8, MoE EP 8, 1024 in / 1024 out.
    run = runs["dsr1_b200_sglang_fp4_disagg_1024x1024_c512_cfg527"]
    inp = run_inputs(run)
    assert inp.batch_per_gpu == 64  # 64 requests per DP rank of 1 GPU
    assert inp.scenario.context_tokens == 1024 + 512  # ISL + OSL / 2
    dep = inp.deployment
    assert (dep.gpus, dep.attention_tp, dep.hardware.name.lower(), dep.overlap) == (8, 1, "b200", "nbo")
    p = inp.scenario.precision
    assert (p.weights, p.expert_weight_dtype, p.kv, inp.scenario.mtp_draft_tokens) == ("fp4", "fp4", "fp8", 0)
    assert inp.model.n_routed_experts == 256 and inp.model.num_layers == 61  # DeepSeek-V3


def test_mapping_of_an_attention_tp_run_by_hand(silicon):
    runs = {r.id: r for r in silicon[0]}
    # b200, SGLang, FP4: batch 128 on one rank of TP 8 (attention DP 1), MoE EP 8, 8192 in / 1024 out.
    run = runs["dsr1_b200_sglang_fp4_disagg_8192x1024_c128_cfg530"]
    inp = run_inputs(run)
    assert inp.batch_per_gpu == 16  # 128 requests on one rank of 8 GPUs
    assert inp.scenario.context_tokens == 8192 + 512
    assert (inp.deployment.gpus, inp.deployment.attention_tp) == (8, 8)
    # cfg457 (FP8 dense GEMMs, fp8_block experts): fp8_block is FP8, so one format for all GEMMs.
    p8 = run_inputs(runs["dsr1_b200_sglang_fp8_disagg_8192x1024_c128_cfg457"]).scenario.precision
    assert (p8.weights, p8.expert_weights) == ("fp8", None)


def test_unexpressible_layouts_are_refused_with_the_reason(silicon):
    runs = silicon[0]
    moe_tp = next(r for r in runs if r.decode_moe_tp > 1)
    with pytest.raises(Unmappable, match="MoE tensor parallelism"):
        run_inputs(moe_tp)
    with pytest.raises(Unmappable, match="pipeline"):
        run_inputs(moe_tp.model_copy(update={"decode_pp": 2, "decode_moe_tp": 1}))
    with pytest.raises(Unmappable, match="not in afdscope's catalog"):
        run_inputs(moe_tp.model_copy(update={"model": "acme/unknown-moe"}))
    dense = next(r for r in runs if r.model == "Qwen/Qwen3-32B")
    with pytest.raises(Unmappable, match="dense"):
        run_inputs(dense)


def test_every_run_evaluates_or_states_a_reason(silicon):
    runs, rows = silicon
    raw = _raw_rows()
    assert len(rows) == len(runs) == len(raw) == 274
    # Skips, counted from the CSV independently: MoE TP without EP, dense Qwen3-32B, MoE layout 0/0.
    expected_skips = sum(
        int(r["decode_moe_tp"]) > 1
        or "Qwen3-32B" in r["model"]
        or (r["decode_moe_tp"] == "0" and r["decode_moe_ep"] == "0")
        for r in raw
    )
    s = summarise_silicon(rows)
    assert s["skipped"] == expected_skips == 64 and s["evaluated"] == s["runs"] - s["skipped"]
    for r in rows:
        if r["skipped"]:
            assert r["reason"].startswith("skipped: ") and r["error"] is None
            continue
        assert math.isfinite(r["error"]), r["id"]
        # error on tokens/s per user = measured TPOT / predicted TPOT − 1 (no MTP: one token per step).
        assert r["error"] == pytest.approx(r["measured_tpot_ms"] / r["predicted_tpot_ms"] - 1, rel=1e-9)
        assert r["predicted_tokens_per_s_per_user"] == pytest.approx(1e3 / r["predicted_tpot_ms"])


def test_silicon_median_within_recorded_bound(silicon):
    s = summarise_silicon(silicon[1])
    assert s["median_abs_error"] <= SILICON_MEDIAN_BOUND
    assert set(s["by_family"]) == {"hopper", "blackwell"}
    for key in ("by_family", "by_model", "by_family_layout", "by_family_model"):
        assert sum(f["n"] for f in s[key].values()) == s["evaluated"] == s["n"], key
    # Attention TP rows, counted from the CSV: decode_tp > 1 among the runs that are evaluated.
    tp_rows = sum(r["attention_tp"] > 1 for r in silicon[1] if r["error"] is not None)
    assert tp_rows == sum(v["n"] for k, v in s["by_family_layout"].items() if k.endswith("attention TP"))


def test_parse_refuses_a_bad_row():
    header = _raw_rows()[0].keys()
    good = _raw_rows()[0]
    bad = dict(good, tpot_ms="-1")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(header))
    w.writeheader()
    w.writerow(bad)
    with pytest.raises(AfdscopeError, match=r"x\.csv line 2: column 'tpot_ms'"):
        parse_runs(buf.getvalue(), "x.csv")


def test_cli_set_silicon(cli, tmp_path, silicon):
    png = tmp_path / "s.png"
    code, out, _ = cli("validate", "--set", "silicon", "-f", "json", "--plot", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(out)
    assert len(doc["rows"]) == 274 and doc["summary"]["skipped"] == 64
    code, out, err = cli("validate", "--set", "silicon", "--layers")
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1 and out == ""
    code, out, _ = cli("validate", "--set", "silicon", "-f", "csv")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 274
