"""Where a decode step's time and a GPU's memory go, per role, for one evaluated deployment.

Time (`step_budget`): every role's step is cut into five parts that add up to the step exactly:

* **compute** — the role's own kernels: attention + shared + routed experts on EP (× micro-batches, every
  MoE layer), t_a resp. t_f × m on AFD's attention resp. FFN side, plus the dense layers and the LM head /
  MTP drafts on the GPUs that run them (EP, AFD attention);
* **exposed communication** — time the A2A / A↔F transfers add beyond compute: EP `layer − mb·(t_attn +
  t_ffn)` (2BO: 2·max(0, t_comm − compute)); AFD m·(stage − max(t_a, t_f)) where stage = max(t_a, t_f,
  t_link), the same for both sides;
* **bubbles** — pipeline bubbles and fill: AFD `layer − m·stage` per MoE layer (the round trip exceeding
  m stages) plus the once-per-step fill; EP the 2BO trailing block (what the step has beyond its layers);
* **idle** — waiting for the other role's compute: AFD m·(max(t_a, t_f) − own stage time); on the FFN
  side also the dense layers and the LM head / MTP, which run on the attention GPUs; EP none;
* **overhead** — the fixed per-step work no operator model covers (`Calibration.step_overhead_s`).

Memory (`memory_headroom`): usable = HBM − max(framework reserve, named buffers) (ops.memory); headroom =
usable − weights − KV of the batch, per GPU of each role — the accounting `max_batch_per_gpu` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from afdscope.deploy.calibration import DEFAULT_CALIBRATION, Calibration
from afdscope.deploy.result import DeploymentResult, Evaluation
from afdscope.errors import AfdscopeError
from afdscope.ops.memory import kv_bytes_per_request
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel
from afdscope.specs.scenario import Scenario
from afdscope.units import GB

CATEGORIES = ("compute", "exposed_communication", "bubbles", "idle", "overhead")


def _scalar(x) -> float:
    a = np.asarray(x, dtype=float)
    if a.size != 1:
        raise AfdscopeError("step_budget takes one configuration: evaluate a single point first")
    return float(a.reshape(()))


@dataclass(frozen=True)
class LayerTimes:
    """One MoE layer of one configuration, seconds. `link_s` is the per-micro-batch link occupancy
    (dispatch + combine half duplex, the larger of the two full duplex); `stage_s` = max(t_a, t_f,
    link) for AFD, layer / micro-batches for EP."""

    mode: str
    micro_batches: int
    attention_s: float
    ffn_s: float
    dispatch_s: float
    combine_s: float
    link_s: float
    stage_s: float
    round_trip_s: float
    layer_s: float


def layer_times(ev: Evaluation, calibration: Calibration) -> LayerTimes:
    a, f = _scalar(ev.attention_s), _scalar(ev.ffn_s)
    d, c = _scalar(ev.dispatch_s), _scalar(ev.combine_s)
    if ev.mode == "afd":
        link = max(d, c) if calibration.comm.full_duplex else d + c
        stage = max(a, f, link)
    else:
        link = d + c
        stage = _scalar(ev.stage_s)  # layer / micro-batches
    return LayerTimes(
        mode=ev.mode,
        micro_batches=int(ev.micro_batches),
        attention_s=a,
        ffn_s=f,
        dispatch_s=d,
        combine_s=c,
        link_s=link,
        stage_s=stage,
        round_trip_s=a + d + f + c,
        layer_s=_scalar(ev.layer_s),
    )


def layer_split(ev: Evaluation, calibration: Calibration) -> dict[str, dict[str, float]]:
    """Role → one MoE layer's time cut into compute, exposed communication, bubbles and idle (s); each
    role's parts add up to `layer_s`. Roles: "ep", or "attention" and "ffn"."""
    t = layer_times(ev, calibration)
    m, layer = t.micro_batches, t.layer_s
    if t.mode == "ep":
        compute = m * (t.attention_s + t.ffn_s)
        exposed = max(layer - compute, 0.0)
        return {"ep": {"compute": compute, "exposed_communication": exposed, "bubbles": 0.0, "idle": 0.0}}
    busiest = max(t.attention_s, t.ffn_s)
    exposed = m * (t.stage_s - busiest)
    bubbles = max(layer - m * t.stage_s, 0.0)
    return {
        role: {
            "compute": m * own,
            "exposed_communication": exposed,
            "bubbles": bubbles,
            "idle": m * (busiest - own),
        }
        for role, own in (("attention", t.attention_s), ("ffn", t.ffn_s))
    }


@dataclass(frozen=True)
class StepBudget:
    """A decode step by role and category (s), and the TPOT budget it is measured against."""

    mode: str
    step_s: float
    tokens_per_step: float
    budget_s: float  # the SLO's step time: TPOT limit × tokens per step
    layers: LayerTimes
    per_layer: dict  # role → category → s, one MoE layer (no overhead)
    per_step: dict  # role → category → s, summing to step_s
    moe_layers: int
    dense_layers: int
    dense_layer_s: float
    serial_s: float  # overhead + LM head + MTP drafts
    fill_s: float  # AFD pipeline fill / EP 2BO trailing block, once per step

    @property
    def tpot_s(self) -> float:
        return self.step_s / self.tokens_per_step

    def role_total_s(self, role: str) -> float:
        """The sum of one role's per-step parts (equal to `step_s` up to rounding)."""
        return sum(self.per_step[role].values())

    @property
    def slack_s(self) -> float:
        """Step time left under the SLO (negative when the SLO is missed)."""
        return self.budget_s - self.step_s


def step_budget(ev: Evaluation, model: MoEModel, calibration: Calibration, tpot_limit_s: float) -> StepBudget:
    """The step of one evaluated configuration (0-d arrays) split per role into `CATEGORIES`."""
    step, serial = _scalar(ev.step_s), _scalar(ev.serial_s)
    dense = _scalar(ev.dense_layer_s)
    n_moe, n_dense = model.n_moe_layers, model.n_dense_layers
    per_layer = layer_split(ev, calibration)
    layer = _scalar(ev.layer_s)
    fill = max(step - serial - n_moe * layer - n_dense * dense, 0.0)
    overhead = calibration.step_overhead_s
    head = serial - overhead  # LM head and MTP drafts
    per_step = {}
    for role, parts in per_layer.items():
        own_extra = n_dense * dense + head  # run on the attention / EP GPUs
        per_step[role] = {
            "compute": n_moe * parts["compute"] + (own_extra if role != "ffn" else 0.0),
            "exposed_communication": n_moe * parts["exposed_communication"],
            "bubbles": n_moe * parts["bubbles"] + fill,
            "idle": n_moe * parts["idle"] + (own_extra if role == "ffn" else 0.0),
            "overhead": overhead,
        }
    return StepBudget(
        mode=ev.mode,
        step_s=step,
        tokens_per_step=float(ev.tokens_per_step),
        budget_s=tpot_limit_s * float(ev.tokens_per_step),
        layers=layer_times(ev, calibration),
        per_layer=per_layer,
        per_step=per_step,
        moe_layers=n_moe,
        dense_layers=n_dense,
        dense_layer_s=dense,
        serial_s=serial,
        fill_s=fill,
    )


def kv_bytes_per_gpu_request(model: MoEModel, scenario: Scenario, attention_tp: int = 1) -> float:
    """KV bytes one request costs each GPU of its attention group (TP groups replicate what cannot split),
    as the evaluators count it."""
    mtp = model.mtp_layers if scenario.mtp_draft_tokens else 0
    kv = kv_bytes_per_request(model, scenario.context_tokens, scenario.precision, mtp_layers=mtp)
    return float(kv) * attention_tp * model.attention.kv_share(attention_tp)


def memory_headroom(
    result: DeploymentResult,
    model: MoEModel,
    hardware: dict[str, Hardware],
    scenario: Scenario,
    calibration: Calibration = DEFAULT_CALIBRATION,
) -> dict[str, dict[str, float]]:
    """Role → GB per GPU: usable HBM, weights, buffers, KV (the batch's), used and headroom = usable −
    used. `hardware`: role → device ("ep", or "attention" and "ffn")."""
    kv_request = kv_bytes_per_gpu_request(model, scenario, int(result.config.get("attention_tp", 1)))
    out = {}
    for role, terms in result.memory_gb_per_gpu.items():
        # What weights and KV may use: the KV pool the evaluator sized plus the weights (HBM less the
        # framework reserve or the named buffers, whichever is larger; ops.memory).
        usable = terms["kv_pool"] + terms["total"]
        kv = result.batch_per_gpu * kv_request / GB if role != "ffn" else 0.0
        used = terms["total"] + kv
        out[role] = {
            "usable_gb": usable,
            "weights_gb": terms["total"],
            "buffers_gb": terms["hbm_capacity"] - usable,
            "kv_gb": kv,
            "used_gb": used,
            "headroom_gb": usable - used,
        }
    return out
