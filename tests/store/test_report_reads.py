"""The reads a report aggregates: sessions with their list counts and blockers with their spans,
both over a time window, from the projections (never a session's events). Runs on every store
backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from msp._session.manager import SessionManager
from msp._store.interface import Store
from tests.store.backends import Backend

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorded(store: Store, clock: Clock) -> Iterator[dict[str, Any]]:
    """Three sessions over three days, two projects; a blocker of the first resolved in the
    second, one left open, one raised and resolved inside the third."""
    alpha = SessionManager(store, None, default_project="alpha", source="api", clock=clock)
    beta = SessionManager(store, None, default_project="beta", source="api", clock=clock)
    first = alpha.start({"goal": "one", "progress": 10}).event.session_id
    old = alpha.block({"text": "waiting on review"}).event.data["id"]
    alpha.update({"text": "a", "progress": 20})
    alpha.decide({"text": "use sqlite"})
    alpha.end({})
    clock.at(T0 + timedelta(days=1))
    second = alpha.start({"goal": "two", "issue": "ENG-1"}).event.session_id
    alpha.resolve({"blocker": old, "solution": "reviewed"})
    still = alpha.block({"text": "no test data"}).event.data["id"]
    alpha.decide({"text": "a"})
    alpha.decide({"text": "b"})
    alpha.end({"progress": 60})
    clock.at(T0 + timedelta(days=2))
    third = beta.start({}).event.session_id
    quick = beta.block({"text": "flaky CI"}).event.data["id"]
    beta.resolve({"blocker": quick})
    beta.entity({"name": "msp/_report"})
    yield {"first": first, "second": second, "third": third, "old": old, "still": still, "quick": quick}


def test_session_tallies_carry_counts_from_the_projection(store: Store, recorded: dict[str, Any]) -> None:
    with store.read() as tx:
        tallies = tx.session_tallies()
    assert [t.row.id for t in tallies] == [recorded["first"], recorded["second"], recorded["third"]]
    first, second, third = tallies
    assert first.counts == {"updates": 1, "decisions": 1, "entities": 0, "blockers": 1}
    assert second.counts == {"updates": 0, "decisions": 2, "entities": 0, "blockers": 1}
    assert third.counts == {"updates": 0, "decisions": 0, "entities": 1, "blockers": 1}
    assert (second.row.start_progress, second.row.progress, second.row.issue) == (20, 60, "ENG-1")
    assert third.row.status == "active" and first.row.ended_at is not None


def test_session_tallies_keep_to_the_window_and_project(store: Store, recorded: dict[str, Any],
                                                        clock: Clock) -> None:
    day = timedelta(days=1)
    with store.read() as tx:
        second_day = tx.session_tallies(T0 + day, T0 + 2 * day)
        only_beta = tx.session_tallies(project="beta")
        before_any = tx.session_tallies(T0 - 2 * day, T0 - day)
        # The active session overlaps any window after its start, however old its last event.
        much_later = tx.session_tallies(T0 + 30 * day, T0 + 31 * day)
        # A session whose last event comes before the window is left out; one starting at its
        # end is too (the window is half-open).
        first_day = tx.session_tallies(T0, T0 + day)
    assert [t.row.id for t in second_day] == [recorded["second"]]
    assert [t.row.id for t in only_beta] == [recorded["third"]]
    assert before_any == []
    assert [t.row.id for t in much_later] == [recorded["third"]]
    assert [t.row.id for t in first_day] == [recorded["first"]]


def test_blocker_spans_say_when_each_was_open(store: Store, recorded: dict[str, Any]) -> None:
    day = timedelta(days=1)
    with store.read() as tx:
        every = {b.id: b for b in tx.blocker_spans()}
        on_day_three = [b.id for b in tx.blocker_spans(T0 + 2 * day, T0 + 3 * day)]
        on_day_one = [b.id for b in tx.blocker_spans(T0, T0 + day)]
        beta = [b.id for b in tx.blocker_spans(project="beta")]
    old, still, quick = every[recorded["old"]], every[recorded["still"]], every[recorded["quick"]]
    assert old.session_id == recorded["first"] and old.resolved_in == recorded["second"]
    assert old.resolved_at is not None and old.raised_at < old.resolved_at
    assert old.resolved_at >= T0 + day and old.project == "alpha"
    assert still.resolved_at is None and still.resolved_in is None
    assert quick.resolved_in == recorded["third"]
    # Day three: the one still open and the one raised and resolved that day; not the one
    # resolved on day two.
    assert on_day_three == [recorded["still"], recorded["quick"]]
    assert on_day_one == [recorded["old"]]
    assert beta == [recorded["quick"]]


def test_a_row_from_before_the_projection_is_counted_by_folding(store: Store, recorded: dict[str, Any],
                                                                backend: Backend, project_dir: Any) -> None:
    with store.read() as tx:
        expected = [t.counts for t in tx.session_tallies()]
    spec = backend.project_spec(project_dir)
    if backend.server is None:
        import sqlite3

        db = sqlite3.connect(spec)
        db.execute("UPDATE sessions SET state = NULL")
        db.commit()
        db.close()
    else:
        import psycopg

        with psycopg.connect(spec) as conn:
            conn.execute("UPDATE sessions SET state = NULL")
    with store.read() as tx:
        assert [t.counts for t in tx.session_tallies()] == expected


def test_state_counts_read_the_counts_however_the_state_was_written() -> None:
    from msp._store.session_state import encode_state, state_counts

    written = encode_state({"fields": {"goal": '{"counts": {"updates": 99}}'}, "counts": {"updates": 3, "blockers": 1}})
    assert state_counts(written) == {"updates": 3, "decisions": 0, "entities": 0, "blockers": 1}
    compact = '{"counts":{"decisions":2},"fields":{}}'  # as SQLite's json_set leaves it
    reordered = '{"fields": {"goal": "x"}, "counts": {"entities": 4}}'
    assert state_counts(compact)["decisions"] == 2 and state_counts(reordered)["entities"] == 4
