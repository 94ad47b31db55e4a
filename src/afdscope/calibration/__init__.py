"""Measured kernel and communication figures the operator models are calibrated on (CSV, `#` comments).

Copies of shared/data/calibration; each file names its source in its header comments.
"""

from __future__ import annotations

import csv
import io
from importlib import resources


def read_table(name: str) -> list[dict[str, str]]:
    """Rows of a packaged calibration CSV (header comments skipped), values as strings."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))
