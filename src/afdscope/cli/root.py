"""The root `afdscope` group, its global options, and `main()` (the console script's entry point)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from afdscope import __version__
from afdscope.cli.common import start_session
from afdscope.errors import AfdscopeError

app = typer.Typer(
    help="AFD vs large-scale EP for MoE inference: the paper's analysis (arXiv 2602.09721) and beyond.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"afdscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or informational lines.")
    ] = False,
) -> None:
    # --quiet: progress bars and informational lines stay off; results are still printed.
    start_session(quiet)


def main() -> None:
    """Run the command line; bad input is one `error: …` line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except AfdscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(message)
            sys.exit(0)
        print(f"error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
