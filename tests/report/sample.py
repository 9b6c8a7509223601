"""A few days of recorded work, through the real session manager, for the report's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msp._model.identity import Engineer
from msp._session.manager import SessionManager
from msp._store.interface import Store

#: The sample's projects: their colours are what the Chromium test looks for.
PROJECTS = ("alpha", "beta")


class Clock:
    """A clock the sample sets by hand; each reading moves it on a second."""

    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when


def record(store: Store, now: datetime) -> dict[str, Any]:
    """Four closed sessions over the three UTC days before ``now``'s: one crosses midnight, a
    blocker raised on the first day is resolved on the second, another stays open."""
    day0 = (now.astimezone(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = Clock(day0)
    # Two engineers, so a report by user has two groups.
    alpha = SessionManager(store, None, default_project="alpha", source="api", clock=clock,
                           engineer=Engineer("ada", "laptop"))
    beta = SessionManager(store, None, default_project="beta", source="api", clock=clock,
                          engineer=Engineer("grace", "desk"))

    def at(day: int, hour: float) -> None:
        clock.at(day0 + timedelta(days=day, hours=hour))

    at(0, 8)
    alpha.start({"goal": "map the <charge> & \"flow\"", "issue": "ENG-1", "progress": 0})
    at(0, 9)
    alpha.update({"text": "mapped it", "progress": 20})
    at(0, 10.5)
    alpha.update({"text": "more", "progress": 45})
    alpha.decide({"text": "use sqlite"})
    review = alpha.block({"text": "waiting on review"}).event.data["id"]
    at(0, 12)
    alpha.end({})
    at(1, 13)
    beta.start({"goal": "ship <b>it</b>", "progress": 10})
    at(1, 14)
    beta.update({"text": "half", "progress": 30})
    at(1, 15)
    beta.update({"text": "most", "progress": 60})
    beta.block({"text": "flaky CI"})
    at(1, 16)
    beta.end({})
    at(1, 22)
    alpha.start({"goal": "finish", "issue": "ENG-1"})
    alpha.resolve({"blocker": review, "solution": "approved"})
    alpha.update({"text": "late", "progress": 70})
    alpha.decide({"text": "a"})
    at(2, 1)
    alpha.end({})
    at(2, 9)
    beta.start({"progress": 60})
    at(2, 11)
    beta.update({"text": "done", "progress": 90})
    beta.end({})
    return {"day0": day0}
