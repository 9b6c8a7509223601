"""The session manager: the one path every moment takes, and the views folded from events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from msp._model.projection import fold
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore
from msp.errors import (
    AmbiguousBlocker,
    BlockerNotFound,
    InvalidInput,
    SessionAlreadyActive,
    SessionNotActive,
    SessionNotFound,
)


def _at(manager: SessionManager, when: datetime) -> SessionManager:
    return SessionManager(manager.store, None, default_project="proj", clock=lambda: when)


def _count(store: SqliteStore) -> int:
    with store.read() as tx:
        return tx.count_events()


def test_a_whole_session_is_a_fold_of_its_events(manager: SessionManager, store: SqliteStore) -> None:
    sid = manager.start({"goal": "g", "issue": "ENG-7", "progress": 10}).event.session_id
    manager.update({"text": "u1", "progress": 30, "tags": ["a", "b"]})
    manager.update({"text": "u2"})
    manager.decide({"text": "d", "rationale": "r", "alternatives": ["x"], "impact": "high", "category": "c"})
    manager.entity({"name": "n", "type": "module", "path": "p", "description": "desc"})
    manager.block({"text": "blocked", "category": "external", "severity": "high"})
    manager.resolve({"blocker": "blocked", "solution": "unblocked"})
    manager.end({"summary": "s"})

    session = manager.get(sid)
    assert (session.status, session.start_progress, session.progress, session.progress_delta) == ("closed", 10, 30, 20)
    assert [u.text for u in session.updates] == ["u1", "u2"] and session.updates[0].tags == ["a", "b"]
    assert session.decisions[0].alternatives == ["x"] and session.decisions[0].impact == "high"
    assert session.entities[0].path == "p"
    assert session.blockers[0].solution == "unblocked" and not session.open_blockers
    assert session.summary == "s" and session.close_reason == "ended"
    # The same view comes from folding the raw events again, and the indexed row agrees.
    with store.read() as tx:
        events = tx.session_events(sid)
        row = tx.session_row(sid)
    assert fold(events) == session
    assert len(events) == 8
    assert row is not None and (row.status, row.progress, row.event_count) == ("closed", 30, 8)


def test_validation_happens_before_anything_is_stored(manager: SessionManager, store: SqliteStore) -> None:
    manager.start({})
    before = _count(store)
    cases: list[tuple[Any, dict[str, Any]]] = [
        (manager.update, {"text": "x", "progress": 101}),
        (manager.update, {"text": "x", "unknown": 1}),
        (manager.decide, {"text": "x", "impact": "huge"}),
        (manager.block, {"text": "x", "severity": "dire"}),
        (manager.entity, {"name": ""}),
        (manager.end, {"progress": -1}),
    ]
    for call, data in cases:
        with pytest.raises(InvalidInput):
            call(data)
    assert _count(store) == before


def test_one_active_session_per_project_at_a_time(manager: SessionManager) -> None:
    sid = manager.start({}).event.session_id
    with pytest.raises(SessionAlreadyActive) as caught:
        manager.start({"project": "proj"})
    assert sid in caught.value.message
    assert caught.value.hint is not None and "msp end" in caught.value.hint and "msp recover" in caught.value.hint
    # Per engineer and project (tests/store/test_engineers.py): another project may have its own.
    other = manager.start({"project": "elsewhere"}).event.session_id
    assert manager.update({"text": "here"}).event.session_id == sid
    with pytest.raises(SessionAlreadyActive):
        manager.start({"project": "elsewhere"})
    assert other != sid


def test_nothing_to_record_into_without_an_active_session(manager: SessionManager) -> None:
    for call in (lambda: manager.update({"text": "x"}), lambda: manager.end(),
                 lambda: manager.goal({"goal": "x"}), lambda: manager.get()):
        with pytest.raises(SessionNotActive):
            call()


def test_resolve_by_id_prefix_or_unique_text(manager: SessionManager) -> None:
    manager.start({})
    a = manager.block({"text": "Flaky CI"}).event.data["id"]
    b = manager.block({"text": "flaky staging DB"}).event.data["id"]
    with pytest.raises(AmbiguousBlocker):
        manager.resolve({"blocker": "FLAKY"})
    assert manager.resolve({"blocker": "ci"}).event.data["blocker_id"] == a  # case-insensitive text
    assert manager.resolve({"blocker": b[:5]}).event.data["blocker_id"] == b  # id prefix
    with pytest.raises(BlockerNotFound):
        manager.resolve({"blocker": b})  # already resolved


def test_a_blocker_raised_earlier_is_resolved_in_a_later_session(manager: SessionManager) -> None:
    first = manager.start({}).event.session_id
    bid = manager.block({"text": "waiting for access"}).event.data["id"]
    manager.end()
    second = manager.start({}).event.session_id
    rec = manager.resolve({"blocker": "access", "solution": "granted"})
    assert rec.event.data["raised_in"] == first
    manager.end()
    earlier = manager.get(first)
    assert earlier.blockers[0].resolved_in == second and earlier.blockers[0].solution == "granted"
    later = manager.get(second)
    assert [b.id for b in later.resolved_elsewhere] == [bid] and later.blockers == []


def test_blockers_of_other_projects_are_not_candidates(manager: SessionManager) -> None:
    manager.start({"project": "a"})
    manager.block({"text": "shared words"})
    manager.end()
    manager.start({"project": "b"})
    with pytest.raises(BlockerNotFound):
        manager.resolve({"blocker": "shared"})


def test_dry_run_returns_the_event_and_stores_nothing(manager: SessionManager, store: SqliteStore) -> None:
    manager.start({})
    before = _count(store)
    rec = manager.update({"text": "would be"}, dry_run=True)
    assert rec.dry_run and rec.event.data["text"] == "would be" and rec.event.seq is not None
    assert _count(store) == before
    assert manager.end(dry_run=True).session is not None
    assert manager.active() is not None


def test_get_finds_sessions_by_unique_prefix(manager: SessionManager) -> None:
    base = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    ids = []
    for n in range(2):
        m = _at(manager, base + timedelta(seconds=n))
        ids.append(m.start({}).event.session_id)
        m.end()
    assert manager.get(ids[1][:17]).id == ids[1]
    with pytest.raises(SessionNotFound, match="is part of 2 session ids") as ambiguous:
        manager.get("20240601-1200")
    assert ids[0] in str(ambiguous.value) and ids[1] in str(ambiguous.value)  # the candidates are named
    assert manager.get(ids[0][-6:]).id == ids[0]  # any unique part: the random tail
    assert manager.get(ids[1][9:20]).id == ids[1]  # ... or the middle
    with pytest.raises(SessionNotFound):
        manager.get("20240602")
    with pytest.raises(SessionNotFound):
        manager.get("%")  # no LIKE wildcards


def test_recover_closes_at_the_last_recorded_moment(manager: SessionManager) -> None:
    started = datetime.now(UTC) - timedelta(days=3)
    old = _at(manager, started)
    sid = old.start({}).event.session_id
    _at(manager, started + timedelta(minutes=40)).update({"text": "last", "progress": 20})
    stale = manager.stale()
    assert [(r.id, is_stale) for r, is_stale in stale] == [(sid, True)]
    rec = manager.recover(sid, close=True)
    assert rec.event.at == started + timedelta(minutes=40)
    session = manager.get(sid)
    assert session.close_reason == "recovered" and session.duration_seconds() == 40 * 60
    with pytest.raises(SessionNotActive):
        manager.recover(sid, close=True)
    manager.recover(sid, close=False)
    assert manager.get().id == sid and manager.get().status == "active"


def test_sessions_newest_first_with_filters(manager: SessionManager) -> None:
    now = datetime.now(UTC)
    ids = {}
    for days, project in [(9, "a"), (5, "b"), (2, "a")]:
        m = _at(manager, now - timedelta(days=days))
        ids[days] = m.start({"project": project}).event.session_id
        m.end()
    assert [r.id for r in manager.sessions()] == [ids[2], ids[5], ids[9]]
    assert [r.id for r in manager.sessions(project="a")] == [ids[2], ids[9]]
    assert [r.id for r in manager.sessions(since=now - timedelta(days=6))] == [ids[2], ids[5]]
    assert [r.id for r in manager.sessions(limit=1)] == [ids[2]]
