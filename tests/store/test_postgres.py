"""What only the PostgreSQL backend has: explicit migrations, connection errors that name what to
fix without the password, commit-ordered event positions, and claims from several processes.

Every test runs against the real server the suite starts (tests/store/postgres_server.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from msp._config import open_project
from msp._model.models import Event
from msp._store import migrate_store, open_store
from msp._store.postgres import SCHEMA_VERSION, PostgresStore, migrate, migrations
from msp._store.sqlite import SqliteStore
from msp.errors import StoreError
from tests.store.backends import URL_ENV, planned
from tests.store.postgres_server import PostgresServer

CLAIMER = Path(__file__).with_name("pg_claimer.py")


def _started(session: str, at: datetime | None = None) -> Event:
    return Event(f"ev-{session}", "session_started", session, "proj", at or datetime.now(UTC), "api",
                 {"goal": None, "progress": 0, "issue": None})


# --- migrations ---------------------------------------------------------------------------


def test_a_fresh_database_asks_for_msp_store_migrate(pg_server: PostgresServer) -> None:
    url = pg_server.create_database(migrated=False)
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "no msp schema" in caught.value.message
    assert "msp store migrate" in (caught.value.hint or "")
    assert migrate(url) == (0, SCHEMA_VERSION)
    assert migrate(url) == (SCHEMA_VERSION, SCHEMA_VERSION)  # again: nothing to do
    store = open_store(url)
    try:
        with store.write() as tx:
            tx.append(_started("s1"))
        with store.read() as tx:
            assert tx.count_events() == 1
    finally:
        store.close()


def test_migrations_are_numbered_and_recorded(pg_server: PostgresServer) -> None:
    url = pg_server.create_database(migrated=False)
    migrate(url)
    steps = migrations()
    assert [m.version for m in steps] == list(range(1, SCHEMA_VERSION + 1))
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert rows == [(m.version, m.name) for m in steps]


def test_an_older_schema_says_to_migrate(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store left at an older version (simulated: this msp knows one more migration than the
    store has) is refused with the command that fixes it; migrating applies only the new one."""
    from msp._store import postgres

    url = pg_server.create_database()
    extra = postgres.Migration(SCHEMA_VERSION + 1, "add_a_note", "CREATE TABLE a_note (x integer)")
    monkeypatch.setattr(postgres, "migrations", lambda: [*migrations(), extra])
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    assert f"schema version {SCHEMA_VERSION}" in caught.value.message
    assert "msp store migrate" in (caught.value.hint or "")
    assert postgres.migrate(url) == (SCHEMA_VERSION, SCHEMA_VERSION + 1)
    PostgresStore(url).close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM a_note").fetchone() == (0,)


def test_an_older_client_refuses_a_newer_schema(pg_server: PostgresServer) -> None:
    url = pg_server.create_database()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, 'from_the_future')",
                     (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "newer than this msp understands" in caught.value.message
    assert "upgrade msp" in (caught.value.hint or "")
    with pytest.raises(StoreError, match="newer"):
        migrate(url)


def test_migration_2_keeps_a_version_1_store_whole(pg_server: PostgresServer) -> None:
    """A store at version 1 with a session and a lease taken by an older msp: after migration 2
    the session's hook view is folded once, and the old lease counts as started (its drain may
    have sent it) when it is reclaimed."""
    from msp._store.outbox_rules import RECLAIMED_NOTE

    url = pg_server.create_database(migrated=False)
    assert migrate(url, upto=1) == (0, 1)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO events (id, type, session_id, project, at, at_ms, source, data) VALUES "
                     "('e1', 'session_started', 's1', 'proj', '2024-05-06T09:00:00Z', 1, 'api', "
                     "'{\"goal\": \"old\", \"progress\": 5, \"issue\": null}')")
        conn.execute("INSERT INTO sessions (id, project, status, started_at, start_progress, progress, last_seq, "
                     "last_at, goal, event_count) VALUES ('s1', 'proj', 'active', '2024-05-06T09:00:00Z', 5, 5, 1, "
                     "'2024-05-06T09:00:00Z', 'old', 1)")
        conn.execute("INSERT INTO actions (idempotency_key, event_id, integration, position, kind, session_id, "
                     "payload, status, attempts, created_ms, next_attempt_ms, lease_until_ms, lease_owner, "
                     "updated_ms) VALUES ('k1', 'e1', 'hook', 0, 'http', 's1', '{}', 'in_flight', 0, 1, 1, 2, "
                     "'gone', 1)")
    assert migrate(url) == (1, SCHEMA_VERSION)
    store = open_store(url)
    try:
        with store.read() as tx:
            session = tx.hook_session("s1", 3)
            assert session.goal == "old" and session.progress == 5 and session.started_seq == 1
        with store.write() as tx:
            assert tx.outbox.reclaim("me", 10) == 1
            [row] = tx.outbox.by_keys(["k1"])
        assert (row.status, row.attempts, row.last_error, row.offline_attempts) == ("pending", 1, RECLAIMED_NOTE, 0)
        with store.write() as tx:
            tx.append(Event("e2", "progress_updated", "s1", "proj", datetime(2024, 5, 6, 10, tzinfo=UTC), "api",
                            {"text": "after", "progress": 50, "tags": []}))
        with store.read() as tx:
            assert tx.hook_session("s1", 3).model_dump() == tx.load_folder("s1").view(3).model_dump()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT state IS NOT NULL, progress FROM sessions").fetchone() == (True, 50)
    finally:
        store.close()


# --- connection errors --------------------------------------------------------------------


def _error_of(url: str) -> StoreError:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    return caught.value


def test_a_failing_password_is_named_without_the_password(pg_server: PostgresServer) -> None:
    url = pg_server.create_database()
    wrong = url.replace(f":{pg_server.password}@", ":Hunter2-not-it@")
    err = _error_of(wrong)
    shown = json.dumps(err.to_dict())
    assert "refused the password" in err.message and "password" in (err.hint or "")
    assert "Hunter2-not-it" not in shown and pg_server.password not in shown
    assert f"127.0.0.1:{pg_server.port}" in err.message


def test_a_refused_connection_names_the_host_and_port(pg_server: PostgresServer) -> None:
    from tests.store.postgres_server import _free_port

    port = _free_port()  # nothing listens there
    err = _error_of(f"postgresql://postgres:Sekret-9@127.0.0.1:{port}/msp?connect_timeout=3")
    assert "cannot reach the team store" in err.message and f"127.0.0.1:{port}" in err.message
    assert "host and port" in (err.hint or "")
    assert "Sekret-9" not in json.dumps(err.to_dict())


def test_a_missing_database_and_a_malformed_url_say_what_to_fix(pg_server: PostgresServer) -> None:
    err = _error_of(pg_server.url("no_such_db"))
    assert "does not exist" in err.message and "createdb" in (err.hint or "")
    assert pg_server.password not in json.dumps(err.to_dict())
    err = _error_of("postgresql://postgres:Sekret-9@127.0.0.1:notaport/msp")
    assert "not valid" in err.message and "Sekret-9" not in json.dumps(err.to_dict())


def _project(root: Path) -> Any:
    project = open_project(root)
    assert project is not None
    return project


def test_the_project_config_selects_the_team_store(pg_server: PostgresServer, project_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``[store] url_env`` picks PostgreSQL; without it the project keeps its SQLite store; a
    named variable that is unset is an error, never a silent fall-back to a local store."""
    assert isinstance(open_store(_project(project_dir)), SqliteStore)
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", f'[store]\nurl_env = "{URL_ENV}"\n'))
    with pytest.raises(StoreError) as caught:
        open_store(_project(project_dir))
    assert URL_ENV in caught.value.message
    url = pg_server.create_database()
    monkeypatch.setenv(URL_ENV, url)
    store = open_store(_project(project_dir))
    try:
        assert isinstance(store, PostgresStore)
    finally:
        store.close()
    assert migrate_store(_project(project_dir)) == (SCHEMA_VERSION, SCHEMA_VERSION)
    # The URL is named in the config and its cache, never written there.
    for path in (project_dir / ".msp").rglob("*"):
        if path.is_file() and path.suffix in (".toml", ".json"):
            assert pg_server.password not in path.read_text()


def test_the_cli_records_into_the_team_store(pg_server: PostgresServer, project_dir: Path, msp_cli: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_server.create_database()
    monkeypatch.setenv(URL_ENV, url)
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", f'[store]\nurl_env = "{URL_ENV}"\n'))
    assert msp_cli("start", "--goal", "team").code == 0
    r = msp_cli("update", "on the server", "40")
    assert r.code == 0, r.err
    with psycopg.connect(url) as conn:
        assert [row[0] for row in conn.execute("SELECT type FROM events ORDER BY seq")] == [
            "session_started", "progress_updated"]
    # A failing password reaches the user as a clear error, without the password.
    monkeypatch.setenv(URL_ENV, url.replace(f":{pg_server.password}@", ":Wr0ng-Pass@"))
    r = msp_cli("update", "refused")
    assert r.code != 0
    assert "password" in r.err and "Wr0ng-Pass" not in r.err + r.out and "Traceback" not in r.err


# --- order --------------------------------------------------------------------------------


def test_events_since_never_skips_an_event_committed_later_with_a_smaller_position(
    pg_server: PostgresServer,
) -> None:
    """Two concurrent appending transactions: the first holds its event uncommitted while the
    second tries to append and commit. A reader resuming after the positions it has seen must
    still get the first one when it commits (with plain sequence positions it would not: the
    second would commit a larger position first)."""
    url = pg_server.create_database()
    first, second, reader = (PostgresStore(url, synchronous="normal") for _ in range(3))
    seen: list[Event] = []
    last = 0

    def poll() -> None:
        nonlocal last
        with reader.read() as tx:
            new = tx.events_since(last)
        seen.extend(new)
        if new:
            last = new[-1].seq or last

    done = threading.Event()

    def append_second() -> None:
        with second.write() as tx:
            tx.append(_started("s2"))
        done.set()

    try:
        with first.write() as tx:
            tx.append(_started("s1"))
            thread = threading.Thread(target=append_second)
            thread.start()
            done.wait(1.0)  # without serialised positions the second commits here
            poll()
        thread.join(30)
        poll()
        poll()
    finally:
        for s in (first, second, reader):
            s.close()
    assert [e.session_id for e in seen] == ["s1", "s2"]
    assert [e.seq for e in seen] == sorted(e.seq or 0 for e in seen)


def test_claims_from_several_processes_take_each_action_once_in_lane_order(pg_server: PostgresServer,
                                                                            tmp_path: Path) -> None:
    url = pg_server.create_database()
    lanes, per_lane = 8, 25
    keys = {lane: [f"l{lane}-{i:03d}" for i in range(per_lane)] for lane in range(lanes)}
    store = PostgresStore(url, synchronous="normal")
    try:
        with store.write() as tx:
            # Interleaved across lanes, so every claim sees many lanes at once.
            tx.add_actions([
                planned(keys[lane][i], session=f"sess-{lane}", payload={"before": keys[lane][:i]})
                for i in range(per_lane) for lane in range(lanes)
            ])
    finally:
        store.close()
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(CLAIMER), url, f"w{n}", "hook", str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    go.touch()
    lines: list[dict[str, Any]] = []
    by_worker: Counter[int] = Counter()
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        got = [json.loads(line) for line in out.splitlines() if line.strip()]
        by_worker[n] = len(got)
        lines += got
    claimed = Counter(line["key"] for line in lines)
    assert set(claimed) == {k for ks in keys.values() for k in ks}
    assert set(claimed.values()) == {1}, "an action was claimed twice"
    assert all(line["in_order"] for line in lines), [line for line in lines if not line["in_order"]]
    assert sum(1 for n in by_worker if by_worker[n]) >= 2  # the work was really shared
    store = PostgresStore(url, synchronous="normal")
    try:
        with store.read() as tx:
            assert tx.outbox.counts() == {"done": lanes * per_lane}
    finally:
        store.close()
