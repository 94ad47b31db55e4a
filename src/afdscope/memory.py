"""Re-export shim: the memory model moved to afdscope.ops.memory."""

from afdscope.ops.memory import *  # noqa: F403
from afdscope.ops.memory import (  # noqa: F401
    MemoryOptions,
    Overheads,
    WeightsPerGpu,
    _check_gpus,
    _experts_per_gpu,
    afd_weights_per_gpu,
    deepep_low_latency_buffer_bytes,
    ep_overheads,
    ep_weights_per_gpu,
    kv_bytes_per_request,
    max_batch_per_gpu,
    memory_breakdown,
    memory_reasons,
    sglang_mem_fraction_static,
)
