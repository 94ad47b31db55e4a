"""afdscope: AFD vs large-scale EP for MoE inference, from first principles (arXiv 2602.09721 and beyond).

The names a user needs, loaded on first use (so `afdscope --help` stays fast):

    import afdscope
    r = afdscope.eval_ep("deepseek-v3", "h800", gpus=128, context_tokens=4096, tpot_slo_s=0.050)
    s = afdscope.search("deepseek-v3", ["h800"], context_tokens=4096, tpot_slo_s=0.050)
    print(s.verdict.headline, s.verdict.cost_reason)

Entry points take catalog names or specs alike and SI units (seconds, tokens); every bad input raises
`AfdscopeError`, one line naming the field and the fix. Layered API: specs (`load_model`, `load_hardware`,
`Scenario`, `EpDeployment`, `AfdDeployment`, `RoutingSkew`, `Calibration`) → evaluators (`eval_ep`,
`eval_afd`) → `search`, `simulate_ep` / `simulate_afd`, `validate`, `report`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "AfdscopeError": "afdscope.errors",
    "load_model": "afdscope.catalog.model_catalog",
    "load_hardware": "afdscope.catalog.hardware_catalog",
    "Scenario": "afdscope.specs.scenario",
    "Precision": "afdscope.specs.scenario",
    "EpDeployment": "afdscope.specs.deployment",
    "AfdDeployment": "afdscope.specs.deployment",
    "RoutingSkew": "afdscope.specs.skew",
    "Calibration": "afdscope.deploy.calibration",
    "named_calibration": "afdscope.deploy.calibration",
    "scenario": "afdscope.api",
    "eval_ep": "afdscope.api",
    "eval_afd": "afdscope.api",
    "search": "afdscope.api",
    "validate": "afdscope.api",
    "report": "afdscope.api",
    "simulate_ep": "afdscope.sim",
    "simulate_afd": "afdscope.sim",
    "curve_study": "afdscope.paper.study",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'afdscope' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
