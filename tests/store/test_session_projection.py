"""The session a hook receives comes from the store's projection, not from folding every event:
it equals the fold's view with the latest updates, it is read without a fold, and the close
hook and replays still see what they saw when recording. Runs on every store backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from msp import hookimpl
from msp._model.events import KINDS, RECENT_UPDATES
from msp._model.models import Session
from msp._plugins.host import build_host
from msp._session.manager import SessionManager
from msp._store.interface import Store
from tests.store.backends import Backend

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


class Seen:
    """Keeps the session each hook received."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Session]] = []

    @hookimpl
    def msp_session_start(self, session: Session) -> None:
        self.calls.append(("start", session))

    @hookimpl
    def msp_update(self, session: Session) -> None:
        self.calls.append(("update", session))

    @hookimpl
    def msp_decision(self, session: Session) -> None:
        self.calls.append(("decision", session))

    @hookimpl
    def msp_blocker(self, session: Session) -> None:
        self.calls.append(("blocker", session))

    @hookimpl
    def msp_session_close(self, session: Session) -> None:
        self.calls.append(("close", session))


def _manager(store: Store, seen: Seen) -> SessionManager:
    clock = (T0 + timedelta(seconds=i) for i in range(1_000_000))
    return SessionManager(store, build_host({"seen": {}}, extra={"seen": seen}), default_project="p",
                          clock=lambda: next(clock))


def _two_sessions(manager: SessionManager) -> tuple[str, str]:
    """Two sessions; the second resolves a blocker of the first, the first's blocker list sees it."""
    first = manager.start({"goal": "one"}).event.session_id
    old = manager.block({"text": "waiting on review"}).event.data["id"]
    manager.update({"text": "a", "progress": 10})
    manager.end({})
    second = manager.start({"goal": "two", "issue": "ENG-1"}).event.session_id
    for i in range(5):
        manager.update({"text": f"u{i}", "progress": 20 + i, "tags": ["next"] if i == 3 else []})
    manager.decide({"text": "d"})
    manager.block({"text": "new one"})
    manager.resolve({"blocker": old, "solution": "reviewed"})
    return first, second


def test_the_hook_view_equals_the_fold_with_the_latest_updates(store: Store) -> None:
    manager = _manager(store, Seen())
    first, second = _two_sessions(manager)
    with store.read() as tx:
        for sid in (first, second):
            for recent in (0, 1, 3, 100):
                stored = tx.hook_session(sid, recent)
                folded = tx.load_folder(sid).view(recent)
                assert stored.model_dump() == folded.model_dump()
                assert stored.update_count == len(tx.load_session(sid).updates)
        held = tx.hook_session(second, 2)
    assert [u.text for u in held.updates] == ["u3", "u4"] and held.update_count == 5
    assert held.resolved_elsewhere[0].solution == "reviewed" and held.goal == "two" and held.issue == "ENG-1"


def test_recording_reads_the_projection_never_the_whole_session(store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen = Seen()
    manager = _manager(store, seen)
    manager.start({})
    for i in range(RECENT_UPDATES + 5):
        manager.update({"text": f"u{i}", "progress": i % 101})

    def no_fold(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a hook's session was folded from every event")

    with store.read() as tx:
        access = type(tx)  # the backend's transaction class
    monkeypatch.setattr(access, "load_folder", no_fold)
    manager.update({"text": "last", "progress": 99})
    manager.decide({"text": "d"})
    kind, session = seen.calls[-2]
    assert kind == "update" and len(session.updates) == RECENT_UPDATES
    assert session.update_count == RECENT_UPDATES + 6 and session.updates[-1].text == "last"
    assert session.progress == 99
    assert seen.calls[-1][1].update_count == RECENT_UPDATES + 6
    monkeypatch.undo()
    manager.end({})
    kind, whole = seen.calls[-1]
    # The close hook sees every update: summaries (Linear, Slack, Jira, Obsidian) need them all.
    assert kind == "close" and len(whole.updates) == whole.update_count == RECENT_UPDATES + 6


def test_replay_and_plan_see_what_recording_saw(store: Store) -> None:
    seen = Seen()
    manager = _manager(store, seen)
    manager.start({})
    for i in range(RECENT_UPDATES + 3):
        manager.update({"text": f"u{i}"})
    manager.block({"text": "b"})
    manager.end({})
    recorded = [(k, s.model_dump()) for k, s in seen.calls]
    seen.calls.clear()
    with store.read() as tx:
        session_id = tx.list_sessions()[0].id
    manager.plan_session(session_id)
    assert [(k, s.model_dump()) for k, s in seen.calls] == recorded


def _forget_the_projection(backend: Backend, spec: str) -> None:
    """Make every session row look as a store's from before the projection (state NULL)."""
    if backend.server is None:
        import sqlite3

        db = sqlite3.connect(spec)
        db.execute("UPDATE sessions SET state = NULL")
        db.commit()
        db.close()
        return
    import psycopg

    with psycopg.connect(spec) as conn:
        conn.execute("UPDATE sessions SET state = NULL")


def test_a_store_from_before_the_projection_folds_once_then_keeps_it(store: Store, backend: Backend,
                                                                     project_dir: Any) -> None:
    manager = _manager(store, Seen())
    _, second = _two_sessions(manager)
    _forget_the_projection(backend, backend.project_spec(project_dir))
    with store.read() as tx:
        assert tx.hook_session(second, 2).model_dump() == tx.load_folder(second).view(2).model_dump()
    manager.update({"text": "after the upgrade", "progress": 90})
    with store.read() as tx:
        stored = tx.hook_session(second, 3)
        assert stored.model_dump() == tx.load_folder(second).view(3).model_dump()
        row = tx.session_row(second)
    assert stored.update_count == 6 and stored.progress == 90
    assert row is not None and row.progress == 90 and row.event_count == 10


def test_a_long_lived_manager_hands_hooks_the_same_session_as_one_manager_per_command(store: Store) -> None:
    """The Python API and the MCP server keep their fold and apply each event; every CLI command
    reads the projection. Hooks must not tell the two apart, even when another process writes
    between two events (the kept fold is then read again)."""
    hot_seen, cold_seen = Seen(), Seen()
    hot = _manager(store, hot_seen)
    clock = (T0 + timedelta(hours=1, seconds=i) for i in range(1_000_000))

    def cold() -> SessionManager:
        return SessionManager(store, build_host({"seen": {}}, extra={"seen": cold_seen}), default_project="p",
                              clock=lambda: next(clock))

    hot.start({"goal": "g"})
    for i in range(RECENT_UPDATES + 20):
        hot.update({"text": f"u{i}", "progress": i % 101})
        if i == 50:
            cold().update({"text": "from another process", "progress": 7})
        if i % 40 == 0:
            hot.decide({"text": f"d{i}"})
            hot.block({"text": f"b{i}"})
    with store.read() as tx:
        sid = hot_seen.calls[-1][1].id
        expected = tx.hook_session(sid, RECENT_UPDATES)
    assert hot_seen.calls[-1][1].model_dump() == expected.model_dump()
    # Every view the long-lived manager handed out matched the store at that moment: the last
    # update's view (checked above) and the counts along the way.
    counts = [s.update_count for kind, s in hot_seen.calls if kind == "update"]
    assert counts == sorted(counts) and counts[-1] == RECENT_UPDATES + 21


def test_a_session_row_read_after_appends_in_one_transaction_is_the_stored_one(backend: Backend) -> None:
    """Within one write, the session row an append leaves (PostgreSQL sends its UPDATE with the
    next statement or the COMMIT) is the row a later reader gets: fields, time, count."""
    store = backend.open(backend.spec())
    try:
        clock = iter(T0 + timedelta(minutes=i) for i in range(10))
        manager = SessionManager(store, None, default_project="p", clock=lambda: next(clock))
        sid = manager.start({"goal": "rows", "issue": "ENG-1"}).event.session_id
        manager.update({"text": "one", "progress": 30})
        with store.write() as tx:
            (row,) = tx.active_sessions(project="p")
            event = manager._event(KINDS["session_closed"], sid, "p", T0 + timedelta(hours=1),
                                   {"summary": "done", "progress": 55, "reason": "ended"})
            tx.append(event)
            in_tx = tx.session_row(sid)
        with store.read() as tx:
            stored = tx.session_row(sid)
        assert in_tx is not None and stored is not None
        assert in_tx == stored
        assert (stored.status, stored.progress, stored.event_count, stored.ended_at) == (
            "closed", 55, 3, T0 + timedelta(hours=1))
        assert row.event_count == 2
    finally:
        store.close()
