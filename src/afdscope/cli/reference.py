"""The command-line flag reference, generated from the typer app (`docs/cli-reference.md`).

`python -m afdscope.cli.reference > docs/cli-reference.md` (or `make docs`) rewrites the page; a test checks
that the committed page equals `render()`, so the reference cannot drift from the code. The walk uses the
same click command `afdscope` runs (`root.build_command`: word metavars, the `--help` command order) and
reads each parameter's declared fields — never a formatted help screen — so the text does not depend on
the terminal width.
"""

from __future__ import annotations

import enum
import sys

import typer

HEADER = """# Command-line reference

Generated from the code by `make docs` (`python -m afdscope.cli.reference > docs/cli-reference.md`);
a test fails when this page and the code disagree, so edit the help texts in `src/afdscope/cli/`, not
this page. Concepts and workflows are in the [user guide](user-guide.md).

Every command also takes `-h, --help`; `-q, --quiet` works before or after the subcommand. In the
tables, `required` marks an option without a default and `–` one that is off unless given.
"""


def _one_line(text: str | None) -> str:
    """The first paragraph of a help text, whitespace collapsed."""
    if not text:
        return ""
    return " ".join(text.strip().split("\n\n")[0].split())


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    text = " ".join(text.split())
    return text.replace("|", "\\|")


def _prose(text: str) -> str:
    """Help text outside code spans: no stray HTML tags (`<family>`) or emphasis (`*`)."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _metavar(param, ctx, declared: str | None) -> str:
    """The declared metavar (read before click's usage line caches a type name in its place), a choice's
    values, else the parameter's name."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if declared:
        return declared
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice:  # shown as <a|b|c>
        return str(param.display_type_rich(ctx=ctx)).strip("<>")
    return param.name.upper()


def _value(value) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _default(param) -> str:
    if param.required:
        return "required"
    default = param.default
    if callable(default):
        return "(computed)"
    if getattr(param, "is_flag", False) and getattr(param, "is_bool_flag", False):
        if param.secondary_opts:
            return (param.opts if default else param.secondary_opts)[0]
        return "on" if default else "off"
    if default is None:
        return "–"
    if isinstance(default, list | tuple):
        return ", ".join(_value(v) for v in default) if default else "–"
    return _value(default)


def _range(param) -> str:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"{_value(low)}–{_value(high)}"
    if low is not None:
        return f"≥ {_value(low)}"
    if high is not None:
        return f"≤ {_value(high)}"
    return ""


def _flags(param) -> str:
    flags = ", ".join(sorted(param.opts, key=len))  # -f, --format
    if param.secondary_opts:
        flags += " / " + ", ".join(sorted(param.secondary_opts, key=len))
    return flags


def _section(cmd, ctx) -> list[str]:
    declared = {id(p): p.metavar for p in cmd.params}
    lines = [f"## `{ctx.command_path}`", ""]
    summary = _one_line(cmd.help) or _one_line(cmd.short_help)
    if summary:
        lines += [_prose(summary), ""]
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    lines += ["```text", f"{ctx.command_path} {pieces}".rstrip(), "```", ""]
    sub = getattr(cmd, "commands", None)
    if sub:
        lines += ["| command | what it does |", "|---|---|"]
        for name, child in sub.items():
            if not child.hidden:
                path = f"{ctx.command_path} {name}"
                anchor = path.replace(" ", "-")
                lines.append(f"| [`{name}`](#{anchor}) | {_prose(_one_line(child.help))} |")
        lines.append("")
    params = [p for p in cmd.params if not getattr(p, "hidden", False)]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    if arguments:
        lines += ["| argument | required | meaning |", "|---|---|---|"]
        for p in arguments:
            required = "yes" if p.required else "no"
            lines.append(
                f"| `{declared[id(p)] or p.name.upper()}` | {required} | {_prose(_one_line(p.help))} |"
            )
        lines.append("")
    if options:
        lines += ["| option | value | default | meaning |", "|---|---|---|---|"]
        for p in options:
            meaning = _one_line(p.help)
            bounds = _range(p)
            if bounds:
                meaning = f"{meaning} ({bounds})" if meaning else bounds
            lines.append(
                f"| {_code(_cell(_flags(p)))} | {_code(_cell(_metavar(p, ctx, declared[id(p)])))} | "
                f"{_code(_cell(_default(p)))} | {_prose(meaning)} |"
            )
        lines.append("")
    return lines


def render_command(root, name: str, header: str = "") -> str:
    """Markdown for a click command and, depth first, every command below it (one section each)."""
    lines = [header] if header else []
    stack = [(root, typer.Context(root, info_name=name))]
    while stack:
        cmd, ctx = stack.pop(0)
        lines += _section(cmd, ctx)
        sub = getattr(cmd, "commands", None) or {}
        children = [(c, typer.Context(c, info_name=n, parent=ctx)) for n, c in sub.items() if not c.hidden]
        stack[0:0] = children  # depth first: a group's commands follow the group
    return "\n".join(lines).rstrip("\n") + "\n"


def render() -> str:
    """The whole reference: the root group, then every command and group in `afdscope --help` order."""
    from afdscope.cli import app  # noqa: F401  (registers every command on the app)
    from afdscope.cli.root import build_command

    return render_command(build_command(), "afdscope", HEADER)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
