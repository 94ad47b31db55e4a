"""One simulated step as a Chrome/Perfetto trace: a complete ("X") event per operator, one track
(tid) per resource, times in µs from the step's start. Open it in ui.perfetto.dev or chrome://tracing."""

from __future__ import annotations

import json
from pathlib import Path

from afdscope.errors import AfdscopeError
from afdscope.files import atomic_write
from afdscope.sim.result import SimResult


def trace_events(result: SimResult) -> dict:
    tids: dict[str, int] = {}
    events = []
    for resource, label, micro_batch, start, end in result.trace:
        tid = tids.setdefault(resource, len(tids) + 1)
        args = {} if micro_batch < 0 else {"micro_batch": micro_batch}
        name = label if micro_batch < 0 else f"{label} mb{micro_batch}"
        events.append(
            {
                "name": name,
                "cat": resource,
                "ph": "X",
                "ts": start * 1e6,
                "dur": (end - start) * 1e6,
                "pid": 1,
                "tid": tid,
                "args": args,
            }
        )
    meta = [{"name": "process_name", "ph": "M", "pid": 1, "args": {"name": f"{result.mode.upper()} step"}}]
    meta += [
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": resource}}
        for resource, tid in tids.items()
    ]
    return {"traceEvents": meta + events, "displayTimeUnit": "ms"}


def write_trace(result: SimResult, path: str | Path) -> Path:
    if Path(path).suffix.lower() != ".json":
        raise AfdscopeError(f"--trace '{path}': traces are JSON; give a file name ending in .json")
    return atomic_write(path, json.dumps(trace_events(result)))
