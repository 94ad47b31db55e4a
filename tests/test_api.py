"""The package's own entry points: names or specs alike, SI units, one error type."""

import pytest

import afdscope
from afdscope.api import MAX_PLAUSIBLE_TPOT_S


def test_the_namespace_lists_what_a_user_needs():
    for name in (
        "load_model",
        "load_hardware",
        "eval_ep",
        "eval_afd",
        "search",
        "simulate_ep",
        "simulate_afd",
        "validate",
        "report",
        "EpDeployment",
        "AfdDeployment",
        "Scenario",
        "RoutingSkew",
        "Calibration",
        "AfdscopeError",
    ):
        assert name in afdscope.__all__ and getattr(afdscope, name) is not None
    with pytest.raises(AttributeError):
        afdscope.not_a_name  # noqa: B018


def test_names_and_specs_give_the_same_answer():
    by_name = afdscope.eval_ep("deepseek-v3", "h800", gpus=64, context_tokens=4096, batch_per_gpu=32)
    specs = afdscope.eval_ep(
        afdscope.load_model("deepseek-ai/DeepSeek-V3"),
        afdscope.load_hardware("h800"),
        gpus=64,
        context_tokens=4096,
        batch_per_gpu=32,
    )
    assert by_name.tokens_per_s_per_gpu == specs.tokens_per_s_per_gpu > 0
    # Every result carries its expected error band and says which skew it assumed.
    assert by_name.expected_error["low"] < by_name.expected_error["high"]
    assert "hopper" in by_name.expected_error["basis"] and by_name.routing_skew.startswith("modelled")


def test_afd_entry_point_takes_each_side_by_name():
    r = afdscope.eval_afd(
        "deepseek-v3",
        attention_hardware="h20",
        ffn_hardware="h800",
        attention_gpus=32,
        ffn_gpus=16,
        context_tokens=4096,
        batch_per_gpu=48,
    )
    assert r.config["attention_hardware"] == "h20" and r.config["ffn_hardware"] == "h800"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"tpot_slo_s": 50}, "TPOT SLO is in seconds"),
        ({"tpot_slo_s": -1}, "positive number of seconds"),
        ({"tpot_slo_s": 0.05, "context_tokens": 4096.5}, "whole number of tokens"),
        ({"batch_per_gpu": 8, "gpus": 0}, "at least 1 GPU"),
    ],
)
def test_bad_input_is_one_afdscope_error(kwargs, words):
    base = {"gpus": 64, "context_tokens": 4096}
    with pytest.raises(afdscope.AfdscopeError, match=words):
        afdscope.eval_ep("deepseek-v3", "h800", **(base | kwargs))


def test_a_plausible_slo_is_accepted_at_the_limit():
    assert MAX_PLAUSIBLE_TPOT_S == 2.0
    r = afdscope.eval_ep("deepseek-v3", "h800", gpus=64, context_tokens=4096, tpot_slo_s=2.0)
    assert r.feasible


def test_wrong_argument_types_are_not_attribute_errors():
    with pytest.raises(afdscope.AfdscopeError):
        afdscope.eval_ep("deepseek-v3", 800, gpus=64, context_tokens=4096, batch_per_gpu=8)
    with pytest.raises(afdscope.AfdscopeError):
        afdscope.eval_ep(["deepseek-v3"], "h800", gpus=64, context_tokens=4096, batch_per_gpu=8)
