"""Identifiers: sortable by time, readable, and unique across processes and machines."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from msp._model.ids import new_event_id, new_session_id, short_item_id
from msp._session.manager import SessionManager

SESSION_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-hjkmnp-tv-z]{8}$")


def test_session_ids_read_as_their_start_time_and_sort_by_it() -> None:
    start = datetime(2024, 3, 9, 23, 59, 58, tzinfo=UTC)
    times = [start + timedelta(seconds=s) for s in range(0, 5000, 7)]
    ids = [new_session_id(t) for t in times]
    assert all(SESSION_ID.match(i) for i in ids)
    assert ids[0].startswith("20240309-235958-")
    assert sorted(ids) == ids
    # Local times are written in UTC.
    local = datetime(2024, 3, 10, 1, 0, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert new_session_id(local).startswith("20240310-010000-")


def test_many_session_ids_in_the_same_second_are_unique() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    ids = {new_session_id(at) for _ in range(10_000)}  # 40 random bits: p(collision) < 1e-4
    assert len(ids) == 10_000


def test_event_ids_sort_by_time_and_never_collide() -> None:
    base = 1_700_000_000_000
    ids = [new_event_id(base + ms) for ms in range(0, 100_000, 37)]
    assert sorted(ids) == ids
    assert all(len(i) == 26 for i in ids)
    same_ms = {new_event_id(base) for _ in range(50_000)}
    assert len(same_ms) == 50_000
    assert new_event_id(2**48 - 1) > new_event_id(base)  # the whole 48-bit time range fits


def test_ids_from_separate_processes_do_not_collide() -> None:
    code = "from msp._model.ids import new_event_id, new_session_id; from datetime import datetime, UTC\n" \
           "at = datetime(2024, 1, 1, tzinfo=UTC)\n" \
           "print('\\n'.join(new_event_id(1) + ' ' + new_session_id(at) for _ in range(5000)))"
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(3)]
    events = [line.split()[0] for out in outs for line in out.splitlines()]
    sessions = [line.split()[1] for out in outs for line in out.splitlines()]
    assert len(set(events)) == len(events) == 15_000
    assert len(set(sessions)) == len(sessions)


def test_item_ids_are_short_prefixed_and_unique() -> None:
    ids = {short_item_id("b") for _ in range(20_000)}
    assert len(ids) == 20_000
    assert all(re.match(r"^b-[0-9a-hjkmnp-tv-z]{8}$", i) for i in ids)


def test_stored_sessions_list_in_start_order(manager: SessionManager) -> None:
    start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    made = []
    for n in range(12):
        clock = start + timedelta(minutes=n)
        m = SessionManager(manager.store, None, default_project="proj", clock=lambda c=clock: c)  # type: ignore[misc]
        made.append(m.start({}).event.session_id)
        m.end({})
    assert made == sorted(made)
    assert [s.id for s in manager.sessions(limit=None)] == made[::-1]
