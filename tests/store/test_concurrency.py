"""Guarantee 1: several processes writing to one session at once lose nothing and double nothing.

Real processes on one store, for every backend: the session manager and store in separate
interpreters (tests/helpers/writer.py), and the real ``msp`` binary. What was stored is read
back through the store interface, then checked by the backend's own soundness check. The
outbox side of the same guarantee: several claimers at once never take one action twice.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from msp._session.manager import SessionManager
from tests.store.backends import Backend

WRITER = Path(__file__).parent.parent / "helpers" / "writer.py"


def _start_writers(spec: str, go: Path, processes: int, each: int, sync: str) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), spec, str(each), "--sync", sync, "--tag", f"w{n}", "--go", str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(processes)
    ]
    # Release them together once every one has opened the store, so their writes overlap.
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    go.touch()
    return procs


def _check_exactly_once(backend: Backend, spec: str, outputs: dict[str, list[str]], each: int) -> None:
    store = backend.open(spec)
    try:
        with store.read() as tx:
            events = tx.events_since(0, limit=1_000_000)
            (session,) = tx.list_sessions()
            assert tx.count_events() == len(events)
    finally:
        store.close()
    rows = [(e.id, e.data["text"], e.data["tags"][0]) for e in events if e.type == "progress_updated"]
    total = len(outputs) * each
    assert len(rows) == total
    # None doubled: every (writer, i) pair appears once and event ids are unique.
    assert len({r[0] for r in rows}) == total
    texts = Counter(r[1] for r in rows)
    assert set(texts.values()) == {1}
    for tag in outputs:
        assert {r[1] for r in rows if r[2] == tag} == {f"{tag} update {i}" for i in range(each)}
    # None lost: every id a writer was told was committed is in the store.
    acknowledged = [event_id for ids in outputs.values() for event_id in ids]
    assert len(acknowledged) == total
    assert set(acknowledged) == {r[0] for r in rows}
    # The session's projection counted every one of them, in the same transactions.
    assert session.event_count == total + 1
    assert session.last_at == events[-1].at
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    backend.check_sound(spec)


def _run_writers(backend: Backend, project_dir: Path, manager: SessionManager, processes: int, each: int,
                 sync: str) -> None:
    manager.start({"goal": "many writers"})
    spec = backend.project_spec(project_dir)
    procs = _start_writers(spec, project_dir / "go", processes, each, sync)
    outputs: dict[str, list[str]] = {}
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower(), err
        outputs[f"w{n}"] = out.split()
    _check_exactly_once(backend, spec, outputs, each)


def test_eight_processes_each_recording_250_updates_leave_exactly_2000(
    backend: Backend, project_dir: Path, manager: SessionManager
) -> None:
    _run_writers(backend, project_dir, manager, processes=8, each=250, sync="normal")


def test_concurrent_writers_with_full_durability(backend: Backend, project_dir: Path, manager: SessionManager) -> None:
    """The same with the default durability, an fsync on every commit."""
    _run_writers(backend, project_dir, manager, processes=8, each=250, sync="full")


def test_concurrent_cli_updates_never_show_a_lock_error(backend: Backend, msp_cli: Any, project_dir: Path) -> None:
    assert msp_cli("start", "--goal", "cli writers").code == 0
    per_process, processes = 10, 4

    def burst(n: int) -> list[tuple[int, str, str]]:
        out = []
        for i in range(per_process):
            r = msp_cli("update", f"cli {n} update {i}", str(i))
            out.append((r.code, r.out, r.err))
        return out

    with ThreadPoolExecutor(processes) as pool:
        results = [item for chunk in pool.map(burst, range(processes)) for item in chunk]
    for code, _out, err in results:
        assert code == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower(), err
        assert "Traceback" not in err
    store = backend.open(backend.project_spec(project_dir))
    try:
        with store.read() as tx:
            texts = Counter(e.data["text"] for e in tx.events_since(0, limit=1_000_000)
                            if e.type == "progress_updated")
    finally:
        store.close()
    assert texts == Counter({f"cli {n} update {i}": 1 for n in range(processes) for i in range(per_process)})
