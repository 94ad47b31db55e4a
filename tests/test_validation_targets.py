"""The accuracy the shipped validation set must keep (issue 12 §3, §6): the median error, the per-layer
terms where a breakdown is published, and the one ratio the data measures directly (TBO vs no TBO)."""

import pytest

from afdscope.validation import load_cases, load_layer_times, validate_cases
from afdscope.validation.layers import layer_comparison
from afdscope.validation.summary import summarise

MEDIAN_TARGET = 0.15
# Stated tolerances per published component (relative): compute kernels within ±30 %; the layer total
# within ±35 %; NBO transfers within ±25 %; 2BO dispatch/combine are the kernels' time on the compute
# stream (share + stall, afdscope's weakest term: SGLang's H100 combine at 256 requests stalls less than
# the window model says), kept within a factor 2.5; so are xDeepServe's averages over 288 dies, which
# include its stragglers.
TOLERANCE = {
    "attention_core": (-0.30, 0.30),
    "gemm_other+other_kernels": (-0.30, 0.30),
    "routed_experts": (-0.30, 0.30),
    "overall": (-0.35, 0.35),
}


@pytest.fixture(scope="module")
def shipped():
    cases = load_cases()
    return cases, validate_cases(cases)


def test_median_error_over_the_shipped_set(shipped):
    _, rows = shipped
    assert summarise(rows)["median_abs_error"] <= MEDIAN_TARGET


def _band(case_id, component, row_overlap):
    if component in TOLERANCE:
        return TOLERANCE[component]
    if row_overlap == "nbo" and not case_id.startswith("xds"):
        return (-0.25, 0.25)
    return (1 / 2.5 - 1, 2.5 - 1)  # a factor 2.5 either way


def test_per_layer_terms_within_their_tolerance(shipped):
    cases, rows = shipped
    overlap = {c.id: c.overlap for c in cases}
    checked = 0
    for c in layer_comparison(cases, rows, load_layer_times()):
        if c["predicted_us"] is None or c["component"] == "launch":
            continue
        lo, hi = _band(c["id"], c["component"], overlap[c["id"]])
        err = c["predicted_us"] / c["published_us"] - 1
        assert lo <= err <= hi, (c["id"], c["component"], round(err, 3))
        checked += 1
    assert checked >= 15


def test_two_batch_overlap_gain_on_h100_has_the_published_sign_and_size(shipped):
    _, rows = shipped
    by_id = {r["id"]: r for r in rows}
    tbo, nbo = by_id["sglang-h100-ep72-bs128-tbo"], by_id["sglang-h100-ep72-bs128-notbo"]
    published = tbo["published_tokens_per_s_per_gpu"] / nbo["published_tokens_per_s_per_gpu"]  # 1.147
    predicted = tbo["predicted_tokens_per_s_per_gpu"] / nbo["predicted_tokens_per_s_per_gpu"]
    assert published == pytest.approx(2150 / 1875)
    assert predicted > 1  # overlap helps at 128 requests per GPU
    # and by about as much: the gain within a third of the published 14.7 %
    assert abs(predicted - published) <= 0.05
