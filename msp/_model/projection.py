"""Fold a session's events into the :class:`~msp._model.models.Session` view.

Pure: the same events always give the same view. Blocker resolutions recorded in a later
session are passed in by the caller (the store looks them up), so a view never reads the clock.
:class:`SessionFolder` keeps the fold's state, so a long-lived process (the MCP server, the
Python API) can apply each new event instead of reading the whole session again. What each
event type does to the view is declared with its kind in :mod:`msp._model.events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from msp._model.events import FOLDS, resolved_blocker
from msp._model.models import Blocker, Decision, Entity, Event, Session, Update


class SessionFolder:
    """The running fold of one session's events."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.updates: list[Update] = []
        self.decisions: list[Decision] = []
        self.entities: list[Entity] = []
        self.blockers: dict[str, Blocker] = {}
        self.elsewhere: list[Blocker] = []
        self.last_at: Any = None
        self.started_seq: int | None = None
        self.last_seq: int | None = None
        self.count = 0

    def apply(self, event: Event, foreign_blockers: Mapping[str, Event] | None = None) -> None:
        self.last_at = event.at
        self.last_seq = event.seq
        if event.type == "session_started":
            self.started_seq = event.seq
        self.count += 1
        # What the event means is its kind's business; an unknown type only counts.
        fold_event = FOLDS.get(event.type)
        if fold_event is not None:
            fold_event(self, event, foreign_blockers)

    def knows_blocker(self, blocker_id: str) -> bool:
        return blocker_id in self.blockers

    def resolve_elsewhere(self, resolutions: Mapping[str, Event]) -> None:
        for bid, resolution in resolutions.items():
            if bid in self.blockers and self.blockers[bid].is_open:
                self.blockers[bid] = resolved_blocker(self.blockers[bid], resolution)

    def view(self) -> Session:
        if "id" not in self.fields or self.last_at is None:
            raise ValueError("a session's events must begin with session_started")
        # Items were validated as they were built; the view only gathers them.
        return Session.model_construct(
            **{**_VIEW_DEFAULTS, **self.fields},
            last_event_at=self.last_at,
            started_seq=self.started_seq,
            last_seq=self.last_seq,
            updates=list(self.updates),
            decisions=list(self.decisions),
            entities=list(self.entities),
            blockers=list(self.blockers.values()),
            resolved_elsewhere=list(self.elsewhere),
        )


_VIEW_DEFAULTS: dict[str, Any] = {
    "goal": None, "issue": None, "ended_at": None, "summary": None, "close_reason": None, "source": "cli",
}


def fold(
    events: Iterable[Event],
    resolutions: Mapping[str, Event] | None = None,
    foreign_blockers: Mapping[str, Event] | None = None,
) -> Session:
    """Build the view of one session.

    ``resolutions`` maps blocker ids of this session to ``blocker_resolved`` events recorded in
    other sessions; ``foreign_blockers`` maps blocker ids resolved in this session but raised
    in another one to their ``blocker_raised`` events.
    """
    return folder_of(events, resolutions, foreign_blockers).view()


def folder_of(
    events: Iterable[Event],
    resolutions: Mapping[str, Event] | None = None,
    foreign_blockers: Mapping[str, Event] | None = None,
) -> SessionFolder:
    folder = SessionFolder()
    for event in events:
        folder.apply(event, foreign_blockers)
    folder.resolve_elsewhere(resolutions or {})
    return folder
