"""Expected error bands from the validation residuals, and verdicts that respect them."""

import csv
import io

import pytest

from afdscope.calibration import read_table
from afdscope.deploy.expected_error import expected_error
from afdscope.search.verdict import Verdict, combined_margin, decide
from afdscope.validation.bands import MIN_CASES, WIDEN, bands_csv, error_bands


def _row(family, mode, error):
    return {"family": family, "mode": mode, "error": error}


def test_bands_by_hand():
    rows = [_row("hopper", "ep", e) for e in (-0.2, 0.05, 0.1)] + [_row("hopper", "afd", -0.1)]
    rows.append(_row("ascend", "ep", None))  # not evaluated: ignored
    b = {(x["family"], x["mode"]): x for x in error_bands(rows)}
    assert MIN_CASES == 3
    assert (b[("hopper", "ep")]["low"], b[("hopper", "ep")]["high"]) == (-0.2, 0.1)
    # One AFD case: the band of all AFD cases widened by 10 points each side.
    assert b[("hopper", "afd")]["low"] == pytest.approx(-0.1 - WIDEN)
    assert b[("hopper", "afd")]["high"] == pytest.approx(-0.1 + WIDEN)
    assert b[("any", "any")]["low"] == pytest.approx(-0.3) and b[("any", "any")]["high"] == pytest.approx(0.2)
    text = bands_csv(error_bands(rows))
    parsed = list(
        csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#"))))
    )
    assert {r["family"] for r in parsed} == {"hopper", "any"}


def test_shipped_bands_match_the_current_model():
    # The shipped file is what the validation set gives now: regenerate it with
    # `python -m afdscope.validation --write-bands` whenever the model changes.
    from afdscope.validation import load_cases, validate_cases

    shipped = {
        (r["family"], r["mode"]): (float(r["low"]), float(r["high"])) for r in read_table("error_bands.csv")
    }
    fresh = {
        (b["family"], b["mode"]): (b["low"], b["high"]) for b in error_bands(validate_cases(load_cases()))
    }
    assert shipped.keys() == fresh.keys()
    for key, (lo, hi) in fresh.items():
        assert shipped[key] == pytest.approx((lo, hi), abs=6e-5), key


def test_lookup_falls_back_when_families_differ():
    same = expected_error(("hopper",), "ep")
    assert same["low"] < same["high"] and "hopper" in same["basis"]
    mixed = expected_error(("hopper", "blackwell"), "afd")
    assert "no validated case of this GPU family" in mixed["basis"]


class _Mode:
    def __init__(self, mode, best):
        self.mode, self.best, self.best_cost, self.why_none = mode, best, best, None


class _Best:
    def __init__(self, mode, tps, usd, band):
        self.mode, self.tokens_per_s_per_gpu, self.usd_per_million_output_tokens = mode, tps, usd
        self.expected_error = {"low": -band, "high": band, "basis": "test"}
        self.bottleneck, self.batch_per_gpu, self.hfu_ffn, self.total_gpus = "attention", 64, 0.1, 16
        self.per_layer_us = {"attention": 200.0, "ffn": 100.0, "dispatch": 50.0, "combine": 80.0}
        self.config = {
            "hardware": "h800",
            "attention_hardware": "h800",
            "ffn_hardware": "h800",
            "attention_gpus": 8,
            "ffn_gpus": 8,
        }


def test_a_small_margin_is_too_close_to_call_and_names_the_flip():
    ep, afd = _Best("ep", 1000.0, 0.30, 0.09), _Best("afd", 1010.0, 0.28, 0.12)
    # √(0.09² + 0.12²) = 0.15
    assert combined_margin(ep, afd) == pytest.approx(0.15)
    v = decide(_Mode("ep", ep), _Mode("afd", afd))
    assert isinstance(v, Verdict) and v.close and v.winner == "afd" and v.ratio == pytest.approx(1.01)
    assert "too close to call" in v.headline and "1.0% flips it" in v.reason
    # Cost: 0.28 / 0.30 = 0.933, AFD 7 % cheaper, also inside ±15 %.
    assert v.cost_winner == "afd" and v.cost_ratio == pytest.approx(0.28 / 0.30) and v.cost_close


def test_a_clear_margin_is_called():
    ep, afd = _Best("ep", 1000.0, 0.30, 0.05), _Best("afd", 1500.0, 0.45, 0.05)
    v = decide(_Mode("ep", ep), _Mode("afd", afd))
    assert not v.close and v.headline.startswith("AFD (AFD/EP = 1.50)")
    # Cheapest: EP at $0.30 vs AFD $0.45 — EP 1.5× cheaper, a different winner on the other question.
    assert v.cost_winner == "ep" and not v.cost_close and "1.50× cheaper" in v.cost_reason
