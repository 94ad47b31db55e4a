"""The `afdscope` command: a package of thin commands over the library.

Heavy imports (numpy, pydantic, matplotlib) happen inside the commands so `afdscope --help` starts fast.
Every bad input surfaces as one `error: …` line on stderr and exit code 2.

Layout: `root` (the group, --version/--quiet, `main`), `options` (shared flags), `common` (shared helpers),
and one module per command group. Each command module has `register(app)`; adding a command is one line
below. Registration order is the order of `afdscope --help` (commands first, then groups, as typer lists
them).
"""

from __future__ import annotations

from afdscope.cli import catalog, evaluate, imbalance, paper, report, search, simulate
from afdscope.cli import map as map_
from afdscope.cli.root import app, main
from afdscope.cli_conclusions import register as register_conclusions
from afdscope.cli_kernels import register as register_kernels
from afdscope.cli_validate import register as register_validate

catalog.register(app)  # models, model show, hardware [show]
paper.register(app)  # paper matrix|curve|imbalance|eaas|all
evaluate.register(app)  # eval ep|afd
simulate.register(app)  # simulate ep|afd
imbalance.register(app)  # imbalance
search.register(app)  # search
map_.register(app)  # map
report.register(app)  # report
register_validate(app)  # validate (src/afdscope/cli_validate.py)
register_kernels(app)  # calibration [fit], op experts|attention (src/afdscope/cli_kernels.py)
register_conclusions(app)  # paper conclusions (src/afdscope/cli_conclusions.py)

__all__ = ["app", "main"]
