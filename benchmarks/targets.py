"""The speed targets `make bench` enforces: the one table of them (README.md's "Speed targets" shows it).

Each target names the benchmark key in benchmarks/run.py whose figure it bounds, in the unit that benchmark
reports. Sources: the paper-analysis and simulator targets of the project's issues (matrix < 50 ms of
compute; ≥ 1 M deployment evaluations per second; the headline search < 2 s; simulator ≥ 200 k events/s)
and `afdscope validate` < 5 s (issue 12). tests/test_bench_targets.py checks that the README's table and
this one agree.
"""

from __future__ import annotations

from dataclasses import dataclass

LESS = "<"
AT_LEAST = "≥"


@dataclass(frozen=True)
class Target:
    key: str  # the benchmark key in run.py and results.json
    what: str  # what is measured, as the README says it
    comparison: str  # LESS (a time) or AT_LEAST (a rate)
    limit: float  # in `unit`
    unit: str

    def __post_init__(self) -> None:
        if self.comparison not in (LESS, AT_LEAST):
            raise ValueError(f"target {self.key}: comparison '{self.comparison}' is not '<' or '≥'")
        if not self.limit > 0:
            raise ValueError(f"target {self.key}: limit {self.limit} must be positive")

    def met(self, figure: float) -> bool:
        """Whether a measured figure (in `unit`) meets the target."""
        return figure < self.limit if self.comparison == LESS else figure >= self.limit

    def shortfall(self, figure: float) -> float:
        """How far a figure misses, as a fraction of the limit (0 when met): 0.2 = 20 % over a time
        limit, or 20 % short of a rate."""
        if self.met(figure):
            return 0.0
        return figure / self.limit - 1 if self.comparison == LESS else 1 - figure / self.limit

    @property
    def text(self) -> str:
        """The target as the README writes it, e.g. '< 50 ms' or '≥ 1,000,000 evaluations/s'."""
        limit = f"{int(self.limit):,}" if float(self.limit).is_integer() else f"{self.limit:g}"
        return f"{self.comparison} {limit} {self.unit}"


TARGETS: tuple[Target, ...] = (
    Target("matrix", "Paper HFU matrix: 8 GPUs × 6 models × N_F 1..64 (`hfu_matrix`)", LESS, 50, "ms"),
    Target(
        "eval-ep-rate",
        "EP deployment evaluations (batch × context × GPU-count grid, `evaluate_ep`)",
        AT_LEAST,
        1_000_000,
        "evaluations/s",
    ),
    Target(
        "eval-afd-rate",
        "AFD deployment evaluations (the same grid, `evaluate_afd`)",
        AT_LEAST,
        1_000_000,
        "evaluations/s",
    ),
    Target(
        "search", "Headline search: deepseek-v3 × h800, 4096 context, 50 ms TPOT (`search`)", LESS, 2, "s"
    ),
    Target(
        "sim-rate",
        "Simulator event loop, slowest of the four `simulate` cases (V3, 100 steps)",
        AT_LEAST,
        200_000,
        "events/s",
    ),
    Target("validate", "`afdscope validate --format json` (whole process)", LESS, 5, "s"),
)


def by_key() -> dict[str, Target]:
    return {t.key: t for t in TARGETS}


def markdown_table() -> str:
    """The README's table (benchmark key, what it measures, target)."""
    lines = ["| Benchmark | What is timed | Target |", "|---|---|---|"]
    lines += [f"| `{t.key}` | {t.what} | {t.text} |" for t in TARGETS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
