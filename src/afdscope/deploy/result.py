"""What an evaluation returns: arrays over a sweep (`Evaluation`) and one point of it (`DeploymentResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from afdscope.cost import usd_per_million_tokens
from afdscope.deploy.expected_error import deployment_families, expected_error

BOTTLENECKS = ("attention", "ffn", "communication", "memory")


@dataclass(frozen=True)
class Evaluation:
    """A deployment evaluated over broadcast arrays (batch, context, GPU counts…). Times in s.

    `attention_s`, `ffn_s`, `dispatch_s`, `combine_s` are one MoE layer's per-micro-batch stage times;
    `layer_s` the time of one MoE layer for all micro-batches; `step_s` one decode step.
    """

    mode: str
    batch_per_gpu: np.ndarray  # requests per attention GPU
    context_tokens: np.ndarray
    total_gpus: np.ndarray
    attention_gpus: np.ndarray  # EP: every GPU
    micro_batches: int
    attention_s: np.ndarray
    ffn_s: np.ndarray
    dispatch_s: np.ndarray
    combine_s: np.ndarray
    layer_s: np.ndarray
    step_s: np.ndarray
    tokens_per_step: float
    ffn_flops_per_stage: np.ndarray  # routed-expert FLOPs one FFN GPU does per micro-batch and layer
    ffn_peak_flops: float
    stage_s: np.ndarray  # per micro-batch and MoE layer: the paper's t_B analogue
    bottleneck: np.ndarray  # index into BOTTLENECKS
    max_batch_per_gpu: np.ndarray  # KV capacity limit (attention GPU)
    memory_reasons: tuple[str, ...]  # weights that do not fit whatever the batch
    memory_gb_per_gpu: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    # Rental cost of the whole deployment per role (USD/hour, arrays); empty when a price is unknown.
    usd_per_hour_by_role: dict = field(default_factory=dict)
    # AFD: True where attention↔FFN traffic stays inside one Superpod's scale-up domain.
    scale_up_only: np.ndarray | bool = False
    # The rest of a step, for the simulator: one dense layer (all micro-batches) and the serial work
    # outside the layer pipeline (fixed overhead, LM head, MTP drafts; AFD's pipeline fill excluded).
    dense_layer_s: np.ndarray | float = 0.0
    serial_s: np.ndarray | float = 0.0
    # What was evaluated and how (AFD: `attention_gpus` of the deployment may be swept by the array above).
    deployment: object = None
    calibration: object = None
    phases: object = None  # EP: the per-micro-batch phases the schedule composed (deploy/schedules.py)
    skew: object = None  # the RoutingSkew applied

    @property
    def tokens_per_s_total(self) -> np.ndarray:
        return self.tokens_per_s_per_gpu * self.total_gpus

    @property
    def usd_per_million_tokens(self) -> np.ndarray | None:
        if not self.usd_per_hour_by_role:
            return None
        total = sum(self.usd_per_hour_by_role.values())
        return usd_per_million_tokens(total, self.tokens_per_s_total)

    @property
    def tpot_s(self) -> np.ndarray:
        return self.step_s / self.tokens_per_step

    @property
    def tokens_per_s_per_user(self) -> np.ndarray:
        return self.tokens_per_step / self.step_s

    @property
    def tokens_per_s_per_gpu(self) -> np.ndarray:
        """Output tokens over all GPUs of the deployment (attention and FFN)."""
        return self.batch_per_gpu * self.attention_gpus * self.tokens_per_s_per_user / self.total_gpus

    @property
    def hfu_ffn(self) -> np.ndarray:
        """FFN-side HFU as the paper defines it: expert FLOPs over peak × the per-layer stage time."""
        return self.ffn_flops_per_stage / (self.ffn_peak_flops * self.stage_s)

    @property
    def fits(self) -> np.ndarray:
        """Fits in memory, over the evaluation's full shape."""
        fits = (self.batch_per_gpu <= self.max_batch_per_gpu) & (len(self.memory_reasons) == 0)
        return np.broadcast_to(fits, self.step_s.shape)

    def meets(self, tpot_limit_s) -> np.ndarray:
        """Feasible: fits in memory and meets the TPOT limit (a scalar, or an array that broadcasts)."""
        return self.fits & (self.tpot_s <= tpot_limit_s)

    def point(self, index=(), extra_reasons: tuple[str, ...] = ()) -> DeploymentResult:
        """One configuration of the sweep as a result object (`extra_reasons`: e.g. a missed SLO)."""

        def at(x):
            a = np.asarray(x)
            return a[index] if a.ndim else a

        batch = int(at(np.broadcast_to(self.batch_per_gpu, self.step_s.shape)))
        reasons = list(self.memory_reasons)
        max_batch = int(at(np.broadcast_to(self.max_batch_per_gpu, self.step_s.shape)))
        if not reasons and batch > max_batch:
            per = "per GPU" if self.mode == "ep" else "per attention GPU"
            reasons.append(
                f"KV cache fits {max_batch} requests {per} at "
                f"{int(at(np.broadcast_to(self.context_tokens, self.step_s.shape)))} tokens of context, "
                f"{batch} asked"
            )
        memory_bound = bool(reasons)
        reasons += list(extra_reasons)
        bottleneck = "memory" if memory_bound else BOTTLENECKS[int(at(self.bottleneck))]
        return DeploymentResult(
            mode=self.mode,
            feasible=not reasons,
            reasons=tuple(reasons),
            tokens_per_s_per_gpu=float(at(self.tokens_per_s_per_gpu)),
            tokens_per_s_per_user=float(at(self.tokens_per_s_per_user)),
            tpot_ms=float(at(self.tpot_s)) * 1e3,
            batch_per_gpu=batch,
            per_layer_us={
                "attention": float(at(self.attention_s)) * 1e6,
                "ffn": float(at(self.ffn_s)) * 1e6,
                "dispatch": float(at(self.dispatch_s)) * 1e6,
                "combine": float(at(self.combine_s)) * 1e6,
            },
            bottleneck=bottleneck,
            hfu_ffn=float(at(self.hfu_ffn)),
            memory_gb_per_gpu=self.memory_gb_per_gpu,
            step_ms=float(at(self.step_s)) * 1e3,
            total_gpus=int(at(np.broadcast_to(self.total_gpus, self.step_s.shape))),
            config=self._config_at(at),
            usd_per_million_output_tokens=(
                None if self.usd_per_million_tokens is None else float(at(self.usd_per_million_tokens))
            ),
            usd_per_million_by_role={
                role: float(at(usd_per_million_tokens(usd, self.tokens_per_s_total)))
                for role, usd in self.usd_per_hour_by_role.items()
            },
            deployment=self._deployment_at(at),
            calibration=self.calibration,
            routing_skew=self._skew_at(at),
            expected_error=expected_error(deployment_families(self.deployment), self.mode),
        )

    def _skew_at(self, at) -> str:
        if self.skew is None:
            return "balanced"
        if self.skew.is_balanced and not self.skew.source:
            return "balanced"
        point = self.skew.replace(
            **{
                name: float(at(np.broadcast_to(getattr(self.skew, name), self.step_s.shape)))
                if np.ndim(getattr(self.skew, name)) and np.size(getattr(self.skew, name)) == self.step_s.size
                else getattr(self.skew, name)
                for name in ("expert_load_factor", "comm_load_factor", "comm_straggler", "attention_factor")
            }
        )
        return point.describe()

    def _deployment_at(self, at):
        if self.deployment is None or self.mode == "ep":
            return self.deployment
        n = int(at(np.broadcast_to(self.attention_gpus, self.step_s.shape)))
        return (
            self.deployment
            if n == self.deployment.attention_gpus
            else self.deployment.replace(attention_gpus=n)
        )

    def _config_at(self, at) -> dict:
        """The static configuration plus the swept GPU counts of this point."""
        shape = self.step_s.shape
        if self.mode == "ep":
            return self.config | {"gpus": int(at(np.broadcast_to(self.attention_gpus, shape)))}
        attention = int(at(np.broadcast_to(self.attention_gpus, shape)))
        fabric = "scale-up" if bool(at(np.broadcast_to(self.scale_up_only, shape))) else "scale-out"
        return self.config | {"attention_gpus": attention, "fabric": fabric}


@dataclass(frozen=True)
class DeploymentResult:
    mode: str
    feasible: bool
    reasons: tuple[str, ...]
    tokens_per_s_per_gpu: float
    tokens_per_s_per_user: float
    tpot_ms: float
    batch_per_gpu: int
    per_layer_us: dict
    bottleneck: str
    hfu_ffn: float
    memory_gb_per_gpu: dict
    step_ms: float
    total_gpus: int
    config: dict
    usd_per_million_output_tokens: float | None = None
    usd_per_million_by_role: dict = field(default_factory=dict)  # AFD: attention and FFN shares
    routing_skew: str = "balanced"  # the skew the evaluation assumed (RoutingSkew.describe)
    # Band of predicted / actual − 1 seen on comparable validated deployments: {"low", "high", "basis"}.
    expected_error: dict = field(default_factory=dict)
    # The evaluated values themselves (the JSON form keeps to `config`).
    deployment: object = field(default=None, repr=False, compare=False)
    calibration: object = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("deployment", "calibration")}
        d["reasons"] = list(self.reasons)
        return d
