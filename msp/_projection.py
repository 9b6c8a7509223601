"""Fold a session's events into the :class:`~msp._models.Session` view.

Pure: the same events always give the same view. Blocker resolutions recorded in a later
session are passed in by the caller (the store looks them up), so a view never reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._models import Blocker, Decision, Entity, Event, Session, Update


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
    fields: dict[str, Any] = {}
    updates: list[Update] = []
    decisions: list[Decision] = []
    entities: list[Entity] = []
    blockers: dict[str, Blocker] = {}
    elsewhere: list[Blocker] = []
    last_at = None
    for event in events:
        d = event.data
        last_at = event.at
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
            updates.append(
                Update(id=event.id, at=event.at, text=d["text"], progress=d.get("progress"), tags=d.get("tags", []))
            )
            if d.get("progress") is not None:
                fields["progress"] = d["progress"]
        elif event.type == "decision_recorded":
            decisions.append(
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
            entities.append(
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
            blockers[d["id"]] = blocker_from_event(event)
        elif event.type == "blocker_resolved":
            bid = d["blocker_id"]
            if bid in blockers:
                blockers[bid] = _resolved(blockers[bid], event)
            elif foreign_blockers and bid in foreign_blockers:
                elsewhere.append(_resolved(blocker_from_event(foreign_blockers[bid]), event))
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
    if "id" not in fields or last_at is None:
        raise ValueError("a session's events must begin with session_started")
    for bid, resolution in (resolutions or {}).items():
        if bid in blockers and blockers[bid].is_open:
            blockers[bid] = _resolved(blockers[bid], resolution)
    return Session(
        **fields,
        last_event_at=last_at,
        updates=updates,
        decisions=decisions,
        entities=entities,
        blockers=list(blockers.values()),
        resolved_elsewhere=elsewhere,
    )


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
