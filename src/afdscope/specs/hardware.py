"""One accelerator (GPU/NPU) as an immutable spec in SI units.

Peaks are datasheet values; the `sustained` fractions turn them into what kernels and links reach in
practice. The paper's own (already sustained, rounded) values are a separate value set in which all
fractions are 1, so `effective_*` returns exactly the paper's Table 5 numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

ValueSet = Literal["datasheet", "paper"]
Dtype = Literal["bf16", "fp8", "fp4", "int8"]


class Sustained(BaseModel):
    """Fractions of peak reached in practice (0 < f ≤ 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Kernel efficiency is modelled by operator-level curves (OFU vs tokens); this stays 1 unless a
    # device is known to throttle below its dense peak.
    compute: float = Field(1.0, gt=0, le=1)
    hbm: float = Field(0.8, gt=0, le=1)
    scale_up: float = Field(0.8, gt=0, le=1)
    scale_out: float = Field(0.9, gt=0, le=1)


class Hardware(BaseModel):
    """Per-GPU facts. Bandwidths are per GPU and per direction (unidirectional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)  # catalog short name, e.g. "h800"
    display_name: str
    value_set: ValueSet = "datasheet"
    bf16_flops: PositiveFloat  # FLOP/s, dense (no 2:4 sparsity)
    fp8_flops: PositiveFloat | None = None
    fp4_flops: PositiveFloat | None = None
    int8_flops: PositiveFloat | None = None  # INT8 tensor-core OP/s, dense (W8A8 GEMMs)
    hbm_capacity: PositiveFloat  # bytes, as the device reports it (nvidia-smi MiB × 2**20) where known
    hbm_bandwidth: PositiveFloat  # bytes/s
    scale_up_bandwidth: PositiveFloat  # bytes/s per GPU, one direction (NVLink / UB / xGMI / PCIe)
    scale_up_domain: PositiveInt  # GPUs reachable over scale-up (8 for HGX, 72 for NVL72)
    scale_out_bandwidth: PositiveFloat  # bytes/s per GPU, one direction (RDMA NIC)
    gpus_per_node: PositiveInt = 8  # the deployment unit of the paper (g)
    sustained: Sustained = Sustained()
    price_usd_per_gpu_hour: PositiveFloat | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Architecture family whose kernel-efficiency profile the operator models use
    # (calibration/profiles/<family>.yaml); None: hopper.
    calibration_profile: str | None = None

    @property
    def is_superpod(self) -> bool:
        """Scale-up fabric spans more than one node (GB200/GB300 NVL72, CloudMatrix384): the paper
        then routes all AFD traffic over scale-up."""
        return self.scale_up_domain > self.gpus_per_node

    def _peaks(self) -> dict[str, float | None]:
        return {
            "bf16": self.bf16_flops,
            "fp8": self.fp8_flops,
            "fp4": self.fp4_flops,
            "int8": self.int8_flops,
        }

    def peak_flops(self, dtype: Dtype = "fp8") -> float:
        peaks = self._peaks()
        if dtype not in peaks:
            from afdscope.errors import AfdscopeError

            raise AfdscopeError(f"unknown compute format {dtype!r}; use one of: {', '.join(peaks)}")
        value = peaks[dtype]
        if value is None:
            from afdscope.errors import AfdscopeError

            raise AfdscopeError(
                f"hardware '{self.name}' has no dense {dtype.upper()} peak; "
                f"choose another format (it has: {', '.join(self.dtypes)})"
            )
        return value

    @property
    def dtypes(self) -> tuple[str, ...]:
        """Compute formats this device has a dense peak for, narrowest last: bf16, fp8, int8, fp4."""
        peaks = self._peaks()
        return tuple(d for d in ("bf16", "fp8", "int8", "fp4") if peaks[d])

    def runnable_dtype(self, dtype: Dtype) -> Dtype:
        """`dtype` itself when this device has a dense peak for it; otherwise an `AfdscopeError` naming the
        formats it has (FP4 on Hopper, FP8 on Ampere or Ascend). No silent upcast: a W4A16 / W8A16 kernel
        is a different deployment, chosen by asking for the format it computes in."""
        self.peak_flops(dtype)
        return dtype

    def fallback_dtype(self, dtype: Dtype) -> Dtype:
        """The next wider format this device has (fp4 → fp8 → bf16, int8 → bf16): only for analyses
        that quote a device's best rate for a format it lacks (the Janus threshold on A100); deployments
        use `runnable_dtype`, which refuses."""
        order = {"fp4": ("fp4", "fp8", "bf16"), "fp8": ("fp8", "bf16"), "int8": ("int8", "bf16")}
        return next(d for d in order.get(dtype, (dtype,)) + ("bf16",) if self._peaks().get(d))

    def effective_flops(self, dtype: Dtype = "fp8") -> float:
        return self.peak_flops(dtype) * self.sustained.compute

    @property
    def effective_hbm_bandwidth(self) -> float:
        return self.hbm_bandwidth * self.sustained.hbm

    @property
    def effective_scale_up_bandwidth(self) -> float:
        return self.scale_up_bandwidth * self.sustained.scale_up

    @property
    def effective_scale_out_bandwidth(self) -> float:
        return self.scale_out_bandwidth * self.sustained.scale_out
