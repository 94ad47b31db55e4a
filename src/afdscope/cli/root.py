"""The root `afdscope` group, its global options, and `main()` (the console script's entry point).

`main()` builds the click command from the typer app and settles the conventions every command shares:
`-h`/`--help`, `-V`/`--version`, `-q`/`--quiet` before or after the subcommand, help metavars in words,
the order commands are listed in, one `error:` line and exit 2 for bad input, and one `interrupted` line
and exit 130 for Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from afdscope import __version__
from afdscope.cli.common import flush_notices, start_session
from afdscope.errors import AfdscopeError

app = typer.Typer(
    help="AFD vs large-scale EP for MoE inference: the paper's analysis (arXiv 2602.09721) and beyond.\n\n"
    "Example: afdscope search --model deepseek-v3 --hardware h800 --context 4096 --tpot-slo-ms 50",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# The order of `afdscope --help`: the catalog, the paper, then a planner's path from one deployment to a
# decision, then the deeper analyses and the calibration tools. Commands not named here follow.
COMMAND_ORDER = (
    "models",
    "model",
    "hardware",
    "paper",
    "eval",
    "search",
    "map",
    "report",
    "imbalance",
    "simulate",
    "validate",
    "calibration",
    "op",
)
QUIET_FLAGS = ("-q", "--quiet")


def _version(value: bool) -> None:
    if value:
        print(f"afdscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress bars or informational lines (also after the subcommand)."
        ),
    ] = False,
) -> None:
    # --quiet: progress bars and informational lines stay off; results are still printed.
    start_session(quiet)


class Interrupted(BaseException):
    """Ctrl-C, raised by main()'s SIGINT handler past click (which would turn a KeyboardInterrupt into
    an exit code without a word)."""


def _interrupt(signum, frame):
    raise Interrupted


def hoist_quiet(args: list[str]) -> list[str]:
    """-q/--quiet anywhere before `--` moves in front of the subcommand, where the root option reads it."""
    end = args.index("--") if "--" in args else len(args)
    quiet = [a for a in args[:end] if a in QUIET_FLAGS]
    rest = [a for a in args[:end] if a not in QUIET_FLAGS]
    return quiet[:1] + rest + args[end:]


def _metavar(param) -> str | None:
    """A help metavar in words: a one-word option's own name (GPUS, MODEL, CONTEXT), LIST for
    repeatable options, FILE for paths, MS for times in ms, else N (integers), NUMBER or TEXT;
    choices keep their list of values."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "is_flag", False) or descriptor.is_choice:
        return None
    if descriptor.is_list:
        return "LIST"
    if descriptor.is_path:
        return "FILE"
    long = max((o for o in param.opts if o.startswith("--")), key=len, default="")[2:]
    if long and "-" not in long:
        return long.upper()
    if long.endswith("-ms"):
        return "MS"
    kind = descriptor.annotation
    return "N" if kind is int else "NUMBER" if kind is float else "TEXT"


def build_command():
    """The click command of `app`, with metavars in words and commands in COMMAND_ORDER."""
    command = typer.main.get_command(app)
    stack = [command]
    while stack:
        cmd = stack.pop()
        for param in getattr(cmd, "params", []):
            if param.param_type_name == "option" and param.metavar is None:
                param.metavar = _metavar(param)
            elif param.param_type_name == "argument" and param.metavar is None:
                param.metavar = param.name.upper()
        sub = getattr(cmd, "commands", None)
        if sub:
            if cmd is command:
                order = [n for n in COMMAND_ORDER if n in sub] + [n for n in sub if n not in COMMAND_ORDER]
                cmd.commands = {n: sub[n] for n in order}
            stack.extend(cmd.commands.values())
    return command


def main() -> None:
    """Run the command line; bad input is one `error: …` line on stderr and exit code 2."""
    try:
        previous = signal.signal(signal.SIGINT, _interrupt)
    except ValueError:  # not the main thread: keep Python's KeyboardInterrupt
        previous = None
    try:
        code = build_command()(args=hoist_quiet(sys.argv[1:]), standalone_mode=False)
    except (Interrupted, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
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
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if code == 130:  # typer's own answer to a KeyboardInterrupt it caught first
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    flush_notices()
    sys.exit(code if isinstance(code, int) else 0)
