"""How long a session took, and how to say it. Pure: nothing here reads a clock.

A hook must not read the clock (what it plans has to be the same on every replay), so a
session's duration comes from the session's own times; the one caller that wants "until now"
(``msp status`` on an active session) passes now in.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msp._model.models import Session


def session_duration(session: Session, until: datetime | None = None) -> float:
    """Seconds from the session's start to its end: ``ended_at`` when it is closed, else
    ``until`` when given, else its last recorded moment (``last_event_at``). Never negative."""
    return seconds_between(session.started_at, session.ended_at or until or session.last_event_at)


def seconds_between(start: datetime, end: datetime) -> float:
    """Seconds from ``start`` to ``end``, never negative: a clock set back between the two
    (NTP, a laptop waking with a stale clock, a hand-edited time) makes it zero, not minus."""
    return max(0.0, (end - start).total_seconds())


def format_duration(seconds: float) -> str:
    """A duration as people write it: ``under a minute``, ``7m``, ``1h 05m``, ``26h 00m``.

    Whole minutes, rounded down; hours are not folded into days, so durations sort and compare
    by eye.
    """
    if not seconds > 0:  # negative, zero, or NaN
        return "under a minute"
    if seconds == float("inf"):
        return "forever"
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
