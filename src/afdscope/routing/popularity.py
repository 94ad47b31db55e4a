"""Expert popularity laws: each expert's expected share of the token-expert assignments (spec beyond.md §F).

`Popularity`: the shares a trace measures (uniform, power law, Zipf, counts, a CSV of per-expert counts).
A token includes expert e with probability π_e = K·p_e, capped at 1 (a token picks an expert at most
once); capped experts pass their excess on to the others in proportion (`Popularity.inclusion`).

Ranked popularity (power law): which expert ids are hot is unknown and differs between layers, so every
draw assigns the ranks to expert ids by a fresh random permutation (afdscope.routing.sampling).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from afdscope.errors import AfdscopeError


@dataclass(frozen=True, eq=False)
class Popularity:
    """Each expert's expected share of the token-expert assignments (sums to 1).

    `ranked`: the shares are by popularity rank and the hot experts' ids are unknown; routing then maps
    ranks onto expert ids by a random permutation per draw. Otherwise index e is expert id e.
    """

    probabilities: np.ndarray
    name: str = "custom"
    ranked: bool = False

    def __post_init__(self) -> None:
        p = np.array(self.probabilities, dtype=float)  # a private copy: the caller's array may change
        if p.ndim != 1 or p.size == 0:
            raise AfdscopeError(f"popularity '{self.name}': give a non-empty 1-D array of shares")
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise AfdscopeError(f"popularity '{self.name}': shares must be finite and >= 0")
        if abs(p.sum() - 1.0) > 1e-6:
            raise AfdscopeError(
                f"popularity '{self.name}': shares sum to {p.sum():.6g}, not 1; normalise them (p / p.sum())"
            )
        p = p / p.sum()
        p.flags.writeable = False
        object.__setattr__(self, "probabilities", p)

    @property
    def n_experts(self) -> int:
        return self.probabilities.size

    @classmethod
    def uniform(cls, n: int) -> Popularity:
        _check_count(n, "experts")
        return cls(np.full(n, 1.0 / n), "uniform")

    @classmethod
    def power_law(cls, n: int, alpha: float) -> Popularity:
        """p_i ∝ i^−α over ranks i = 1..n; ranks land on random expert ids (one permutation per draw)."""
        _check_count(n, "experts")
        _check_exponent(alpha, "power-law alpha")
        p = np.arange(1, n + 1, dtype=float) ** -float(alpha)
        return cls(p / p.sum(), f"power-law alpha={alpha:g}", ranked=True)

    @classmethod
    def zipf(cls, n: int, s: float) -> Popularity:
        """The same rank law, 1/rank^s, but rank = expert id + 1: expert 0 is the hottest and a contiguous
        placement puts the hottest experts on the same GPU — the worst case of the power law."""
        _check_count(n, "experts")
        _check_exponent(s, "Zipf exponent")
        p = np.arange(1, n + 1, dtype=float) ** -float(s)
        return cls(p / p.sum(), f"zipf s={s:g}")

    @classmethod
    def from_counts(cls, counts, name: str = "counts") -> Popularity:
        c = np.asarray(counts, dtype=float)
        if c.ndim != 1 or not np.all(np.isfinite(c)) or np.any(c < 0) or c.sum() <= 0:
            raise AfdscopeError(f"popularity '{name}': counts must be finite, >= 0 and not all 0")
        return cls(c / c.sum(), name)

    @classmethod
    def from_csv(cls, path: str | Path, n_experts: int) -> Popularity:
        """Per-expert token counts from a CSV with a header `expert,count` (one row per expert id
        0..n−1, any order) or a single column `count` (row i is expert i). `#` lines are comments."""
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise AfdscopeError(f"{path}: cannot read popularity CSV ({reason}); check the path") from None
        rows = [
            (i, r)
            for i, r in enumerate(csv.reader(text.splitlines()), start=1)
            if r and any(x.strip() for x in r) and not r[0].lstrip().startswith("#")
        ]
        if not rows:
            raise AfdscopeError(f"{path}: empty; write a header 'expert,count' and one row per expert")
        header = [h.strip().lower() for h in rows[0][1]]
        if header not in (["expert", "count"], ["count"]):
            raise AfdscopeError(
                f"{path}: line {rows[0][0]}: header {','.join(rows[0][1])!r}; "
                "expected 'expert,count' (or a single column 'count')"
            )
        counts = np.full(n_experts, np.nan)
        for index, (line, row) in enumerate(rows[1:]):
            if len(row) != len(header):
                raise AfdscopeError(f"{path}: line {line}: {len(row)} fields, expected {len(header)}")
            try:
                value = float(row[-1])
            except ValueError:
                bad = row[-1].strip()
                raise AfdscopeError(f"{path}: line {line}: count {bad!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise AfdscopeError(f"{path}: line {line}: count {value:g}; counts must be finite and >= 0")
            if len(header) == 2:
                try:
                    e = int(row[0])
                except ValueError:
                    e = -1
                if not 0 <= e < n_experts:
                    raise AfdscopeError(
                        f"{path}: line {line}: expert {row[0].strip()!r}; ids are integers 0..{n_experts - 1}"
                    )
            else:  # one column: row i is expert i
                e = index
                if e >= n_experts:
                    raise AfdscopeError(f"{path}: line {line}: more than {n_experts} rows, one per expert")
            if not np.isnan(counts[e]):
                raise AfdscopeError(f"{path}: line {line}: expert {e} appears twice; give one row per expert")
            counts[e] = value
        missing = np.flatnonzero(np.isnan(counts))
        if missing.size:
            raise AfdscopeError(
                f"{path}: {missing.size} of {n_experts} experts have no row (first: expert {missing[0]}); "
                "give one row per expert of the model"
            )
        if counts.sum() <= 0:
            raise AfdscopeError(f"{path}: all counts are 0; give the tokens each expert received")
        return cls(counts / counts.sum(), path.name)

    def inclusion(self, top_k: int) -> np.ndarray:
        """π_e: probability that one token includes expert e (Σ π = K, each ≤ 1). A share above 1/K cannot
        be met (a token picks an expert once), so capped experts get π = 1 and the rest are scaled up."""
        return _inclusion(self.probabilities, top_k, self.name)

    def hottest_over_mean(self, top_k: int) -> float:
        """The busiest expert's expected load over the mean, after the cap at one pick per token."""
        pi = self.inclusion(top_k)
        return float(pi.max() / pi.mean())

    def top_share(self, fraction: float, top_k: int | None = None) -> float:
        """Share of all assignments the hottest `fraction` of experts carry (0.2: the top 20 %)."""
        p = self.probabilities if top_k is None else self.inclusion(top_k) / top_k
        n = max(1, round(fraction * p.size))
        return float(np.sort(p)[::-1][:n].sum())


def _check_count(n, what: str) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise AfdscopeError(f"{what} = {n!r}; it must be an integer >= 1")


def _check_exponent(a, what: str) -> None:
    if not (isinstance(a, int | float | np.floating) and math.isfinite(a) and 0 <= a <= 10):
        raise AfdscopeError(f"{what} = {a!r}; give a number in [0, 10] (1.01 fits DeepSeek-V3, 1.2 Qwen3)")


def _inclusion(p: np.ndarray, k: int, name: str) -> np.ndarray:
    if np.count_nonzero(p) < k:
        raise AfdscopeError(
            f"popularity '{name}': only {np.count_nonzero(p)} experts have a non-zero share; "
            f"top-{k} routing needs at least {k}"
        )
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    tail = np.cumsum(ps[::-1])[::-1]  # Σ_{j ≥ m} p_j
    m = np.arange(ps.size)
    # m capped experts (π = 1) leave K − m picks to the rest: the first m where that scaling stays ≤ 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        fits = (m < k) & (ps * (k - m) <= tail * (1 + 1e-12))
    capped = int(np.argmax(fits))
    pi_sorted = np.ones_like(ps)
    pi_sorted[capped:] = np.minimum(ps[capped:] * (k - capped) / tail[capped], 1.0)
    pi = np.empty_like(pi_sorted)
    pi[order] = pi_sorted
    return pi
