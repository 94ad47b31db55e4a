"""Non-dominated points and the 9-digit tie rule the search picks its bests with."""

from __future__ import annotations

import numpy as np


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both x and y (larger is better), by ascending x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((-y, -x))  # x descending, ties by y descending
    ys = y[order]
    best_so_far = np.maximum.accumulate(np.r_[-np.inf, ys[:-1]])
    keep = order[ys > best_so_far]
    return keep[np.argsort(x[keep], kind="stable")]


def rounded(v: np.ndarray) -> np.ndarray:
    """Values rounded to 9 significant digits (inf stays inf)."""
    finite = np.isfinite(v) & (v != 0)
    out = v.copy()
    scale = 10.0 ** (8 - np.floor(np.log10(np.abs(v[finite]))))
    out[finite] = np.round(v[finite] * scale) / scale
    return out
