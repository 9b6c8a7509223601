"""Many engineers on one store: a session belongs to its engineer (user and host), "one active
session" holds per engineer and project, and every moment is recorded into the calling
engineer's own session. Run against every backend; the migrations that give the sessions of an
older store their engineer are tested per backend at the end.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from msp._model.identity import Engineer
from msp._model.models import Event
from msp._session.manager import SessionManager
from msp._store import open_store
from msp._store.interface import Store
from msp._store.postgres import migrate, migrations
from msp._store.sqlite import MIGRATIONS, SqliteStore
from msp.errors import SessionAlreadyActive, SessionNotActive
from tests.store.postgres_server import PostgresServer

ALICE = Engineer("alice", "laptop-a")
BOB = Engineer("bob", "laptop-b")


def _as(store: Store, who: Engineer, project: str = "proj") -> SessionManager:
    return SessionManager(store, None, default_project=project, source="api", engineer=who)


def test_two_engineers_each_have_their_own_active_session_in_one_project(store: Store) -> None:
    alice, bob = _as(store, ALICE), _as(store, BOB)
    a = alice.start({"goal": "payments"}).event.session_id
    b = bob.start({"goal": "refunds"}).event.session_id  # the same project: not in alice's way
    assert a != b
    assert alice.update({"text": "a1", "progress": 10}).event.session_id == a
    assert bob.update({"text": "b1", "progress": 20}).event.session_id == b
    assert alice.decide({"text": "use retries"}).event.session_id == a
    with pytest.raises(SessionAlreadyActive, match=b):
        bob.start({})
    assert bob.end().event.session_id == b
    assert alice.update({"text": "a2"}).event.session_id == a  # bob's end closed only bob's
    with store.read() as tx:
        row_a, row_b = tx.session_row(a), tx.session_row(b)
        assert [r.id for r in tx.active_sessions("proj")] == [a]
        assert tx.active_sessions("proj", "bob") == []
        assert [r.id for r in tx.list_sessions(user="bob")] == [b]
        assert {r.id for r in tx.list_sessions("proj")} == {a, b}
        hook_view = tx.hook_session(a, 3)  # from the projection's state
        folded = tx.load_session(a)
    assert row_a is not None and (row_a.user, row_a.host, row_a.status) == ("alice", "laptop-a", "active")
    assert row_b is not None and (row_b.user, row_b.host, row_b.status) == ("bob", "laptop-b", "closed")
    assert row_a.to_dict()["user"] == "alice" and row_a.to_dict()["host"] == "laptop-a"
    assert (hook_view.user, hook_view.host) == (folded.user, folded.host) == ("alice", "laptop-a")
    assert [u.text for u in alice.get().updates] == ["a1", "a2"]
    assert [u.text for u in bob.get(b).updates] == ["b1"]


def test_one_engineer_has_one_active_session_per_project(store: Store) -> None:
    here, elsewhere = _as(store, ALICE, "proj"), _as(store, ALICE, "billing")
    in_proj = here.start({}).event.session_id
    in_billing = elsewhere.start({}).event.session_id  # another project: allowed
    assert here.update({"text": "p"}).event.session_id == in_proj
    assert elsewhere.update({"text": "b"}).event.session_id == in_billing
    # From a third project with two sessions elsewhere there is no single one to choose.
    third = _as(store, ALICE, "docs")
    with pytest.raises(SessionNotActive) as caught:
        third.update({"text": "which?"})
    assert in_proj in caught.value.message and in_billing in caught.value.message
    assert third.active() is None
    # With one left, it is the one: `msp start --project billing`, then `msp update` from here.
    elsewhere.end()
    assert third.update({"text": "only one"}).event.session_id == in_proj
    assert [(r.id, stale) for r, stale in third.stale()] == [(in_proj, False)]


def test_no_session_of_yours_is_no_session_even_when_others_have_one(store: Store) -> None:
    _as(store, ALICE).start({})
    bob = _as(store, BOB)
    with pytest.raises(SessionNotActive) as caught:
        bob.update({"text": "into alice's?"})
    assert "bob@laptop-b" in caught.value.message
    assert bob.active() is None and bob.stale() == []


def test_a_session_with_no_engineer_belongs_to_whoever_asks(store: Store) -> None:
    """A session recorded before sessions had an engineer (no user in its start event)."""
    with store.write() as tx:
        tx.append(Event("ev-old", "session_started", "s-old", "proj", datetime(2024, 5, 6, 9, tzinfo=UTC), "api",
                        {"goal": "old", "progress": 5, "issue": None}))
    with store.read() as tx:
        row = tx.session_row("s-old")
        assert row is not None and (row.user, row.host) == (None, None)
        assert [r.id for r in tx.active_sessions("proj", "alice")] == ["s-old"]
        assert tx.list_sessions(user="alice") == []  # an exact filter: nobody's is not alice's
    alice, bob = _as(store, ALICE), _as(store, BOB)
    assert alice.update({"text": "a"}).event.session_id == "s-old"
    assert bob.update({"text": "b"}).event.session_id == "s-old"
    with pytest.raises(SessionAlreadyActive):
        alice.start({})
    assert alice.get("s-old").user is None


def test_only_its_engineer_resumes_a_session_but_anyone_may_close_it(store: Store) -> None:
    alice, bob = _as(store, ALICE), _as(store, BOB)
    sid = alice.start({}).event.session_id
    alice.recover(sid, close=True)
    with pytest.raises(SessionNotActive, match="alice@laptop-a"):
        bob.recover(sid, close=False)
    alice.recover(sid, close=False)
    assert alice.active() is not None
    # A teammate's abandoned session can be tidied up by anyone.
    assert bob.recover(sid, close=True).event.data["reason"] == "recovered"
    # Resuming one while another of yours is active in its project is refused.
    first = alice.start({}).event.session_id
    alice.end()
    alice.start({})
    with pytest.raises(SessionAlreadyActive):
        alice.recover(first, close=False)


# --- an older store's sessions get their engineer ---------------------------------------------

_OLD_STARTS = [
    ("e1", "s1", '{"goal": "g", "progress": 5, "issue": null, "user": "carol", "host": "box-c"}'),
    ("e2", "s2", '{"goal": null, "progress": 0, "issue": null}'),  # written by another tool
]


def _old_state(sid: str) -> str:
    """A projection state as an msp from before engineers wrote it."""
    fields = {"id": sid, "project": "proj", "status": "active", "started_at": "2024-05-06T09:00:00Z",
              "start_progress": 0, "progress": 0}
    return json.dumps({"fields": fields, "counts": {}})


def test_sqlite_migration_takes_the_engineer_from_the_start_events(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    step = next(i for i, sql in enumerate(MIGRATIONS) if 'ADD COLUMN "user"' in sql)
    con = sqlite3.connect(path)
    for sql in MIGRATIONS[:step]:
        con.executescript(sql)
    for n, (event_id, sid, data) in enumerate(_OLD_STARTS, start=1):
        con.execute("INSERT INTO events (id, type, session_id, project, at, at_ms, source, data) VALUES "
                    "(?, 'session_started', ?, 'proj', '2024-05-06T09:00:00Z', 1, 'api', ?)", (event_id, sid, data))
        con.execute("INSERT INTO sessions (id, project, status, started_at, start_progress, progress, last_seq, "
                    "last_at, event_count, state) VALUES (?, 'proj', 'active', '2024-05-06T09:00:00Z', 0, 0, ?, "
                    "'2024-05-06T09:00:00Z', 1, ?)",
                    (sid, n, _old_state(sid)))
    con.execute(f"PRAGMA user_version = {step}")
    con.commit()
    con.close()
    store = SqliteStore(path, synchronous="normal")
    try:
        _check_migrated(store)
    finally:
        store.close()


def test_postgres_migration_takes_the_engineer_from_the_start_events(pg_server: PostgresServer) -> None:
    url = pg_server.create_database(migrated=False)
    step = next(m.version for m in migrations() if m.name == "session_engineer")
    migrate(url, upto=step - 1)
    with psycopg.connect(url) as conn:
        for n, (event_id, sid, data) in enumerate(_OLD_STARTS, start=1):
            conn.execute("INSERT INTO events (id, type, session_id, project, at, at_ms, source, data) VALUES "
                         "(%s, 'session_started', %s, 'proj', '2024-05-06T09:00:00Z', 1, 'api', %s)",
                         (event_id, sid, data))
            conn.execute("INSERT INTO sessions (id, project, status, started_at, start_progress, progress, last_seq, "
                         "last_at, event_count, state) VALUES (%s, 'proj', 'active', '2024-05-06T09:00:00Z', 0, 0, "
                         "%s, '2024-05-06T09:00:00Z', 1, %s)",
                         (sid, n, _old_state(sid)))
    migrate(url)
    store = open_store(url)
    try:
        _check_migrated(store)
    finally:
        store.close()


def _check_migrated(store: Store) -> None:
    with store.read() as tx:
        rows = {r.id: (r.user, r.host) for r in tx.list_sessions()}
        views = {sid: (tx.hook_session(sid, 3).user, tx.hook_session(sid, 3).host) for sid in ("s1", "s2")}
        # carol's session is hers; the one without an engineer is anyone's.
        assert [r.id for r in tx.active_sessions("proj", "carol")] == ["s1", "s2"]
        assert [r.id for r in tx.active_sessions("proj", "dave")] == ["s2"]
    assert rows == {"s1": ("carol", "box-c"), "s2": (None, None)}
    assert views == rows
