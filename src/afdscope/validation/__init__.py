"""The validation suite: afdscope's evaluators against published decode deployments (issue 12 §3).

`load_cases` reads the shipped set (data/public-deployments.csv), `validate_cases` evaluates each case at
its stated inputs, `summarise` reduces the rows, `layer_comparison` checks predicted terms against
published per-layer kernel times (data/published-layer-times.csv). `afdscope validate` prints them.
"""

from afdscope.validation.cases import Case, LayerTime, load_cases, load_layer_times, parse_cases
from afdscope.validation.evaluate import evaluate_case, family_of, relative_error, validate_cases

__all__ = [
    "Case",
    "LayerTime",
    "evaluate_case",
    "family_of",
    "load_cases",
    "load_layer_times",
    "parse_cases",
    "relative_error",
    "validate_cases",
]
