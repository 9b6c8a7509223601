"""The store contract for events and the projections kept beside them, on every backend.

Events go in through the real session manager (the path every command takes) or straight
through ``append``; everything is read back through the store interface only.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from msp._model.models import Event
from msp._session.manager import SessionManager
from msp._store.interface import HookFailure, Store
from tests.store.backends import Backend, planned


def _event(store: Store, event_id: str = "ev-extra") -> Event:
    """An event for the store's one active session, built by hand."""
    with store.read() as tx:
        (row,) = tx.active_sessions()
    return Event(event_id, "progress_updated", row.id, row.project, datetime.now(UTC), "api",
                 {"text": "by hand", "progress": None, "tags": []})


def test_events_come_back_in_order_and_unchanged(manager: SessionManager, store: Store) -> None:
    recorded = [
        manager.start({"goal": "ship it", "progress": 10}),
        manager.update({"text": "first", "progress": 20}),
        manager.decide({"text": "use an outbox", "rationale": "durable"}),
        manager.update({"text": "second", "progress": 30}),
        manager.end({"summary": "done"}),
    ]
    with store.read() as tx:
        events = tx.events_since(0)
        later = tx.events_since(events[1].seq or 0)
        capped = tx.events_since(0, limit=2)
        of_session = tx.events_since(0, session_id=events[0].session_id)
        none_for = tx.events_since(0, session_id="no-such-session")
        recent = tx.events_since(0, since=events[0].at + timedelta(days=1))
    assert [e.id for e in events] == [r.event.id for r in recorded]
    assert [e.type for e in events] == [
        "session_started", "progress_updated", "decision_recorded", "progress_updated", "session_closed",
    ]
    seqs = [e.seq for e in events]
    assert all(s is not None for s in seqs) and seqs == sorted(set(seqs))  # type: ignore[type-var]
    for stored, rec in zip(events, recorded, strict=True):
        assert dataclasses.replace(stored, seq=None) == dataclasses.replace(rec.event, seq=None)
    assert [e.id for e in later] == [e.id for e in events[2:]]
    assert [e.id for e in capped] == [e.id for e in events[:2]]
    assert of_session == events and none_for == [] and recent == []


def test_an_event_id_is_stored_once(manager: SessionManager, store: Store) -> None:
    """Append-only: nothing in the interface rewrites an event, and the same id twice is refused
    with everything of that transaction rolled back."""
    manager.start({})
    extra = _event(store)
    with store.write() as tx:
        tx.append(extra)
    with pytest.raises(Exception), store.write() as tx:  # noqa: B017 - each backend raises its own
        tx.add_actions([planned("k-with-the-duplicate")])
        tx.append(extra)
    with store.read() as tx:
        assert tx.count_events() == 2
        assert [e.data["text"] for e in tx.events_since(0) if e.type == "progress_updated"] == ["by hand"]
        assert tx.outbox.by_keys(["k-with-the-duplicate"]) == []
        assert tx.session_row(extra.session_id).event_count == 2  # type: ignore[union-attr]


def test_session_rows_are_projections_of_the_events(manager: SessionManager, store: Store) -> None:
    first = manager.start({"goal": "one", "progress": 5, "issue": "ENG-1"}).event.session_id
    manager.update({"text": "halfway", "progress": 50})
    manager.end({"summary": "first done", "progress": 60})
    second = manager.start({"goal": "two"}).event.session_id
    with store.read() as tx:
        row = tx.session_row(first)
        active = tx.active_sessions()
        listed = tx.list_sessions()
        last = tx.last_session("proj")
        by_prefix = tx.find_sessions(first[:6])
        nothing = tx.find_sessions("%")
        other_project = tx.list_sessions(project="elsewhere")
    assert row is not None
    assert (row.status, row.goal, row.issue, row.start_progress, row.progress, row.event_count) == (
        "closed", "one", "ENG-1", 5, 60, 3)
    assert row.ended_at is not None and row.ended_at >= row.started_at
    assert [r.id for r in active] == [second]
    assert [r.id for r in listed] == [second, first]  # newest first
    assert last is not None and last.id == second
    assert first in [r.id for r in by_prefix]
    assert nothing == [] and other_project == []
    assert row.to_dict()["events"] == 3


def test_a_resumed_session_is_active_again(manager: SessionManager, store: Store) -> None:
    sid = manager.start({}).event.session_id
    manager.end({})
    manager.recover(sid, close=False)
    with store.read() as tx:
        row = tx.session_row(sid)
    assert row is not None and row.status == "active" and row.ended_at is None and row.event_count == 3


def test_open_blockers_across_sessions(manager: SessionManager, store: Store) -> None:
    manager.start({})
    one = manager.block({"text": "waiting on the vendor"}).event.data["id"]
    two = manager.block({"text": "flaky CI"}).event.data["id"]
    manager.end({})
    manager.start({})
    manager.resolve({"blocker": one, "solution": "they answered"})
    with store.read() as tx:
        still_open = tx.open_blockers("proj")
        elsewhere = tx.open_blockers("elsewhere")
        first_session = tx.list_sessions()[-1].id
        session = tx.load_session(first_session)
    assert [(b.id, b.text) for b in still_open] == [(two, "flaky CI")]
    assert elsewhere == []
    assert {b.id for b in session.open_blockers} == {two}


def test_session_events_filter_order_and_count(manager: SessionManager, store: Store) -> None:
    sid = manager.start({}).event.session_id
    for i in range(3):
        manager.update({"text": f"u{i}"})
    manager.decide({"text": "d"})
    with store.read() as tx:
        updates = tx.session_events(sid, types=["progress_updated"])
        newest = tx.session_events(sid, types=["progress_updated"], limit=2, newest_first=True)
        everything = tx.session_events(sid)
        counts = (tx.count_events(), tx.count_events("progress_updated"), tx.count_events("session_closed"))
    assert [e.data["text"] for e in updates] == ["u0", "u1", "u2"]
    assert [e.data["text"] for e in newest] == ["u2", "u1"]
    assert len(everything) == 5
    assert counts == (5, 3, 0)


def test_load_session_up_to_a_point(manager: SessionManager, store: Store) -> None:
    sid = manager.start({"progress": 0}).event.session_id
    mid = manager.update({"text": "a", "progress": 40}).event
    manager.update({"text": "b", "progress": 80})
    with store.read() as tx:
        then = tx.load_session(sid, upto_seq=mid.seq)
        now = tx.load_session(sid)
        with pytest.raises(KeyError):
            tx.load_session("no-such-session")
    assert then.progress == 40 and now.progress == 80
    assert len(then.updates) == 1 and len(now.updates) == 2


def test_hook_failures_are_kept_newest_first(manager: SessionManager, store: Store) -> None:
    event = manager.start({}).event
    with store.write() as tx:
        tx.add_hook_failures([HookFailure(event.id, "one", "msp_session_start", "boom"),
                              HookFailure(event.id, "two", "msp_session_start", "x" * 5000)])
    with store.read() as tx:
        rows = tx.hook_failures()
        capped = tx.hook_failures(limit=1)
    assert [r["integration"] for r in rows] == ["two", "one"]
    assert rows[1]["error"] == "boom" and len(rows[0]["error"]) <= 2000
    assert [r["integration"] for r in capped] == ["two"]


def test_an_event_and_its_actions_commit_together_or_not_at_all(manager: SessionManager, store: Store) -> None:
    manager.start({})

    class Boom(Exception):
        pass

    lost, kept = _event(store, "ev-lost"), _event(store, "ev-kept")
    with pytest.raises(Boom), store.write() as tx:
        tx.append(lost)
        tx.add_actions([planned("k-lost", event="ev-lost")])
        raise Boom
    with store.read() as tx:
        assert tx.count_events() == 1 and tx.outbox.counts() == {}
    with store.write() as tx:
        tx.append(kept)
        assert tx.add_actions([planned("k-kept", event="ev-kept")]) == 1
    with store.read() as tx:
        assert tx.count_events() == 2
        assert [a.event_id for a in tx.outbox.by_keys(["k-kept"])] == ["ev-kept"]


def test_a_failed_command_rolls_back_everything(manager: SessionManager, store: Store) -> None:
    """An error after the event was appended (here: in planning) leaves no trace."""
    sid = manager.start({}).event.session_id
    with store.read() as tx:
        before = tx.count_events()

    class Boom(Exception):
        pass

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise Boom

    manager._plan = explode  # type: ignore[method-assign]
    with pytest.raises(Boom):
        manager.update({"text": "never stored"})
    with store.read() as tx:
        assert tx.count_events() == before
        row = tx.session_row(sid)
        assert row is not None and row.event_count == before
    # The store is usable straight after.
    extra = _event(store)
    with store.write() as tx:
        tx.append(extra)
    with store.read() as tx:
        assert tx.count_events() == before + 1


def test_a_reopened_store_keeps_everything(backend: Backend) -> None:
    spec = backend.spec("reopened")
    store = backend.open(spec)
    sid = SessionManager(store, default_project="p").start({"goal": "kept"}).event.session_id
    with store.write() as tx:
        tx.add_actions([planned("k-kept", session=sid)])
    store.close()
    again = backend.open(spec)
    try:
        with again.read() as tx:
            assert [r.goal for r in tx.list_sessions()] == ["kept"]
            assert tx.outbox.counts() == {"pending": 1}
    finally:
        again.close()


def test_sessions_are_found_by_any_part_of_their_id(manager: SessionManager, store: Store) -> None:
    ids = []
    for _ in range(3):
        ids.append(manager.start({}).event.session_id)
        manager.end()
    with store.read() as tx:
        assert [r.id for r in tx.find_sessions(ids[1][-6:])] == [ids[1]]  # the random tail
        assert [r.id for r in tx.find_sessions(ids[2][4:12])] == [i for i in sorted(ids) if ids[2][4:12] in i]
        assert [r.id for r in tx.find_sessions(ids[0][:8], limit=10)] == sorted(ids)  # all share the date
        assert len(tx.find_sessions(ids[0][:8], limit=2)) == 2
        # Taken literally: no LIKE wildcards, no regular expressions.
        assert tx.find_sessions("%") == [] and tx.find_sessions("_") == [] and tx.find_sessions(".*") == []
