"""Bad input on the command line (issue 13 §3 and the flags added with it): each case exits 2 with exactly
one `error:` line that names the problem (the flag or value) and the fix, prints nothing on stdout and
writes no file. Each runs in process in an empty folder, which must still be empty afterwards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EP = ["eval", "ep", "--model", "deepseek-v3", "--hardware", "h800", "--gpus", "64", "--context", "4096"]
EPB = [*EP, "--batch-per-gpu", "64"]
AFD = ["eval", "afd", "--model", "deepseek-v3", "--hardware", "h800", "--attention-gpus", "32"]
AFD += ["--ffn-gpus", "16", "--context", "4096", "--batch-per-gpu", "64"]
SIM = ["simulate", "ep", "--model", "deepseek-v3", "--hardware", "h800", "--gpus", "64"]
SIM += ["--context", "4096", "--batch-per-gpu", "64", "--steps", "2"]
SIMA = ["simulate", "afd", "--model", "deepseek-v3", "--hardware", "h800", "--attention-gpus", "32"]
SIMA += ["--ffn-gpus", "16", "--context", "4096", "--batch-per-gpu", "64", "--steps", "2"]
SEARCH = ["search", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096"]
SEARCHT = [*SEARCH, "--tpot-slo-ms", "50"]
REPORT = [
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
MAP = ["map", "--model", "deepseek-v3", "--points", "2"]
HUGE = "100000000000"

# (arguments, words the one error line must contain: the problem and the fix)
CASES = [
    # GPU counts are bounded as search --max-gpus is (issue 13 §3).
    ([*EP[:-4], "--gpus", HUGE, "--context", "4096", "--batch-per-gpu", "8"], ["--gpus", "4096"]),
    (
        [*EP[:-4], "--gpus", "0", "--context", "4096", "--batch-per-gpu", "8"],
        ["--gpus", "greater than or equal to 1"],
    ),
    ([*AFD[:6], "--attention-gpus", HUGE, *AFD[8:]], ["--attention-gpus", "4096"]),
    ([*AFD[:8], "--ffn-gpus", HUGE, *AFD[10:]], ["--ffn-gpus", "4096"]),
    ([*SIM[:6], "--gpus", HUGE, *SIM[8:]], ["--gpus", "4096"]),
    ([*SIMA[:6], "--attention-gpus", HUGE, *SIMA[8:]], ["--attention-gpus", "4096"]),
    ([*SEARCHT, "--max-gpus", HUGE], ["--max-gpus", "4096"]),
    ([*REPORT, "--max-gpus", HUGE], ["--max-gpus", "4096"]),
    ([*MAP, "--max-gpus", HUGE], ["--max-gpus", "4096"]),
    ([*EPB, "--shared-expert-gpus", HUGE], ["--shared-expert-gpus", "4096"]),
    ([*AFD, "--attention-domains", HUGE], ["--attention-domains", "4096"]),
    # Context: a positive number of tokens.
    ([*EP[:-1], "0", "--batch-per-gpu", "8"], ["--context 0", "positive"]),
    ([*EP[:-1], "-5", "--batch-per-gpu", "8"], ["--context -5", "positive"]),
    ([*SEARCH[:-1], "0", "--tpot-slo-ms", "50"], ["--context 0", "positive"]),
    ([*EP[:-1], "lots", "--batch-per-gpu", "8"], ["--context", "valid integer"]),
    # A format the device lacks (FP4 on H800, FP8 on Ascend 910C and A800) names the device's formats.
    ([*EPB, "--weights", "fp4"], ["--weights fp4", "h800", "bf16, fp8, int8"]),
    ([*EPB, "--expert-weights", "fp4"], ["--expert-weights fp4", "h800", "bf16, fp8, int8"]),
    ([*AFD, "--weights", "fp4"], ["--weights fp4", "h800", "it has"]),
    ([*SIM, "--weights", "fp4"], ["--weights fp4", "h800", "it has"]),
    ([*SIMA, "--expert-weights", "fp4"], ["--expert-weights fp4", "h800", "it has"]),
    ([*SEARCHT, "--weights", "fp4"], ["--weights fp4", "h800", "it has"]),
    ([*EPB[:5], "ascend-910c", *EPB[6:]], ["--weights fp8", "ascend-910c", "bf16", "int8"]),
    ([*EPB[:5], "a800", *EPB[6:]], ["--weights fp8", "a800", "it has"]),
    ([*SEARCHT[:4], "h800,ascend-910c", *SEARCHT[5:]], ["--weights fp8", "ascend-910c", "it has"]),
    # Unknown format names.
    ([*EPB, "--weights", "fp16"], ["--weights", "fp16", "fp8"]),
    ([*EPB, "--expert-weights", "nvfp4"], ["--expert-weights", "nvfp4"]),
    ([*EPB, "--dispatch-dtype", "fp16"], ["--dispatch-dtype", "fp16", "fp8"]),
    ([*EPB, "--combine-dtype", "fp4"], ["--combine-dtype", "fp4", "bf16"]),
    ([*SEARCHT, "--combine-dtype", "int4"], ["--combine-dtype", "int4"]),
    ([*EPB, "--kv-dtype", "int8"], ["--kv-dtype", "int8"]),
    # Calibration, and the old --preset spelling.
    ([*EPB, "--calibration", "fast"], ["--calibration", "fast", "default"]),
    ([*EPB, "--preset", "fast"], ["--preset 'fast'", "--calibration default"]),
    (
        [*EPB, "--preset", "paper", "--calibration", "default", "--calibration", "paper", "--preset", "x"],
        ["x"],
    ),
    ([*SEARCHT, "--preset", "corrected"], ["--preset 'corrected'", "--calibration"]),
    ([*MAP, "--calibration", "ideal"], ["--calibration", "ideal"]),
    ([*REPORT, "--calibration", "ideal"], ["--calibration", "ideal"]),
    ([*EPB, "--preset", "default", "--calibration", "paper"], ["disagree", "--calibration paper"]),
    # Routing skew.
    ([*EPB, "--balanced", "--expert-load-factor", "1.2"], ["--balanced", "--expert-load-factor", "drop one"]),
    ([*SEARCHT, "--balanced", "--comm-load-factor", "1.2"], ["--balanced", "--comm-load-factor", "drop one"]),
    ([*EPB, "--expert-load-factor", "0.5"], ["--expert-load-factor", "greater than or equal to 1"]),
    ([*EPB, "--comm-load-factor", "inf"], ["--comm-load-factor", "finite"]),
    ([*EPB, "--expert-load-factor", "nan"], ["--expert-load-factor", "greater than or equal to 1"]),
    # Shared experts and attention domains.
    ([*AFD, "--shared-experts-on", "dedicated"], ["--shared-experts-on dedicated", "--shared-expert-gpus"]),
    (
        [*AFD, "--shared-experts-on", "ffn", "--shared-expert-gpus", "8"],
        ["--shared-expert-gpus 8", "drop one"],
    ),
    ([*AFD, "--shared-experts-on", "gpu"], ["--shared-experts-on", "gpu"]),
    ([*AFD, "--shared-expert-gpus", "-1"], ["--shared-expert-gpus", "greater than or equal to 0"]),
    ([*AFD, "--attention-domains", "3"], ["--attention-domains 3", "--attention-gpus 32", "divisor"]),
    ([*AFD, "--attention-domains", "0"], ["--attention-domains", "greater than or equal to 1"]),
    ([*SIMA, "--attention-domains", "5"], ["--attention-domains 5", "divisor"]),
    ([*SIMA, "--shared-experts-on", "dedicated"], ["dedicated", "eval afd --shared-expert-gpus"]),
    ([*EP[:-1], "4096", "--batch-per-gpu", "8", "--attention-tp", "3"], ["--attention-tp 3", "--gpus 64"]),
    # Modes and SLOs.
    (EP, ["--batch-per-gpu", "--tpot-slo-ms"]),
    ([*EPB, "--tpot-slo-ms", "50"], ["exactly one", "--batch-per-gpu"]),
    ([*EP, "--tpot-slo-ms", "0"], ["--tpot-slo-ms 0", "positive"]),
    ([*EP, "--tpot-slo-ms", "nan"], ["--tpot-slo-ms", "finite"]),
    ([*SEARCH, "--tpot-slo-ms", "-3"], ["--tpot-slo-ms", "positive"]),
    ([*EPB, "--mtp-accept", "0.7"], ["--mtp-accept", "--mtp-draft"]),
    # Prices (issue 13 §3: a duplicate is refused; only candidates can be priced).
    ([*SEARCHT, "--price", "h800=2", "--price", "h800=3"], ["--price given twice", "h800", "one price"]),
    ([*SEARCHT, "--price", "h800=2", "--price", "H800=3"], ["--price given twice", "h800"]),
    ([*SEARCHT, "--price", "h800=2,h800=2"], ["--price 'h800=2,h800=2'", "HARDWARE=USD"]),
    ([*REPORT, "--price", "h800=2", "--price", "h800=3"], ["--price given twice", "h800"]),
    ([*SEARCHT, "--price", "h20=2"], ["--price for h20", "not a candidate", "price the devices"]),
    ([*SEARCHT, "--price", "h800=abc"], ["--price 'h800=abc'", "HARDWARE=USD"]),
    ([*SEARCHT, "--price", "h800=-1"], ["--price 'h800=-1'", "HARDWARE=USD"]),
    ([*SEARCHT, "--price", "=2"], ["--price '=2'", "HARDWARE=USD"]),
    # Names: typos get the nearest name.
    ([*EPB[:3], "deepsek-v3", *EPB[4:]], ["unknown model 'deepsek-v3'", "did you mean deepseek-v3"]),
    ([*EPB[:5], "h8000", *EPB[6:]], ["unknown hardware 'h8000'", "did you mean h800"]),
    ([*SEARCHT[:2], "qwen3-253b", *SEARCHT[3:]], ["unknown model 'qwen3-253b'", "did you mean"]),
    ([*SEARCHT[:4], "h800,gb2000", *SEARCHT[5:]], ["unknown hardware 'gb2000'", "did you mean gb200"]),
    # Output files: wrong kinds are refused before anything runs.
    ([*SEARCHT, "--plot", "front.svg"], ["--plot 'front.svg'", ".png"]),
    ([*SIM, "--trace", "step.txt"], ["--trace 'step.txt'", ".json"]),
    ([*REPORT, "--out", "report.pdf"], ["--out 'report.pdf'", ".html"]),
    ([*MAP, "--plot", "map.jpg"], ["--plot 'map.jpg'", ".png"]),
    ([*MAP, "--x-range", "400:25"], ["--x-range '400:25'", "LOW:HIGH"]),
    ([*MAP, "--x", "context", "--y", "context"], ["--x and --y", "two different axes"]),
    # Unknown flags and commands.
    ([*EPB, "--weight", "fp8"], ["--weight"]),
    ([*EPB, "--balance"], ["--balance"]),
    (["evaluate", "ep"], ["evaluate"]),
]


def _ids():
    return [f"{i:02d}-{' '.join(args[:2])}-{needles[0]}" for i, (args, needles) in enumerate(CASES)]


def test_the_script_has_at_least_60_bad_inputs():
    assert len(CASES) >= 60


@pytest.mark.parametrize(("args", "needles"), CASES, ids=_ids())
def test_bad_input_is_one_error_line_exit_2_no_output_no_file(
    cli, assert_clean_error, tmp_path, args, needles
):
    r = cli(*args, cwd=tmp_path)
    assert_clean_error(r, *needles)
    assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_user_yaml_named_like_a_catalog_device_is_labelled_by_its_path(cli, assert_clean_error, tmp_path):
    # The file says `name: h800`; it is another device than the catalog's, so it carries its path as label
    # and a price for "h800" does not silently price it.
    import afdscope.catalog

    shutil.copy(Path(afdscope.catalog.__file__).parent / "hardware" / "h800.yaml", tmp_path / "mine.yaml")
    r = cli(*SEARCHT[:4], "mine.yaml", *SEARCHT[5:], "--price", "h800=2", cwd=tmp_path)
    assert_clean_error(r, "--price for h800", "not a candidate")
    assert r.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


def test_ctrl_c_is_one_interrupted_line_exit_130_and_no_file(cli, tmp_path, monkeypatch):
    # A real SIGINT arrives while the report computes: one line, exit 130, the HTML file is not written.
    import os
    import signal
    import time

    import afdscope.report.deployment_report as deployment_report

    def interrupted(**kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGINT was not delivered")

    monkeypatch.setattr(deployment_report, "build_report", interrupted)
    r = cli(*REPORT, "--out", "r.html", cwd=tmp_path)
    assert r.returncode == 130
    assert r.stderr.strip() == "interrupted"
    assert r.stdout == "" and list(tmp_path.iterdir()) == []
    # Python's own handler is back once main() has returned.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_context_above_the_models_maximum_is_a_notice_and_the_real_reason(cli):
    # DeepSeek-V3's config.json: max_position_embeddings 163840.
    r = cli(*EP[:-1], "1000000000000", "--batch-per-gpu", "8", "-f", "json")
    assert r.returncode == 0
    notices = r.stderr.strip().splitlines()
    assert len(notices) == 1 and "above deepseek-v3's max_position_embeddings 163,840" in notices[0]
    import json

    reasons = json.loads(r.stdout)["reasons"]
    assert any("KV cache fits 0 requests" in x for x in reasons), reasons
    within = cli(*EP[:-1], "163840", "--batch-per-gpu", "1", "-f", "json")
    assert within.returncode == 0 and within.stderr == ""
