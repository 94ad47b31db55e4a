"""The speed targets: README.md's "Speed targets" table, benchmarks/targets.py and the benchmarks agree, and
`make bench` (benchmarks/run.py) fails on a miss. Nothing here times anything: run.main() is driven with
fixed figures."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run  # noqa: E402
from targets import AT_LEAST, LESS, TARGETS, Target  # noqa: E402
from timing import Figure  # noqa: E402

# The targets as the issues state them (issue 10: matrix < 50 ms, ≥ 1 M evaluations/s, headline search
# < 2 s, simulator ≥ 200 k events/s; issue 12: `afdscope validate` < 5 s).
ISSUE_TARGETS = {
    "matrix": ("<", 0.050, "s"),
    "eval-ep-rate": ("≥", 1e6, "evaluations/s"),
    "eval-afd-rate": ("≥", 1e6, "evaluations/s"),
    "search": ("<", 2.0, "s"),
    "sim-rate": ("≥", 2e5, "events/s"),
    "validate": ("<", 5.0, "s"),
}
_TO_BASE = {"ms": (1e-3, "s"), "s": (1.0, "s")}


def _readme_rows() -> list[tuple[str, str, str, float, str]]:
    """(key, what, comparison, limit, unit) for each row of the README's Speed targets table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Speed targets", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        m = re.fullmatch(r"(<|≥) ([\d,.]+) (\S+)", cells[2])
        assert m, f"README target cell '{cells[2]}' is not '< N unit' or '≥ N unit'"
        rows.append((cells[0].strip("`"), cells[1], m[1], float(m[2].replace(",", "")), m[3]))
    return rows


def test_readme_table_equals_the_targets_table():
    readme = _readme_rows()
    ours = [(t.key, t.what, t.comparison, float(t.limit), t.unit) for t in TARGETS]
    assert readme == ours


def test_targets_are_the_issues_targets():
    got = {}
    for t in TARGETS:
        scale, unit = _TO_BASE.get(t.unit, (1.0, t.unit))
        got[t.key] = (t.comparison, t.limit * scale, unit)
    assert got.keys() == ISSUE_TARGETS.keys()
    for key, (cmp, limit, unit) in ISSUE_TARGETS.items():
        assert got[key][0] == cmp and got[key][2] == unit, key
        assert got[key][1] == pytest.approx(limit), key


def test_every_target_has_a_benchmark_reporting_its_unit():
    units = run.declared_units()
    for t in TARGETS:
        assert units.get(t.key) == t.unit, t.key


def test_met_and_shortfall_at_hand_values():
    time = Target("t", "a time", LESS, 50, "ms")
    assert time.met(49.9) and not time.met(50) and not time.met(60)
    assert time.shortfall(60) == pytest.approx(0.2)  # 60 ms is 10 ms = 20 % over 50 ms
    assert time.shortfall(40) == 0
    rate = Target("r", "a rate", AT_LEAST, 200_000, "events/s")
    assert rate.met(200_000) and not rate.met(150_000)
    assert rate.shortfall(150_000) == pytest.approx(0.25)  # 50 k short of 200 k
    assert time.text == "< 50 ms" and rate.text == "≥ 200,000 events/s"


def test_a_bad_target_is_refused():
    with pytest.raises(ValueError, match="comparison"):
        Target("x", "x", "<=", 1, "s")
    with pytest.raises(ValueError, match="positive"):
        Target("x", "x", LESS, 0, "s")


def _fake_groups(values: dict[str, float]):
    """GROUPS reporting fixed figures: every declared key, the given values, 1.0 elsewhere."""

    def make(keys):
        return lambda: [Figure(k, k, values.get(k, 1.0), u) for k, u in keys.items()]

    return {make(keys): keys for keys in run.GROUPS.values()}


def test_bench_passes_and_records_when_every_target_is_met(tmp_path, monkeypatch, capsys):
    good = {"matrix": 10.0, "eval-ep-rate": 2e6, "eval-afd-rate": 1.5e6, "search": 1.0, "sim-rate": 3e5}
    monkeypatch.setattr(run, "GROUPS", _fake_groups({**good, "validate": 4.0}))
    out = tmp_path / "r.json"
    monkeypatch.setenv("BENCH_OUT", str(out))
    assert run.main() == 0
    doc = json.loads(out.read_text())
    assert doc["passed"] is True
    assert {"date", "cpu_count", "python", "numpy"} <= doc["machine"].keys()
    rows = {r["key"]: r for r in doc["benchmarks"]}
    assert rows.keys() == run.declared_units().keys()
    assert rows["search"] == {
        "key": "search",
        "name": "search",
        "figure": 1.0,
        "unit": "s",
        "target": 2,
        "comparison": "<",
        "pass": True,
    }
    assert rows["curve"]["target"] is None and rows["curve"]["pass"] is None


def test_bench_fails_naming_the_miss_and_by_how_much(tmp_path, monkeypatch, capsys):
    # search 2.5 s against < 2 s is 25 % (0.5 s) over; sim 150 k against ≥ 200 k is 25 % short.
    values = {"matrix": 10.0, "eval-ep-rate": 2e6, "eval-afd-rate": 2e6, "search": 2.5, "sim-rate": 1.5e5}
    monkeypatch.setattr(run, "GROUPS", _fake_groups(values))
    monkeypatch.setenv("BENCH_OUT", str(tmp_path / "r.json"))
    assert run.main() == 1
    err = capsys.readouterr().err
    assert "missed target: search: 2.5 s, target < 2 s: 25.0% over (0.5 s)" in err
    assert (
        "missed target: sim-rate: 150,000 events/s, target ≥ 200,000 events/s: 25.0% short (50,000 events/s)"
        in err
    )
    assert "matrix" not in err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["passed"] is False
    assert {r["key"]: r["pass"] for r in doc["benchmarks"] if r["pass"] is not None}["search"] is False


def test_a_broken_benchmark_fails_the_run(tmp_path, monkeypatch):
    groups = _fake_groups({"search": 1.0})

    def broken():
        raise ImportError("moved")

    first = next(iter(groups))
    groups = {broken if g is first else g: k for g, k in groups.items()}
    monkeypatch.setattr(run, "GROUPS", groups)
    monkeypatch.setenv("BENCH_OUT", str(tmp_path / "r.json"))
    assert run.main() == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["errors"] == [{"group": "broken", "error": "ImportError: moved"}]
