"""The generated CLI reference: the committed page is the code's; the renderer reads declarations right."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from afdscope.cli.reference import render, render_command

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli-reference.md"


def test_committed_reference_is_the_generated_one():
    # On failure: run `make docs` and commit docs/cli-reference.md.
    assert PAGE.read_text(encoding="utf-8") == render()


def test_every_command_has_a_section():
    text = render()
    for path in (
        "afdscope eval ep",
        "afdscope eval afd",
        "afdscope search",
        "afdscope paper conclusions",
        "afdscope simulate afd",
        "afdscope op experts",
        "afdscope validate",
    ):
        assert f"## `{path}`" in text


def _toy():
    app = typer.Typer(rich_markup_mode=None)

    @app.command()
    def go(
        name: Annotated[str, typer.Argument(metavar="NAME", help="What to greet.")],
        count: Annotated[int, typer.Option("--count", "-c", min=1, max=9, help="How many | times.")] = 3,
        loud: Annotated[bool, typer.Option("--loud/--soft", help="Volume.")] = False,
        tag: Annotated[str | None, typer.Option(help="A <tag>.")] = None,
    ) -> None:
        """Say hello.

        Example: toy go world
        """

    @app.command()
    def stop(now: Annotated[bool, typer.Option(help="At once.")] = False) -> None:
        """Stop."""

    return typer.main.get_command(app)


def test_renderer_on_a_toy_app():
    # Expected rows written out by hand from the declarations above: short flag first, range in the
    # meaning, a --x/--y flag's default is the flag in force, `|` and `<…>` escaped, the Example dropped.
    text = render_command(_toy(), "toy")
    assert "## `toy go`\n\nSay hello.\n\n```text\ntoy go [OPTIONS] {NAME}\n```" in text
    assert "| `NAME` | yes | What to greet. |" in text
    assert "| `-c, --count` | `COUNT` | `3` | How many \\| times. (1–9) |" in text
    assert "| `--loud / --soft` |  | `--soft` | Volume. |" in text
    assert "| `--tag` | `TAG` | `–` | A &lt;tag&gt;. |" in text
    assert "| `--now / --no-now` |  | `--no-now` | At once. |" in text
    assert "Example" not in text
    assert text.index("## `toy go`") < text.index("## `toy stop`")


def test_render_ignores_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    narrow = render()
    monkeypatch.setenv("COLUMNS", "300")
    assert render() == narrow
