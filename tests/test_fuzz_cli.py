"""Fuzzing the command line: random argument lists exit 0 or 2 and never print a traceback."""

import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afdscope.cli import main

EXAMPLES = int(os.environ.get("AFDSCOPE_FUZZ_EXAMPLES", "150")) // 2

COMMANDS = [
    ["models"],
    ["model", "show"],
    ["hardware"],
    ["hardware", "show"],
    ["paper", "matrix"],
    ["paper", "curve"],
    ["paper", "imbalance"],
    ["paper", "eaas"],
    ["eval", "ep"],
    ["eval", "afd"],
]
FLAGS = [
    "--model",
    "--hardware",
    "--attention-hardware",
    "--ffn-hardware",
    "--gpus",
    "--attention-gpus",
    "--ffn-gpus",
    "--micro-batches",
    "--context",
    "--batch-per-gpu",
    "--tpot-slo-ms",
    "--slo-ms",
    "--mtp-draft",
    "--mtp-accept",
    "--weights",
    "--kv-dtype",
    "--preset",
    "--hardware-set",
    "--format",
    "--max-ffn-nodes",
    "--sigma",
    "--lambda",
    "--lambda-max",
    "--n-ffn",
    "--dedup",
    "--full-duplex",
    "--accepted-tokens",
    "--step-gap-ms",
    "--attention-tp",
    "--expert-tp",
    "--overlap",
    "-f",
]
VALUES = [
    "deepseek-v3",
    "step3",
    "h800",
    "gb200",
    "ascend-910c",
    "l40s",
    "paper",
    "datasheet",
    "json",
    "csv",
    "table",
    "0",
    "1",
    "-1",
    "3",
    "8",
    "16",
    "64",
    "4096",
    "0.5",
    "1e9",
    "nan",
    "inf",
    "-inf",
    "",
    "x",
    "fp8",
    "bf16",
    "fp4",
    "2bo",
    "hypergeometric",
    "/nonexistent/config.json",
    "1:2",
    "h800,gb200",
]

argv_st = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES)), max_size=8),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv_st)
def test_cli_exits_0_or_2_without_a_traceback(capsys, monkeypatch, args):
    command, rest = args
    monkeypatch.setattr(sys, "argv", ["afdscope", *command, *rest])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    assert exit_info.value.code in (0, 2), (command, rest, out.err)
    assert "Traceback" not in out.out + out.err
    if exit_info.value.code == 2:
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.err
