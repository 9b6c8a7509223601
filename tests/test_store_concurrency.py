"""Guarantee 1: several processes writing to one session at once lose nothing and double nothing.

Real processes on one SQLite file: the session manager and store in separate interpreters
(tests/helpers/writer.py), and the real ``msp`` binary.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from msp._session.manager import SessionManager

WRITER = Path(__file__).parent / "helpers" / "writer.py"


def _start_writers(db: Path, go: Path, processes: int, each: int, sync: str) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(db), str(each), "--sync", sync, "--tag", f"w{n}", "--go", str(go)],
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


def _check_exactly_once(db: Path, outputs: dict[str, list[str]], each: int) -> None:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT id, json_extract(data, '$.text'), json_extract(data, '$.tags[0]') FROM events "
            "WHERE type = 'progress_updated'"
        ).fetchall()
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
        (count, last_seq), = con.execute("SELECT event_count, last_seq FROM sessions").fetchall()
        assert count == total + 1
        assert last_seq == con.execute("SELECT max(seq) FROM events").fetchone()[0]
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def _run_writers(project_dir: Path, manager: SessionManager, processes: int, each: int, sync: str) -> None:
    manager.start({"goal": "many writers"})
    db = project_dir / ".msp" / "msp.db"
    procs = _start_writers(db, project_dir / "go", processes, each, sync)
    outputs: dict[str, list[str]] = {}
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower(), err
        outputs[f"w{n}"] = out.split()
    _check_exactly_once(db, outputs, each)


def test_eight_processes_each_recording_250_updates_leave_exactly_2000(
    project_dir: Path, manager: SessionManager
) -> None:
    _run_writers(project_dir, manager, processes=8, each=250, sync="normal")


def test_concurrent_writers_with_full_durability(project_dir: Path, manager: SessionManager) -> None:
    """The same with the default durability, an fsync on every commit."""
    _run_writers(project_dir, manager, processes=8, each=250, sync="full")


def test_concurrent_cli_updates_never_show_a_lock_error(msp_cli: Any, project_dir: Path) -> None:
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
    con = sqlite3.connect(project_dir / ".msp" / "msp.db")
    try:
        texts = Counter(
            r[0] for r in con.execute(
                "SELECT json_extract(data, '$.text') FROM events WHERE type = 'progress_updated'"
            )
        )
    finally:
        con.close()
    assert texts == Counter({f"cli {n} update {i}": 1 for n in range(processes) for i in range(per_process)})


def test_a_writer_waits_out_a_long_lock_instead_of_failing(project_dir: Path, manager: SessionManager) -> None:
    """A lock held longer than SQLite's own retries is waited out, not reported as an error."""
    manager.start({})
    db = project_dir / ".msp" / "msp.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    go = project_dir / "go"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), "3", "--tag", "late", "--go", str(go)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        go.touch()
        time.sleep(1.5)  # the writer now waits on the lock; it must not give up
        assert proc.poll() is None
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(out.split()) == 3


def test_a_lock_never_released_becomes_a_clear_store_error(project_dir: Path) -> None:
    """Past the configured wait, the user gets an msp error saying what to do, not SQLite's."""
    from msp._store.sqlite import SqliteStore
    from msp.errors import StoreError

    db = project_dir / ".msp" / "msp.db"
    SqliteStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = SqliteStore(db, synchronous="normal", busy_timeout_s=0.2)
        manager = SessionManager(store, None, default_project="proj")
        with pytest.raises(StoreError) as caught:
            manager.start({})
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "database is locked" not in caught.value.message
    assert "busy" in caught.value.message and caught.value.hint
    assert caught.value.code == "STORE_BUSY"
    # Nothing was half-written, and the store works once the lock is gone.
    store = SqliteStore(db, synchronous="normal")
    manager = SessionManager(store, None, default_project="proj")
    assert manager.active() is None
    manager.start({})
    store.close()
