"""Expert-as-a-Service (paper §5): every MoE layer's experts become their own service.

To keep the tokens each FFN rank receives per budget — and so its HFU — what the AFD analysis found,
each layer's service needs as many nodes as the whole FFN side of AFD: the node count grows by the
number of MoE layers (≈ 58× for DeepSeek-V3), while each GPU holds one layer's experts and leaves
most of its HBM empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from afdscope.errors import AfdscopeError
from afdscope.paper.ceiling import hfu_ceiling
from afdscope.paper.options import PaperOptions
from afdscope.specs.hardware import Hardware
from afdscope.specs.model import MoEModel


@dataclass(frozen=True)
class EaasEstimate:
    model: str
    hardware: str
    n_moe_layers: int
    afd_ffn_nodes: int  # N_F at the AFD HFU ceiling
    eaas_nodes: int
    node_multiplier: float
    afd_expert_gb_per_gpu: float
    eaas_expert_gb_per_gpu: float
    eaas_hbm_used_fraction: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def eaas_estimate(
    model: MoEModel, hw: Hardware, options: PaperOptions, max_ffn_nodes: int = 64
) -> EaasEstimate:
    cell = hfu_ceiling(model, hw, options, max_ffn_nodes)
    if cell.n_ffn_nodes is None:
        raise AfdscopeError(
            f"{model.name} on {hw.name}: no FFN node count up to {max_ffn_nodes} passes the memory checks, "
            "so there is no AFD base to scale; raise --max-ffn-nodes"
        )
    base = cell.n_ffn_nodes
    experts_per_gpu = math.ceil(model.n_routed_experts / (base * options.gpus_per_node))
    per_layer = experts_per_gpu * model.routed_expert_params * options.weight_bytes
    return EaasEstimate(
        model=model.name,
        hardware=hw.name,
        n_moe_layers=model.n_moe_layers,
        afd_ffn_nodes=base,
        eaas_nodes=base * model.n_moe_layers,
        node_multiplier=float(model.n_moe_layers),
        afd_expert_gb_per_gpu=model.n_moe_layers * per_layer / 1e9,
        eaas_expert_gb_per_gpu=per_layer / 1e9,
        eaas_hbm_used_fraction=per_layer / hw.hbm_capacity,
    )
