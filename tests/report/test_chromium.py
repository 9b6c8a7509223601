"""The HTML report drawn by a real browser: headless Chromium (Debian's ``chromium``) opens the
file offline, and the test checks that the charts drew: the three SVG charts are in the DOM the
browser built, with their bars and lines; the browser logged no console message at all (the
page has no script, so any message is an error); and a screenshot holds each project's colour
and the blockers' colour over a real area, not a stray pixel.

Without Chromium the test is skipped, saying what to install; under ``CI=true`` it fails
instead (``.ci/run`` installs it), so CI never passes by skipping it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from msp._report.palette import BLOCKERS, colours
from msp._store.sqlite import SqliteStore
from tests.report.png import colour_counts
from tests.report.sample import PROJECTS, record

#: Chromium's log line for a console message (``--enable-logging=stderr``): errors, warnings
#: and uncaught exceptions all come through it.
_CONSOLE = re.compile(r":CONSOLE[:(]")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "needs headless Chromium: install Debian's chromium (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               # Offline: any name lookup fails, so a page that reached out would show it.
               "--host-resolver-rules=MAP * ~NOTFOUND", *args]
    if os.geteuid() == 0:
        command.insert(2, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _near(counts: Counter[tuple[int, int, int]], colour: tuple[int, int, int], slack: int = 2) -> int:
    return sum(n for c, n in counts.items() if all(abs(a - b) <= slack for a, b in zip(c, colour, strict=True)))


@pytest.fixture
def report_page(store: SqliteStore, msp_cli: Any, tmp_path: Path) -> Path:
    record(store, datetime.now(UTC))
    target = tmp_path / "report.html"
    done = msp_cli("report", "--tz", "UTC", "--format", "html", "--output", str(target))
    assert done.code == 0, done.err
    return target


def test_the_charts_draw_in_headless_chromium(report_page: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    url = report_page.as_uri()
    page = report_page.read_text(encoding="utf-8")
    assert "<script" not in page.lower()

    dom = _run(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    built = dom.stdout.decode("utf-8")
    # The DOM the browser built (not the file): three charts, each with its marks.
    charts = dict(re.findall(r'<svg[^>]*data-chart="([a-z-]+)"[^>]*>(.*?)</svg>', built, re.DOTALL))
    assert set(charts) == {"time-per-day", "progress", "blockers-open"}
    assert charts["time-per-day"].count('class="bar"') == 5  # (day, project) pairs with time
    assert charts["progress"].count('class="line"') == 4  # one per session
    assert charts["blockers-open"].count('class="line"') == 1
    console = [line for line in dom.stderr.decode(errors="replace").splitlines() if _CONSOLE.search(line)]
    assert console == []

    shot = tmp_path / "shot.png"
    done = _run(chromium, tmp_path / "profile-shot", "--hide-scrollbars", "--force-color-profile=srgb",
                "--window-size=860,1040", f"--screenshot={shot}", url)
    assert done.returncode == 0 and shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    counts = colour_counts(shot.read_bytes())
    palette = colours(PROJECTS)
    for project in PROJECTS:
        # A bar of an hour is about 700 pixels tall/wide together; legend swatches are 100.
        assert _near(counts, _hex(palette[project])) > 1000, (project, palette[project])
    assert _near(counts, _hex(BLOCKERS)) > 500
