"""The report in a real browser: headless Chromium opens it offline (every host name unresolvable), logs
nothing to the console, draws every chart, and takes a screenshot that is a real picture.

Chromium logs every console message of the page to stderr (`--enable-logging=stderr`) as
`…:INFO:CONSOLE…] "message", source: …`, whatever its level; a control page checks that this still
catches console.error and uncaught exceptions, so the test cannot pass by no longer seeing them.
Skipped only when no Chromium binary is installed (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from afdscope.report.html import CHARTS


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (apt-get install chromium) — browser test skipped"
)


def _browse(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        # Offline: any attempt to fetch something would fail and log a console error.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=20000",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    from afdscope.report.deployment_report import write_report

    path, _ = write_report(
        tmp_path_factory.mktemp("report") / "report.html",
        model="deepseek-v3",
        hardware=["h800"],
        context=4096,
        tpot_slo_ms=50,
        max_gpus=64,
    )
    return path


def test_console_messages_are_seen(tmp_path):
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('report-control-error');"
        "notDefinedAnywhere();</script></body></html>"
    )
    r = _browse(control, tmp_path / "profile", "--dump-dom")
    messages = "\n".join(_console(r.stderr))
    assert "report-control-error" in messages, r.stderr[-3000:]
    assert "notDefinedAnywhere" in messages


def test_report_loads_without_console_errors_and_draws_every_chart(report, tmp_path):
    r = _browse(report, tmp_path / "profile", "--dump-dom")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _console(r.stderr) == []
    dom = r.stdout
    assert len(re.findall(r'<div [^>]*class="[^"]*\bjs-plotly-plot\b', dom)) == len(CHARTS)
    starts = [(m.group(1), m.start()) for m in re.finditer(r'id="chart-([a-z]+)"', dom)]
    assert [name for name, _ in starts] == list(CHARTS)
    for i, (name, start) in enumerate(starts):
        segment = dom[start : starts[i + 1][1] if i + 1 < len(starts) else len(dom)]
        assert 'class="main-svg"' in segment, f"chart {name} has no SVG"
        assert re.search(r'class="(?:trace|hm)\b', segment), f"chart {name} drew no trace"


def test_report_screenshot_is_a_real_picture(report, tmp_path):
    shot = tmp_path / "report.png"
    r = _browse(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,4000")
    assert r.returncode == 0, r.stderr[-3000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 4000)
    assert len(data) > 100_000  # charts, tables and text, not a blank page
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    colours = {tuple(p) for p in pixels[::7, ::7].reshape(-1, 3).round(2)}
    assert len(colours) > 200 and pixels.std() > 0.05
