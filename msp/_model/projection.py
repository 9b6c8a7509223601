"""Fold a session's events into the :class:`~msp._model.models.Session` view.

Pure: the same events always give the same view. Blocker resolutions recorded in a later
session are passed in by the caller (the store looks them up), so a view never reads the clock.
:class:`SessionFolder` keeps the fold's state, so a caller walking events in order (``msp
replay``, ``msp plan``) applies each one instead of reading the session again. What each event
type does to the view is declared with its kind in :mod:`msp._model.events`; the stores keep
the same fields and counts beside the events (see :func:`apply_fields`), which is where the
session a hook receives comes from when recording.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from msp._model.events import KINDS, resolved_blocker
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
        #: Updates of the session before the first one ``updates`` holds (a store's hook view
        #: reads only the latest; see msp._model.events.RECENT_UPDATES).
        self.earlier_updates = 0
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
        kind = KINDS.get(event.type)
        if kind is None:
            return
        self.fields.update(kind.sets(event))
        if kind.joins is not None and kind.view is not None:
            item = kind.view(event)
            if kind.joins == "blockers":
                self.blockers[event.data["id"]] = cast(Blocker, item)
            else:
                getattr(self, kind.joins).append(item)
        if kind.fold is not None:
            kind.fold(self, event, foreign_blockers)

    def knows_blocker(self, blocker_id: str) -> bool:
        return blocker_id in self.blockers

    def resolve_elsewhere(self, resolutions: Mapping[str, Event]) -> None:
        for bid, resolution in resolutions.items():
            if bid in self.blockers and self.blockers[bid].is_open:
                self.blockers[bid] = resolved_blocker(self.blockers[bid], resolution)

    def view(self, recent: int | None = None) -> Session:
        """The session as it stands; with ``recent``, holding only that many of the latest
        updates (``update_count`` still counts them all)."""
        if "id" not in self.fields or self.last_at is None:
            raise ValueError("a session's events must begin with session_started")
        updates = self.updates if recent is None else self.updates[-recent:] if recent > 0 else []
        # Items were validated as they were built; the view only gathers them.
        return Session.model_construct(
            **{**_VIEW_DEFAULTS, **self.fields},
            last_event_at=self.last_at,
            update_count=self.earlier_updates + len(self.updates),
            updates=list(updates),
            started_seq=self.started_seq,
            last_seq=self.last_seq,
            decisions=list(self.decisions),
            entities=list(self.entities),
            blockers=list(self.blockers.values()),
            resolved_elsewhere=list(self.elsewhere),
        )


_VIEW_DEFAULTS: dict[str, Any] = {
    "goal": None, "issue": None, "ended_at": None, "summary": None, "close_reason": None, "source": "cli",
    "user": None, "host": None,
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
