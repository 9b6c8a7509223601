"""Fold a session's events into the :class:`~msp._model.models.Session` view.

Pure: the same events always give the same view. Blocker resolutions recorded in a later
session are passed in by the caller (the store looks them up), so a view never reads the clock.
:class:`SessionFolder` keeps the fold's state, so a long-lived process (the MCP server, the
Python API) can apply each new event instead of reading the whole session again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
        self.count = 0

    def apply(self, event: Event, foreign_blockers: Mapping[str, Event] | None = None) -> None:
        d = event.data
        self.last_at = event.at
        self.count += 1
        fields = self.fields
        if event.type == "session_started":
            fields.update(
                id=event.session_id,
                project=event.project,
                status="active",
                goal=d.get("goal"),
                issue=d.get("issue"),
                started_at=event.at,
                start_progress=d["progress"],
                progress=d["progress"],
                source=event.source,
            )
        elif event.type == "progress_updated":
            self.updates.append(
                Update(id=event.id, at=event.at, text=d["text"], progress=d.get("progress"), tags=d.get("tags", []))
            )
            if d.get("progress") is not None:
                fields["progress"] = d["progress"]
        elif event.type == "decision_recorded":
            self.decisions.append(
                Decision(
                    id=d["id"],
                    at=event.at,
                    text=d["text"],
                    rationale=d.get("rationale"),
                    alternatives=d.get("alternatives", []),
                    impact=d.get("impact"),
                    category=d.get("category"),
                )
            )
        elif event.type == "entity_recorded":
            self.entities.append(
                Entity(
                    id=d["id"],
                    at=event.at,
                    name=d["name"],
                    type=d.get("type"),
                    path=d.get("path"),
                    description=d.get("description"),
                )
            )
        elif event.type == "blocker_raised":
            self.blockers[d["id"]] = blocker_from_event(event)
        elif event.type == "blocker_resolved":
            bid = d["blocker_id"]
            if bid in self.blockers:
                self.blockers[bid] = _resolved(self.blockers[bid], event)
            elif foreign_blockers and bid in foreign_blockers:
                self.elsewhere.append(_resolved(blocker_from_event(foreign_blockers[bid]), event))
        elif event.type == "session_resumed":
            fields["status"] = "active"
            fields["ended_at"] = None
            fields["close_reason"] = None
        elif event.type == "session_closed":
            fields["status"] = "closed"
            fields["ended_at"] = event.at
            fields["summary"] = d.get("summary")
            fields["close_reason"] = d.get("reason", "ended")
            if d.get("progress") is not None:
                fields["progress"] = d["progress"]

    def knows_blocker(self, blocker_id: str) -> bool:
        return blocker_id in self.blockers

    def resolve_elsewhere(self, resolutions: Mapping[str, Event]) -> None:
        for bid, resolution in resolutions.items():
            if bid in self.blockers and self.blockers[bid].is_open:
                self.blockers[bid] = _resolved(self.blockers[bid], resolution)

    def view(self) -> Session:
        if "id" not in self.fields or self.last_at is None:
            raise ValueError("a session's events must begin with session_started")
        # Items were validated as they were built; the view only gathers them.
        return Session.model_construct(
            **{**_VIEW_DEFAULTS, **self.fields},
            last_event_at=self.last_at,
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


def blocker_from_event(event: Event) -> Blocker:
    d = event.data
    return Blocker(
        id=d["id"],
        at=event.at,
        text=d["text"],
        category=d.get("category"),
        severity=d.get("severity"),
        session_id=event.session_id,
    )


def _resolved(blocker: Blocker, event: Event) -> Blocker:
    return blocker.model_copy(
        update={"resolved_at": event.at, "solution": event.data.get("solution"), "resolved_in": event.session_id}
    )
