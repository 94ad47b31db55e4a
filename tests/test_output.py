"""The terminal table: human headers with units, readable numbers, fits COLUMNS, explains its short forms;
and the counting notes every result carries (report.notes)."""

from __future__ import annotations

import pytest

from afdscope.report.output import _two_lines, label, legend_for, number, table_cells

SEARCH = (
    "search",
    "--model",
    "qwen3-235b",
    "--context",
    "4096",
    "--tpot-slo-ms",
    "50",
    "--hardware",
    "h20",
    "--hardware",
    "h800",
    "--price",
    "h20=1.5",
    "--price",
    "h800=2",
    "--max-gpus",
    "64",
)


def test_numbers_have_separators_and_no_exponent():
    assert number(12500.0) == "12,500"
    assert number(1234567) == "1,234,567"
    assert number(0.056157) == "0.05616"  # 4 significant digits
    assert number(0.0000125) == "0.0000125"
    assert number(49.7) == "49.7"
    assert number(0.0) == "0"
    assert "e" not in number(1.25e4) and "e" not in number(3.1e-6)


def test_labels_name_units_and_keep_snake_case_out():
    assert label("tokens_per_s_per_gpu") == "tokens/s per GPU"
    assert label("tpot_ms") == "TPOT (ms)"
    assert label("usd_per_million_output_tokens") == "$ per 1M output tokens"
    assert label("some_new_key") == "some new key"
    heads, cells = table_cells([{"field": "hfu_ffn", "value": 0.1155}])
    assert cells == [["FFN HFU (%)", "11.6"]]  # a fraction shown as a percentage, 3 digits


def test_two_line_header_width():
    # "$ per 1M" / "output tokens": the longer line is 13 characters.
    assert _two_lines("$ per 1M output tokens") == 13
    assert _two_lines("GPUs") == 4


def test_legend_lists_only_the_short_forms_used():
    text = ["EP56 on h800 (2bo), 68 req/GPU"]
    legend = legend_for(text)
    assert any(item.startswith("2bo = two-batch overlap") for item in legend)
    assert not any(item.startswith("m =") for item in legend)
    assert any(item.startswith("m =") for item in legend_for(["40×h800 attention + 8×h800 FFN, m=3"]))


@pytest.fixture(scope="module")
def search_at_100(cli):
    mp = pytest.MonkeyPatch()
    mp.setenv("COLUMNS", "100")
    try:
        r = cli(*SEARCH)
    finally:
        mp.undo()
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_search_table_fits_100_columns(search_at_100):
    table = [line for line in search_at_100.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= 100 for line in table)
    assert "e+0" not in search_at_100 and "tokens_per_s_per_gpu" not in search_at_100


def test_search_headers_are_not_split_inside_a_word(search_at_100):
    head_lines = [line for line in search_at_100.splitlines() if line.startswith("┃")]
    columns = [cell.split("┃") for cell in head_lines]
    headers = [
        " ".join(piece.strip() for piece in pieces if piece.strip())
        for pieces in zip(*(c[1:-1] for c in columns), strict=True)
    ]
    # Each header read back across its lines is the label itself: no word was folded.
    assert "tokens/s per GPU" in headers and "$ per 1M output tokens" in headers and "TPOT (ms)" in headers
    known = {label(k) for k in ("mode", "kind", "configuration", "gpus", "tpot_ms", "bottleneck")}
    known |= {label(k) for k in ("tokens_per_s_per_gpu", "tokens_per_s_per_user", "hfu_ffn")}
    known.add(label("usd_per_million_output_tokens"))
    assert set(headers) <= known


def test_search_table_has_a_legend_and_names_dropped_columns(search_at_100):
    legend = next(line for line in search_at_100.splitlines() if line.startswith("legend:"))
    # Each overlap scheme the table shows is spelled out.
    table = "\n".join(line for line in search_at_100.splitlines() if line.startswith("│"))
    shown = [o for o in ("nbo", "sbo", "2bo") if o in table]
    assert shown
    names = {"nbo": "no overlap", "sbo": "single-batch overlap", "2bo": "two-batch overlap"}
    for o in shown:
        assert f"{o} = {names[o]}" in legend
    # Whatever was dropped to fit is named, with the way to see it.
    if "not shown at 100 columns" in search_at_100:
        assert "--format json" in search_at_100


# --- what every result counts (report.notes) -------------------------------------------------------------


def _ep(hw_name: str, gpus: int):
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model
    from afdscope.deploy.ep import eval_ep
    from afdscope.specs.deployment import EpDeployment
    from afdscope.specs.scenario import Scenario

    dep = EpDeployment(hardware=load_hardware(hw_name), gpus=gpus)
    return eval_ep(load_model("deepseek-v3"), dep, Scenario(context_tokens=4096), tpot_slo_s=0.05)


def test_idle_gpus_by_hand():
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.report.notes import deployment_unit, idle_gpus

    assert deployment_unit(load_hardware("gb200"))[0] == 72  # NVL72: one scale-up domain of 72
    assert deployment_unit(load_hardware("h800"))[0] == 8  # HGX node
    assert idle_gpus(64, 72) == 8 and idle_gpus(144, 72) == 0 and idle_gpus(80, 72) == 64
    assert idle_gpus(64, 8) == 0


def test_notes_say_decode_output_whole_nodes_and_profile():
    from afdscope.report.notes import counting_notes

    notes = dict(counting_notes(_ep("gb200", 64)))
    assert "prefill is not sized" in notes["GPUs counted"]
    assert "output" in notes["tokens counted"]
    assert "8 GPUs left idle" in notes["whole nodes"] and "72-GPU scale-up domain" in notes["whole nodes"]
    assert notes["routing skew assumed"].startswith("modelled")
    assert (
        "measured on this GPU" in notes["calibration profile"]
        and "not measured" not in notes["calibration profile"]
    )

    mi = dict(counting_notes(_ep("mi300x", 64)))
    assert "none idle" in mi["whole nodes"]  # 8 MI300X nodes of 8
    profile = mi["calibration profile"]
    assert profile.startswith("AMD Instinct MI300X: Hopper FP8 profile") and "not measured" in profile


def test_expected_error_note_format():
    from types import SimpleNamespace

    from afdscope.report.notes import expected_error_note

    even = SimpleNamespace(expected_error={"low": -0.2, "high": 0.2, "basis": "b"})
    assert expected_error_note(even).startswith("±20% ")
    skewed = SimpleNamespace(expected_error={"low": -0.2688, "high": 0.6275, "basis": "b"})
    assert expected_error_note(skewed).startswith("−27% / +63% ")
    nil = SimpleNamespace(expected_error={"low": -0.23, "high": -0.004, "basis": "b"})
    assert expected_error_note(nil).startswith("−23% / 0% ")


def test_eval_table_carries_the_notes(cli):
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
        "--tpot-slo-ms",
        "50",
    )
    assert r.returncode == 0, r.stderr
    assert "8 GPUs left idle" in r.stdout and "prefill is not sized" in r.stdout


def test_map_figure_ticks_are_round_values():
    from afdscope.report.figures import nice_log_ticks, ratio_ticks, tick_label

    assert nice_log_ticks(12.5, 400) == [20, 50, 100, 200]
    assert nice_log_ticks(100, 1800) == [100, 200, 500, 1000]
    assert tick_label(131072) == "131.072k" and tick_label(20000) == "20k" and tick_label(1000) == "1,000"
    positions, labels = ratio_ticks(1.0)  # AFD/EP from 0.5× to 2×
    assert labels == ["0.5×", "0.67×", "0.8×", "1×", "1.25×", "1.5×", "2×"]
    assert positions[0] == -1.0 and positions[3] == 0.0
