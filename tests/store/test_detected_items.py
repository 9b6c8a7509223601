"""Detected items and retractions in the store, on every backend: an update and the items
detected in it commit together; a retraction marks its item in the item's own session, the
projection the hooks read still equals the fold, and a retracted blocker leaves the open ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from msp._model.detect import DEFAULT_RULES
from msp._session.manager import SessionManager
from msp._store.interface import Store
from msp.errors import InvalidInput, ItemNotFound

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
TEXT = ("Decided to use advisory locks because FOR UPDATE deadlocked. Blocked by the missing staging creds; "
        "touched msp/_store/sqlite.py and `SessionManager`.")


def _manager(store: Store) -> SessionManager:
    clock = (T0 + timedelta(seconds=i) for i in range(1_000_000))
    return SessionManager(store, None, default_project="p", clock=lambda: next(clock), detect=DEFAULT_RULES)


def test_an_update_and_its_detected_items_are_one_command(store: Store) -> None:
    manager = _manager(store)
    sid = manager.start({}).event.session_id
    rec = manager.update({"text": TEXT, "progress": 30})
    assert [e.type for e in rec.detected] == ["decision_recorded", "blocker_raised", "entity_recorded",
                                              "entity_recorded"]
    assert all(e.data["detected"] is True and e.data["from_update"] == rec.event.id for e in rec.detected)
    session = manager.get()
    (decision,) = session.decisions
    assert (decision.text, decision.rationale, decision.detected) == (
        "Decided to use advisory locks", "FOR UPDATE deadlocked", True)
    assert decision.from_update == rec.event.id
    assert [b.text for b in session.open_blockers] == ["Blocked by the missing staging creds"]
    assert {(e.name, e.type) for e in session.entities} == {("msp/_store/sqlite.py", "file"),
                                                            ("SessionManager", "class")}
    assert rec.session is not None and rec.session.event_count == 6  # start, update and four items
    # The same entities named again are not recorded twice; --no-detect records the update alone.
    again = manager.update({"text": "More on `SessionManager` in msp/_store/sqlite.py"})
    assert again.detected == []
    alone = manager.update({"text": "Decided nothing new, blocked by nothing"}, detect=False)
    assert alone.detected == []
    with store.read() as tx:
        assert [b.id for b in tx.open_blockers("p")] == [session.open_blockers[0].id]
        assert tx.hook_session(sid, 5).model_dump() == tx.load_folder(sid).view(5).model_dump()


def test_a_dry_run_detects_and_stores_nothing(store: Store) -> None:
    manager = _manager(store)
    manager.start({})
    rec = manager.update({"text": TEXT}, dry_run=True)
    assert rec.dry_run and len(rec.detected) == 4
    with store.read() as tx:
        assert tx.count_events() == 1


def test_retract_marks_the_item_in_its_own_session_and_the_counts_hold(store: Store) -> None:
    manager = _manager(store)
    first = manager.start({}).event.session_id
    rec = manager.update({"text": TEXT})
    decision, blocker = (e.data["id"] for e in rec.detected[:2])
    manager.end({})
    second = manager.start({}).event.session_id
    took = manager.retract({"item": blocker, "reason": "creds arrived"})
    assert took.event.session_id == first and took.event.type == "item_retracted"
    manager.retract({"item": decision[2:]})  # a unique part of the id
    with store.read() as tx:
        assert tx.open_blockers("p") == []
        for sid in (first, second):
            assert tx.hook_session(sid, 3).model_dump() == tx.load_folder(sid).view(3).model_dump()
        old = tx.load_session(first)
        row = tx.session_row(first)
    assert old.status == "closed" and old.open_blockers == []
    assert len(old.decisions) == 1 and old.decisions[0].is_retracted
    assert old.blockers[0].retraction == "creds arrived" and old.blockers[0].is_retracted
    assert not old.entities[0].is_retracted
    assert row is not None and row.status == "closed"
    with pytest.raises(InvalidInput, match="already retracted"):
        manager.retract({"item": decision})
    with pytest.raises(ItemNotFound):
        manager.retract({"item": "zzzzzz"})
    with pytest.raises(ItemNotFound):
        manager.retract({"item": "b-"})  # under three characters: never a guess


def test_a_part_of_an_id_shared_by_several_items_is_refused_with_the_list(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from msp._session import manager as module

    numbers = iter(range(3))
    monkeypatch.setattr(module, "short_item_id", lambda prefix: f"{prefix}-abcd000{next(numbers)}")
    manager = _manager(store)
    manager.start({})
    ids = [manager.decide({"text": f"d{i}"}).event.data["id"] for i in range(3)]
    with pytest.raises(InvalidInput, match="matches 3 items") as caught:
        manager.retract({"item": "abcd"})
    assert all(i in str(caught.value.hint) for i in ids)
    manager.retract({"item": "abcd0001"})
    assert [d.is_retracted for d in manager.get().decisions] == [False, True, False]
