"""Speed of the routing Monte Carlo (afdscope.routing). Prints medians; asserts nothing.

Target (issue): 10,000 draws of 8,192 tokens over 256 experts (DeepSeek-V3, EP 64) under 1 s on one core.
Run alone with `python benchmarks/imbalance_bench.py`; benchmarks/run.py adds the rows to `make bench`.
"""

from __future__ import annotations

from timing import median_s

from afdscope.catalog.model_catalog import load_model
from afdscope.routing import Popularity, simulate_routing

DRAWS, TOKENS, GPUS = 10_000, 8_192, 64


def imbalance_rows(repeat: int = 5) -> list[tuple[str, float]]:
    """[(label, median seconds)] for the issue's size, three popularity/placement cases."""
    model = load_model("deepseek-v3")
    n = model.n_routed_experts
    cases = [
        ("uniform", Popularity.uniform(n), 0),
        ("power law α=1.01, group-limited", Popularity.power_law(n, 1.01), 0),
        ("power law α=1.01 + EPLB R=64", Popularity.power_law(n, 1.01), 64),
    ]
    size = f"{DRAWS:,} draws × {TOKENS:,} tokens × {n} experts, EP {GPUS}"
    return [
        (
            f"imbalance: {size}, {label}",
            median_s(
                lambda p=pop, r=r: simulate_routing(model, p, TOKENS, DRAWS, gpus=GPUS, redundant=r),
                repeat,
            ),
        )
        for label, pop, r in cases
    ]


if __name__ == "__main__":
    rows = imbalance_rows()
    width = max(len(label) for label, _ in rows)
    for label, t in rows:
        print(f"  {label:<{width}}  {t * 1e3:9.1f} ms")
