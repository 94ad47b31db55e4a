"""The one body `eval ep|afd` and `simulate ep|afd` share: the flags → (model, workload, deployment,
calibration, skew), checked in one order (flag names in the errors), then evaluated or simulated.

A command passes its parameters as a mapping (`locals()`); `run` reads the keys it needs, so `eval` and
`simulate` differ only in the flags they declare and in `sim` (None: evaluate).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from afdscope.cli.common import (
    afd_hardware,
    calibration_and_skew_of,
    check_context,
    check_formats,
    check_mode,
    ms_to_s,
    workload_of,
)
from afdscope.cli.options import SharedOnOpt
from afdscope.errors import AfdscopeError


@dataclass(frozen=True)
class Inputs:
    """What one evaluation or simulation takes, built from the flags."""

    model: object
    deployment: object
    scenario: object
    calibration: object
    skew: object
    batch_per_gpu: int | None
    tpot_slo_s: float | None


def run(mode: str, flags: Mapping, sim: Callable[[], object] | None = None):
    """Evaluate (sim None) or simulate the deployment the flags describe. `sim` builds the simulator's
    settings; it is called after the mode's first checks, so its flag errors keep their place."""
    build = build_ep if mode == "ep" else build_afd
    inputs, sim_options = build(flags, sim)
    args = (inputs.model, inputs.deployment, inputs.scenario, inputs.batch_per_gpu, inputs.tpot_slo_s)
    kw = {"calibration": inputs.calibration, "skew": inputs.skew}
    if sim_options is None:
        from afdscope.deploy.afd import eval_afd
        from afdscope.deploy.ep import eval_ep

        return (eval_ep if mode == "ep" else eval_afd)(*args, **kw)
    from afdscope.sim import simulate_afd, simulate_ep

    return (simulate_ep if mode == "ep" else simulate_afd)(*args, **kw, sim=sim_options)


def build_ep(f: Mapping, sim=None) -> tuple[Inputs, object]:
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.catalog.model_catalog import load_model

    check_mode(f["batch_per_gpu"], f["tpot_slo_ms"])
    sim_options = sim() if sim else None
    workload = workload_of(f)
    cal, skew = calibration_and_skew_of(f)
    m, hw = load_model(f["model"]), load_hardware(f["hardware"], f["value_set"].value)
    check_context(m, f["context"])
    check_formats(workload, hw)
    dep = ep_deployment(
        hw, f["gpus"], f["overlap"], f["attention_tp"], f["redundant_experts"], f.get("shared_expert_gpus", 0)
    )
    tpot = ms_to_s(f["tpot_slo_ms"])
    return Inputs(m, dep, workload, cal, skew, f["batch_per_gpu"], tpot), sim_options


def build_afd(f: Mapping, sim=None) -> tuple[Inputs, object]:
    from afdscope.catalog.model_catalog import load_model

    check_mode(f["batch_per_gpu"], f["tpot_slo_ms"])
    attention_hw, ffn_hw = afd_hardware(
        f["hardware"], f["attention_hardware"], f["ffn_hardware"], f["value_set"].value
    )
    sim_options = sim() if sim else None
    workload = workload_of(f)
    cal, skew = calibration_and_skew_of(f)
    m = load_model(f["model"])
    check_context(m, f["context"])
    check_formats(workload, attention_hw, ffn_hw)
    if sim and f["shared_experts_on"] is SharedOnOpt.dedicated:
        raise AfdscopeError(
            "simulate afd runs the shared experts on the attention or FFN side; for dedicated shared-expert "
            "GPUs use eval afd --shared-expert-gpus"
        )
    dep = afd_deployment(
        attention_hw,
        ffn_hw,
        f["attention_gpus"],
        f["ffn_gpus"],
        f["micro_batches"],
        attention_tp=f["attention_tp"],
        expert_tp=f["expert_tp"],
        sub_node=f["sub_node"],
        redundant_experts=f["redundant_experts"],
        attention_domains=f["attention_domains"],
        shared_experts_on=f["shared_experts_on"],
        shared_expert_gpus=f.get("shared_expert_gpus", 0),
    )
    tpot = ms_to_s(f["tpot_slo_ms"])
    return Inputs(m, dep, workload, cal, skew, f["batch_per_gpu"], tpot), sim_options


def shared_placement(shared_experts_on: SharedOnOpt | None, shared_expert_gpus: int) -> str:
    """Where AFD's shared experts run: --shared-expert-gpus N puts them on N dedicated GPUs."""
    if shared_experts_on is SharedOnOpt.dedicated and not shared_expert_gpus:
        raise AfdscopeError(
            "--shared-experts-on dedicated needs --shared-expert-gpus N (the GPUs that run them)"
        )
    if shared_expert_gpus and shared_experts_on not in (None, SharedOnOpt.dedicated):
        raise AfdscopeError(
            f"--shared-expert-gpus {shared_expert_gpus} puts the shared experts on dedicated GPUs, "
            f"--shared-experts-on {shared_experts_on.value} elsewhere; drop one of them"
        )
    if shared_expert_gpus:
        return "dedicated"
    return (shared_experts_on or SharedOnOpt.attention).value


def ep_deployment(hw, gpus, overlap, attention_tp, redundant_experts, shared_expert_gpus=0):
    """The EP deployment the flags describe (flag names in the errors)."""
    from afdscope.specs.deployment import EpDeployment

    if gpus % attention_tp:
        raise AfdscopeError(f"--attention-tp {attention_tp} does not divide --gpus {gpus}; give a divisor")
    return EpDeployment(
        hardware=hw,
        gpus=gpus,
        overlap=overlap.value,
        attention_tp=attention_tp,
        redundant_experts=redundant_experts,
        shared_expert_gpus=shared_expert_gpus,
    )


def afd_deployment(
    attention_hw,
    ffn_hw,
    attention_gpus,
    ffn_gpus,
    micro_batches,
    *,
    attention_tp,
    expert_tp,
    sub_node,
    redundant_experts,
    attention_domains=1,
    shared_experts_on=None,
    shared_expert_gpus=0,
):
    """The AFD deployment the flags describe (flag names in the errors)."""
    from afdscope.specs.deployment import AfdDeployment

    if attention_gpus % attention_domains:
        raise AfdscopeError(
            f"--attention-domains {attention_domains} does not divide --attention-gpus {attention_gpus}; "
            "give a divisor"
        )
    return AfdDeployment(
        attention_hardware=attention_hw,
        ffn_hardware=ffn_hw,
        attention_gpus=attention_gpus,
        ffn_gpus=ffn_gpus,
        micro_batches=micro_batches,
        attention_tp=attention_tp,
        expert_tp=expert_tp,
        shared_experts_on=shared_placement(shared_experts_on, shared_expert_gpus),
        whole_nodes=not sub_node,
        redundant_experts=redundant_experts,
        attention_domains=attention_domains,
        shared_expert_gpus=shared_expert_gpus,
    )
