"""Each event type is declared once (msp._model.events), and that declaration drives the fold,
the hook calls and the confirmations."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from pydantic import BaseModel

import msp.hooks.specs as specs
from msp._model.events import HOOKS_BY_EVENT, KINDS, EventKind
from msp._model.models import Blocker, Decision, Entity, Event, EventType, Session, Update
from msp._model.projection import fold, folder_of
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore

#: The parts each event type declares absent on purpose. A new type, or a part dropped from an
#: existing one, fails below until it is written here too: nothing goes missing by accident.
ABSENT: dict[str, set[str]] = {
    # the session itself is what hooks get
    "session_started": {"item", "view", "find", "joins", "resolves", "retracts", "fold"},
    "progress_updated": {"resolves", "retracts", "fold"},
    "decision_recorded": {"resolves", "retracts", "fold"},
    "entity_recorded": {"resolves", "retracts", "fold"},
    "blocker_raised": {"resolves", "retracts", "fold"},
    # completes a blocker raised earlier, maybe in another session
    "blocker_resolved": {"view", "joins", "retracts"},
    # made by `msp recover`
    "session_resumed": {"input", "hook", "item", "view", "find", "joins", "resolves", "retracts", "fold"},
    "session_closed": {"item", "view", "find", "joins", "resolves", "retracts", "fold"},
    # marks an item recorded earlier (`msp retract`), in the item's own session
    "item_retracted": {"view", "joins", "resolves"},
    # sets the goal; its hook receives the goal it replaced
    "goal_changed": {"view", "joins", "resolves", "retracts", "fold"},
}
OPTIONAL_PARTS = ("input", "hook", "item", "view", "find", "joins", "resolves", "retracts", "fold")

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def _hookspecs() -> dict[str, Any]:
    return {name: f for name, f in vars(specs).items() if callable(f) and hasattr(f, "msp_spec")}


def test_every_event_type_has_exactly_one_kind() -> None:
    assert set(KINDS) == set(get_args(EventType)) == set(ABSENT)
    assert all(kind.name == name for name, kind in KINDS.items())


@pytest.mark.parametrize("name", get_args(EventType))
def test_each_kind_declares_every_part(name: str) -> None:
    kind = KINDS[name]
    present = {part for part in OPTIONAL_PARTS if getattr(kind, part) is not None}
    assert set(OPTIONAL_PARTS) - present == ABSENT[name]
    assert callable(kind.sets) and callable(kind.said)
    # An item joins a list only if it can be built from its event.
    assert kind.joins is None or kind.view is not None
    if kind.input is not None:
        assert issubclass(kind.input, BaseModel)
        assert kind.input.model_config.get("extra") == "forbid"
    # An item keyword without a way to find the item (or the reverse) would pass nothing.
    assert (kind.item is None) == (kind.find is None)


@pytest.mark.parametrize("name", sorted(HOOKS_BY_EVENT))
def test_each_hook_call_matches_its_hookspec(name: str) -> None:
    kind = KINDS[name]
    spec = _hookspecs()[HOOKS_BY_EVENT[name]]
    documented = set(inspect.signature(spec).parameters) - {"config"}
    passed = {"session", "event", *([kind.item] if kind.item else []), *(["kind"] if kind.retracts else []),
              *kind.extra}
    assert passed == documented


def test_every_recording_hookspec_is_fired_by_some_event_type() -> None:
    recording = {
        name for name, spec in _hookspecs().items() if {"session", "event"} <= set(inspect.signature(spec).parameters)
    }
    assert recording == set(HOOKS_BY_EVENT.values())


def test_the_fold_dispatches_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    seen: list[str] = []
    replaced = dataclasses.replace(KINDS["session_resumed"], sets=lambda event: seen.append(event.id) or {})
    monkeypatch.setitem(KINDS, "session_resumed", replaced)
    events = [
        Event("e1", "session_started", "s1", "p", T0, "api", {"progress": 0}),
        Event("e2", "session_closed", "s1", "p", T0, "api", {"summary": None, "progress": None, "reason": "ended"}),
        Event("e3", "session_resumed", "s1", "p", T0, "api", {"was": "closed"}),
    ]
    session = fold(events)
    assert seen == ["e3"]
    # The replaced fold did not reopen the session: the registry's entry is the one used.
    assert session.status == "closed"


def _scripted(manager: SessionManager) -> tuple[str, str, str]:
    """Two sessions using every event type; the second resolves a blocker the first raised."""
    clock = iter(T0 + timedelta(minutes=i) for i in range(100))

    def m() -> SessionManager:
        return SessionManager(manager.store, None, default_project="proj", source="api",
                              clock=lambda at=next(clock): at)

    first = m().start({"goal": "first"}).event.session_id
    old = m().block({"text": "waiting on review", "category": "external"}).event.data["id"]
    m().end({"summary": "paused"})
    second = m().start({"goal": "second", "issue": "ENG-9", "progress": 20}).event.session_id
    m().update({"text": "u1", "progress": 40, "tags": ["t"]})
    m().decide({"text": "d", "rationale": "r", "alternatives": ["x"], "impact": "low", "category": "c"})
    entity = m().entity({"name": "n", "type": "module", "path": "p", "description": "desc"}).event.data["id"]
    m().block({"text": "new blocker", "severity": "high"})
    m().resolve({"blocker": old, "solution": "reviewed"})
    m().end({"summary": "done", "progress": 60})
    m().recover(second, close=False)
    m().goal({"goal": "second, sharper"})
    m().update({"text": "u2"})
    m().end({})
    m().retract({"item": entity, "reason": "typo"})  # after the close: in the item's own session
    assert first != second
    return first, second, old


def test_a_scripted_session_folds_through_the_registry_to_the_expected_view(
    manager: SessionManager, store: SqliteStore
) -> None:
    first, second, old = _scripted(manager)
    with store.read() as tx:
        events = tx.session_events(second)
        raised = tx.session_events(first, ["blocker_raised"])
        stored = tx.load_session(second)
    assert {e.type for e in events} == set(KINDS)
    by_type: dict[str, list[Event]] = {}
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    at = {e.id: e.at for e in events}
    u1, u2 = by_type["progress_updated"]
    decision, entity = by_type["decision_recorded"][0], by_type["entity_recorded"][0]
    new_blocker, resolution = by_type["blocker_raised"][0], by_type["blocker_resolved"][0]

    expected = Session(
        id=second, project="proj", status="closed", goal="second, sharper", issue="ENG-9",
        started_at=T0 + timedelta(minutes=3), ended_at=T0 + timedelta(minutes=13),
        last_event_at=T0 + timedelta(minutes=14), start_progress=20, progress=60,
        summary=None, close_reason="ended", source="api", started_seq=events[0].seq, last_seq=events[-1].seq,
        user=manager.engineer.user, host=manager.engineer.host,
        updates=[Update(id=u1.id, at=at[u1.id], text="u1", progress=40, tags=["t"]),
                 Update(id=u2.id, at=at[u2.id], text="u2")],
        decisions=[Decision(id=decision.data["id"], at=at[decision.id], text="d", rationale="r",
                            alternatives=["x"], impact="low", category="c")],
        entities=[Entity(id=entity.data["id"], at=at[entity.id], name="n", type="module", path="p",
                         description="desc", retracted_at=T0 + timedelta(minutes=14), retraction="typo")],
        blockers=[Blocker(id=new_blocker.data["id"], at=at[new_blocker.id], text="new blocker",
                          severity="high", session_id=second)],
        resolved_elsewhere=[Blocker(id=old, at=raised[0].at, text="waiting on review", category="external",
                                    session_id=first, resolved_at=at[resolution.id], solution="reviewed",
                                    resolved_in=second)],
    )
    folded = fold(events, foreign_blockers={old: raised[0]})
    assert folded.model_dump() == expected.model_dump()
    assert stored.model_dump() == expected.model_dump()


def test_each_kind_finds_the_item_its_hook_receives(manager: SessionManager, store: SqliteStore) -> None:
    first, second, old = _scripted(manager)
    with store.read() as tx:
        events = tx.session_events(second)
        raised = {old: tx.session_events(first, ["blocker_raised"])[0]}
    checked: set[str] = set()
    for n in range(1, len(events) + 1):
        event = events[n - 1]
        kind: EventKind[Any] = KINDS[event.type]
        # The session as it stood right after the event: what the hook would be given.
        session = folder_of(events[:n], foreign_blockers=raised).view()
        kwargs = kind.hook_kwargs(session, event)
        assert kwargs["session"] is session and kwargs["event"] is event
        if kind.view is not None:
            # The item built from its own event is the one the session holds.
            assert kind.find is not None and kind.view(event) == kind.find(session, event)
        if event.type == "blocker_resolved":
            assert kwargs == {"session": session, "event": event, "blocker": session.resolved_elsewhere[0],
                              "resolved": True}
            assert kwargs["blocker"].solution == "reviewed"
        if event.type == "blocker_raised":
            assert kwargs["resolved"] is False and kwargs["blocker"].text == "new blocker"
        if event.type == "goal_changed":
            assert kwargs == {"session": session, "event": event, "previous": "second"}
            assert session.goal == "second, sharper"
        if kind.item is None:
            assert set(kwargs) == {"session", "event"}
        checked.add(event.type)
    assert checked == set(KINDS)


def test_each_kind_words_its_confirmation(manager: SessionManager, store: SqliteStore) -> None:
    _, second, old = _scripted(manager)
    with store.read() as tx:
        events = tx.session_events(second)
    said = [KINDS[e.type].said(e) for e in events]
    d, e, b = (ev.data.get("id") for ev in events[2:5])
    assert said == [
        f"Started session {second} (proj) at 20%",
        "Recorded update at 40%",
        f"Recorded decision {d}",
        f"Recorded entity {e}",
        f"Raised blocker {b}",
        f"Resolved blocker {old}",
        f"Closed session {second}",
        f"Resumed session {second}",
        f"Changed the goal of session {second}",
        "Recorded update",
        f"Closed session {second}",
        f"Retracted entity {e}",
    ]
