"""`afdscope paper conclusions`: the paper's three conclusions tested end to end (issue 12 §5).

Kept apart from cli/paper.py; `register(app)` adds the command to the `paper` group. Heavy imports happen
inside the command so `afdscope --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from afdscope.cli.options import Fmt, FormatOpt


def conclusions_cmd(
    fmt: FormatOpt = Fmt.table,
    quick: Annotated[
        bool, typer.Option("--quick", help="A small grid (2 models, H800 and GB200, 50 ms): a few seconds.")
    ] = False,
) -> None:
    """Test the paper's conclusions (dead zone, imbalance, what favours AFD) in tokens/s per GPU and $/1M.

    Example: afdscope paper conclusions --format json
    """
    from afdscope.report.output import print_rows, to_json
    from afdscope.search.conclusions import DEFAULT_GRID, QUICK_GRID, paper_conclusions

    claims = paper_conclusions(QUICK_GRID if quick else DEFAULT_GRID)
    if fmt is Fmt.json:
        print(to_json([c.as_dict() for c in claims]) if claims else "[]")
        return
    rows = [
        {
            "claim": c.claim,
            "verdict": c.verdict,
            "rows agreeing": "{} of {}".format(*c.agreeing),
            "reason": c.reason,
        }
        for c in claims
    ]
    print_rows(rows, fmt.value, "The paper's conclusions, end to end")


def register(app: typer.Typer) -> None:
    from afdscope.cli.paper import paper_app

    paper_app.command("conclusions")(conclusions_cmd)
