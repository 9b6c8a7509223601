"""SQLite only: a write lock held by another connection is waited out, and past the configured
wait becomes a clear msp error (the PostgreSQL backend has its own lock tests)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msp._session.manager import SessionManager

WRITER = Path(__file__).parent.parent / "helpers" / "writer.py"


def test_sqlite_a_writer_waits_out_a_long_lock_instead_of_failing(
    project_dir: Path, sqlite_manager: SessionManager
) -> None:
    """A lock held longer than SQLite's own retries is waited out, not reported as an error."""
    sqlite_manager.start({})
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


def test_sqlite_a_lock_never_released_becomes_a_clear_store_error(project_dir: Path) -> None:
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
