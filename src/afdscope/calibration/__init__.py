"""Measured kernel and communication figures the operator models are calibrated on (CSV, `#` comments).

Copies of shared/data/calibration; each file names its source in its header comments.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

# aiconfigurator-core system name (its tables: measured/<system>/, its silicon sample) → afdscope catalog
# hardware.
SYSTEMS = {
    "h100_sxm": "h100",
    "h200_sxm": "h200",
    "b200_sxm": "b200",
    "b300_sxm": "b300",
    "gb200": "gb200",
    "gb300": "gb300",
}


def read_table(name: str) -> list[dict[str, str]]:
    """Rows of a packaged calibration CSV (header comments skipped), values as strings."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))
