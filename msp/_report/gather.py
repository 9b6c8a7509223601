"""The rows a report is built from, read in one snapshot through the store interface.

Session rows with their list counts (``session_tallies``) and blocker spans (``blocker_spans``)
come from the projections the store keeps beside the events: one row per session and per
blocker, whatever the sessions hold. Only the HTML progress chart reads events: the progress
updates of the few sessions it draws (:data:`~msp._report.aggregate.SERIES_LIMIT`), at most
:data:`POINTS_PER_SESSION` each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from msp._report.aggregate import SERIES_LIMIT, series_sessions
from msp._report.window import Window
from msp._store.interface import BlockerSpan, SessionTally, Store

#: The newest progress updates read per charted session (a chart line needs no more).
POINTS_PER_SESSION = 500


@dataclass
class Rows:
    tallies: list[SessionTally]
    blockers: list[BlockerSpan]
    points: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)


def gather(store: Store, window: Window, project: str | None, *, with_points: bool) -> Rows:
    """What the report over ``window`` needs; the progress points only ``with_points``."""
    from msp._store.session_state import UPDATE_TYPES

    with store.read() as tx:
        tallies = tx.session_tallies(window.since, window.until, project)
        blockers = tx.blocker_spans(window.since, window.until, project)
        points: dict[str, list[tuple[datetime, int]]] = {}
        if with_points:
            for session_id in series_sessions(tallies, SERIES_LIMIT):
                events = tx.session_events(session_id, UPDATE_TYPES, limit=POINTS_PER_SESSION, newest_first=True)
                points[session_id] = [(e.at, int(e.data["progress"])) for e in reversed(events)
                                      if isinstance(e.data.get("progress"), int)]
    return Rows(tallies, blockers, points)
