"""Shared fixtures: catalog values, an output folder, and an in-process CLI runner.

`cli(*args, cwd=None)` runs `afdscope.cli.main()` in this process (no ~1 s interpreter start-up per call)
and returns `CliResult(returncode, stdout, stderr)`, a named tuple, so `code, out, err = cli(...)` and
`r.returncode` both read. A few smoke tests in test_cli.py still start the real console script.
"""

from __future__ import annotations

import io
import os
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from typing import NamedTuple

import pytest


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def invoke_cli(*args, cwd=None) -> CliResult:
    """`afdscope ARGS…` in process: the exit code main() ends with, and what it printed.

    An exception that escapes main() is printed as a traceback on stderr with exit code 1, as the real
    interpreter would, so "no traceback" assertions still mean what they say.
    """
    from afdscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["afdscope", *map(str, args)]
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
                raise AssertionError(f"main() returned without sys.exit for {args}")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
    return CliResult(code, out.getvalue(), err.getvalue())


def check_clean_error(result, *needles: str) -> str:
    """Bad input: exit 2, exactly one `error: …` line on stderr naming every needle, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for n in needles:
        assert n in lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def cli():
    """The in-process CLI runner: `cli("eval", "ep", …)` → CliResult(returncode, stdout, stderr)."""
    return invoke_cli


@pytest.fixture(scope="session")
def assert_clean_error():
    """`assert_clean_error(result, *needles)`: one `error:` line naming the needles, exit 2."""
    return check_clean_error


# One whole `afdscope search` small enough for a CLI test: DeepSeek-V3 on H800, 4096 context, 50 ms TPOT,
# deployments of up to 32 GPUs.
SMALL_SEARCH = ("search", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096")
SMALL_SEARCH += ("--tpot-slo-ms", "50", "--max-gpus", "32")


@pytest.fixture(scope="session")
def small_search():
    """The arguments of a small `afdscope search` (SMALL_SEARCH): `cli(*small_search, "-q")`."""
    return SMALL_SEARCH


@pytest.fixture(scope="session")
def ds():
    """DeepSeek-V3 from the model catalog."""
    from afdscope.catalog.model_catalog import load_model

    return load_model("deepseek-v3")


@pytest.fixture(scope="session")
def h800():
    """H800 from the hardware catalog (datasheet values)."""
    from afdscope.catalog.hardware_catalog import load_hardware

    return load_hardware("h800")


@pytest.fixture
def out_dir(tmp_path):
    """A not-yet-existing output folder inside the test's tmp_path."""
    return tmp_path / "out"
