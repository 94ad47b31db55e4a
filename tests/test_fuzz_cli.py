"""Fuzzing the command line: random argument lists exit 0 or 2 and never print a traceback.

Each example runs `afdscope.cli.main()` in process through the `cli` fixture (conftest.py)."""

import os

from hypothesis import given, settings
from hypothesis import strategies as st

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
    "--calibration",
    "--balanced",
    "--expert-weights",
    "--dispatch-dtype",
    "--combine-dtype",
    "--attention-domains",
    "--shared-expert-gpus",
    "--shared-experts-on",
    "-q",
    "-h",
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
    "int8",
    "dedicated",
    "100000000000",
]

argv_st = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES)), max_size=8),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(argv_st)
def test_cli_exits_0_or_2_without_a_traceback(cli, args):
    command, rest = args
    r = cli(*command, *rest)
    assert r.returncode in (0, 2), (command, rest, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    if r.returncode == 2:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
