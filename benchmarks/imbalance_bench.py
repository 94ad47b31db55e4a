"""Speed of the routing Monte Carlo (afdscope.routing): 10,000 draws of 8,192 tokens over 256 experts
(DeepSeek-V3, EP 64), three popularity/placement cases. Untargeted (the issue's aim: under 1 s on one core).
Run alone with `python benchmarks/imbalance_bench.py`; benchmarks/run.py adds the figures to `make bench`.
"""

from __future__ import annotations

from timing import Figure, median_s

from afdscope.catalog.model_catalog import load_model
from afdscope.routing import Popularity, simulate_routing

DRAWS, TOKENS, GPUS = 10_000, 8_192, 64
KEYS = ("routing-uniform", "routing-power-law", "routing-power-law-eplb")


def imbalance_rows(repeat: int = 5) -> list[Figure]:
    """Median milliseconds for the issue's size, three popularity/placement cases."""
    model = load_model("deepseek-v3")
    n = model.n_routed_experts
    cases = [
        ("uniform", Popularity.uniform(n), 0),
        ("power law α=1.01, group-limited", Popularity.power_law(n, 1.01), 0),
        ("power law α=1.01 + EPLB R=64", Popularity.power_law(n, 1.01), 64),
    ]
    size = f"{DRAWS:,} draws × {TOKENS:,} tokens × {n} experts, EP {GPUS}"
    return [
        Figure(
            key,
            f"routing: {size}, {label}",
            1e3
            * median_s(
                lambda p=pop, r=r: simulate_routing(model, p, TOKENS, DRAWS, gpus=GPUS, redundant=r),
                repeat,
            ),
            "ms",
        )
        for key, (label, pop, r) in zip(KEYS, cases, strict=True)
    ]


if __name__ == "__main__":
    for f in imbalance_rows():
        print(f"  {f.name:<90}  {f.value:9.1f} {f.unit}")
