"""Catalog names as a user types them: the nearest known names for a typo ("did you mean ...?")."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# difflib's default: at 0.6 'h8000' finds 'h800' and 'deepsek-v3' finds 'deepseek-v3', 'hopper' finds nothing.
_CUTOFF = 0.6


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def close_names(given: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The known names nearest to `given` (case-insensitive), best first; [] when none is close.

    Nearness is difflib's ratio (`get_close_matches`, cutoff 0.6) on the lower-cased names; a name that
    `given` begins, ignoring punctuation ('llama4' → 'llama-4-maverick'), also counts. Only the names as
    close as the best one are returned, so 'h8000' gives ['h800'] and not every 'h?00'."""
    choices = list(dict.fromkeys(choices))
    by_lower = {c.lower(): c for c in choices}
    key = given.strip().lower()
    if not key:
        return []
    scored = {
        c: difflib.SequenceMatcher(None, key, c).ratio()
        for c in difflib.get_close_matches(key, list(by_lower), n=len(by_lower), cutoff=_CUTOFF)
    }
    squashed = _squash(key)
    if len(squashed) >= 3:
        for c in by_lower:
            if _squash(c).startswith(squashed):
                scored[c] = max(scored.get(c, 0.0), 1.0 - 1e-9)  # a prefix is as good as a near-exact match
    if not scored:
        return []
    best = max(scored.values())
    ranked = sorted((c for c, r in scored.items() if r >= best - 1e-9), key=lambda c: (-scored[c], c))
    return [by_lower[c] for c in ranked[:n]]


def unknown_name_hint(given: str, choices: Iterable[str]) -> str:
    """'did you mean X?' (or 'X or Y'), or 'known: a, b, c' when nothing is close."""
    choices = list(choices)
    near = close_names(given, choices)
    if not near:
        return f"known: {', '.join(choices)}"
    alts = near[0] if len(near) == 1 else f"{', '.join(near[:-1])} or {near[-1]}"
    return f"did you mean {alts}?"
