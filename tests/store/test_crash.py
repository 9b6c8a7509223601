"""Guarantee 2: a writer killed with SIGKILL mid-burst loses nothing it had reported as done.

The writer (tests/helpers/writer.py) prints each event id only after its transaction commits.
The test kills it at several points of a burst, then checks every acknowledged id is stored,
the store passes its backend's soundness check (for SQLite ``PRAGMA integrity_check``), the
projections agree with the events read through the store interface, and the next commands work
through the real CLI. Runs against every backend.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.store.backends import Backend

MSP_BIN = str(Path(sys.executable).with_name("msp"))

WRITER = Path(__file__).parent.parent / "helpers" / "writer.py"


def _check_consistent(backend: Backend, spec: str) -> set[str]:
    """Sound in the backend's terms, and every session row agrees with its events (each of
    which still folds). Returns all event ids."""
    backend.check_sound(spec)
    store = backend.open(spec)
    try:
        with store.read() as tx:
            for row in tx.list_sessions():
                events = tx.session_events(row.id)
                assert row.event_count == len(events)
                assert row.last_at == events[-1].at
                tx.load_session(row.id)  # no torn rows: the whole history folds
            return {e.id for e in tx.events_since(0, limit=1_000_000)}
    finally:
        store.close()


@pytest.mark.parametrize("sync", ["normal", "full"])
def test_sigkill_mid_burst_loses_nothing_acknowledged(backend: Backend, msp_cli: Any, project_dir: Path,
                                                      sync: str) -> None:
    spec = backend.project_spec(project_dir)
    assert msp_cli("start", "--goal", "crash test").code == 0
    acknowledged: list[str] = []
    for round_, kill_after in enumerate([1, 37, 400]):
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), spec, "100000", "--sync", sync,
             "--tag", f"r{round_}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        seen: list[str] = []
        while len(seen) < kill_after:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "writer ended early"
            seen.append(line.strip())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # Lines it wrote before dying are acknowledged too.
        rest, _ = proc.communicate(timeout=30)
        acknowledged += seen + [x for x in rest.split() if x]

    stored = _check_consistent(backend, spec)
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost"

    # The next commands work, through the real binary.
    r = msp_cli("update", "after the crash", "50")
    assert r.code == 0, r.err
    r = msp_cli("end", "--summary", "survived", "--json")
    assert r.code == 0, r.err
    assert r.json()["session"]["status"] == "closed"
    assert r.json()["session"]["events"] == len(stored) + 2
    _check_consistent(backend, spec)


def test_cli_commands_killed_at_random_moments(backend: Backend, msp_cli: Any, project_dir: Path) -> None:
    """Real ``msp update`` processes killed at random points: the ones that answered are kept,
    the store stays sound, and the session carries on."""
    assert msp_cli("start").code == 0
    rng = random.Random(20240602)
    answered: list[str] = []
    for i in range(8):
        proc = subprocess.Popen(
            [MSP_BIN, "update", f"maybe {i}", "--json"], cwd=project_dir,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(rng.uniform(0.05, 0.45))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        if proc.returncode == 0:
            answered.append(json.loads(out)["event"]["id"])
        else:
            assert proc.returncode == -signal.SIGKILL, err
    stored = _check_consistent(backend, backend.project_spec(project_dir))
    assert set(answered) <= stored
    r = msp_cli("update", "still here", "--json")
    assert r.code == 0, r.err
    assert msp_cli("end").code == 0
