"""SQLite only: the schema is versioned, migrated once, append-only in the database itself, and
honest when it can't open. (What every backend must do is in the other files here.)"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from msp._session.manager import SessionManager
from msp._store.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore
from msp.errors import StoreError


def test_schema_version_is_the_number_of_migrations(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "msp.db", synchronous="normal")
    con = sqlite3.connect(store.path)
    try:
        assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
        assert store.schema_version == len(MIGRATIONS)
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"events", "sessions", "blockers", "actions", "hook_failures"} <= tables
    finally:
        con.close()
        store.close()


def test_events_are_append_only_in_the_database(sqlite_manager: SessionManager, sqlite_store: SqliteStore) -> None:
    """Not even a connection going round the store can rewrite history."""
    sqlite_manager.start({})
    sqlite_manager.update({"text": "first"})
    con = sqlite3.connect(sqlite_store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE events SET data = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM events")
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    assert "first" in con.execute("SELECT data FROM events WHERE type = 'progress_updated'").fetchone()[0]
    con.close()


def test_a_store_from_a_newer_msp_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "msp.db"
    SqliteStore(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer than this msp") as caught:
        SqliteStore(path)
    assert caught.value.hint == "upgrade msp"


def test_a_file_that_is_not_a_database_gives_a_clear_error(msp_cli: Any, project_dir: Path) -> None:
    (project_dir / ".msp" / "msp.db").write_bytes(b"this is not sqlite\n" * 100)
    r = msp_cli("status")
    assert r.code != 0
    assert "is damaged" in r.err and "hint:" in r.err and "msp store check" in r.err
    assert "Traceback" not in r.err + r.out


def test_many_processes_creating_the_store_at_once(tmp_path: Path) -> None:
    """The first open migrates exactly once even when several processes race to do it."""
    path = tmp_path / "fresh.db"
    code = (
        "import sys; from pathlib import Path; from msp._store.sqlite import SqliteStore; "
        "s = SqliteStore(Path(sys.argv[1]), synchronous='normal'); print(s.schema_version); s.close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == str(SCHEMA_VERSION)
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events'").fetchone()[0] == 1
    finally:
        con.close()


def test_reopening_does_not_migrate_again_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "msp.db"
    store = SqliteStore(path, synchronous="normal")
    SessionManager(store, default_project="p").start({"goal": "kept"})
    store.close()
    again = SqliteStore(path, synchronous="normal")
    try:
        assert again.schema_version == SCHEMA_VERSION
        with again.read() as tx:
            assert [r.goal for r in tx.list_sessions()] == ["kept"]
    finally:
        again.close()


def test_a_failed_command_leaves_no_transaction_open(sqlite_manager: SessionManager, sqlite_store: SqliteStore) -> None:
    """An error after the event was appended (here: in planning) leaves no trace, and the
    connection is not left inside a transaction."""
    sqlite_manager.start({})
    con = sqlite3.connect(sqlite_store.path)
    before = con.execute("SELECT count(*) FROM events").fetchone()[0]

    class Boom(Exception):
        pass

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise Boom

    sqlite_manager._plan = explode  # type: ignore[method-assign]
    with pytest.raises(Boom):
        sqlite_manager.update({"text": "never stored"})
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == before
    assert con.execute("SELECT event_count FROM sessions").fetchone()[0] == before
    con.close()
    assert not sqlite_store._db.in_transaction
