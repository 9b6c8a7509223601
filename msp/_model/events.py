"""What each event type means, declared once.

An :class:`EventKind` gathers everything the core knows about one event type: the input model
its command is validated through, the hook it fires and how the new item is passed to it, how
it folds into a session's view, how its item is built and found, and the line that confirms it.
The fold (:class:`~msp._model.projection.SessionFolder`), the session manager's hook calls
(recording, ``msp plan``, ``msp replay``), the recall view and the CLI and MCP confirmations all
read :data:`KINDS`; none of them branches on event types itself.

Adding an event type means adding it to :data:`~msp._model.models.EventType`, writing one
declaration here (and its hookspec and documentation, when it fires a new hook).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from msp._model.models import (
    Blocker,
    BlockerInput,
    Decision,
    DecisionInput,
    EndInput,
    Entity,
    EntityInput,
    Event,
    EventType,
    ResolveInput,
    Session,
    StartInput,
    Update,
    UpdateInput,
)

if TYPE_CHECKING:
    from msp._model.projection import SessionFolder

InputT = TypeVar("InputT", bound=BaseModel)

#: Folds one event into the running state of its session. The mapping holds ``blocker_raised``
#: events of other sessions, by blocker id, for resolutions recorded here (may be None).
Fold = Callable[["SessionFolder", Event, "Mapping[str, Event] | None"], None]


@dataclass(frozen=True, slots=True)
class EventKind(Generic[InputT]):
    """One event type's meaning. Every field is required: a part that does not apply is
    declared ``None`` on purpose, never left out by accident."""

    name: EventType
    #: The model a command's input is validated through; None when no command takes input
    #: for it (the core makes it from state, e.g. ``session_resumed``).
    input: type[InputT] | None
    #: The hook the event fires; None when integrations are not told.
    hook: str | None
    #: The keyword the hook receives the new item under; None when the session is the item.
    item: str | None
    #: Further keyword arguments of the hook call, fixed for this type.
    extra: Mapping[str, Any]
    fold: Fold
    #: Builds the item view from the event alone; None when the event has no item of its own
    #: (a resolution completes an item raised earlier, perhaps in another session).
    view: Callable[[Event], BaseModel] | None
    #: The item as the session holds it once the event is folded: what the hook receives.
    find: Callable[[Session, Event], Any] | None
    #: The one line that confirms the event to the person who recorded it.
    said: Callable[[Event], str]

    def hook_kwargs(self, session: Session, event: Event) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"session": session, "event": event}
        if self.item is not None and self.find is not None:
            kwargs[self.item] = self.find(session, event)
        kwargs.update(self.extra)
        return kwargs


# --- session_started -------------------------------------------------------------------------


def _fold_started(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    d = event.data
    state.fields.update(
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


SESSION_STARTED: EventKind[StartInput] = EventKind(
    name="session_started",
    input=StartInput,
    hook="msp_session_start",
    item=None,
    extra={},
    fold=_fold_started,
    view=None,
    find=None,
    said=lambda e: f"Started session {e.session_id} ({e.project}) at {e.data['progress']}%",
)


# --- progress_updated ------------------------------------------------------------------------


def update_view(event: Event) -> Update:
    d = event.data
    return Update(id=event.id, at=event.at, text=d["text"], progress=d.get("progress"), tags=d.get("tags", []))


def _fold_update(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    state.updates.append(update_view(event))
    progress = event.data.get("progress")
    if progress is not None:
        state.fields["progress"] = progress


def _said_update(event: Event) -> str:
    progress = event.data.get("progress")
    return "Recorded update" + (f" at {progress}%" if progress is not None else "")


PROGRESS_UPDATED: EventKind[UpdateInput] = EventKind(
    name="progress_updated",
    input=UpdateInput,
    hook="msp_update",
    item="update",
    extra={},
    fold=_fold_update,
    view=update_view,
    # An update's id is its event's: it has no id of its own in the data.
    find=lambda s, e: next(u for u in reversed(s.updates) if u.id == e.id),
    said=_said_update,
)


# --- decision_recorded -----------------------------------------------------------------------


def decision_view(event: Event) -> Decision:
    d = event.data
    return Decision(
        id=d["id"],
        at=event.at,
        text=d["text"],
        rationale=d.get("rationale"),
        alternatives=d.get("alternatives", []),
        impact=d.get("impact"),
        category=d.get("category"),
    )


def _fold_decision(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    state.decisions.append(decision_view(event))


DECISION_RECORDED: EventKind[DecisionInput] = EventKind(
    name="decision_recorded",
    input=DecisionInput,
    hook="msp_decision",
    item="decision",
    extra={},
    fold=_fold_decision,
    view=decision_view,
    find=lambda s, e: next(x for x in reversed(s.decisions) if x.id == e.data["id"]),
    said=lambda e: f"Recorded decision {e.data['id']}",
)


# --- entity_recorded -------------------------------------------------------------------------


def entity_view(event: Event) -> Entity:
    d = event.data
    return Entity(
        id=d["id"],
        at=event.at,
        name=d["name"],
        type=d.get("type"),
        path=d.get("path"),
        description=d.get("description"),
    )


def _fold_entity(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    state.entities.append(entity_view(event))


ENTITY_RECORDED: EventKind[EntityInput] = EventKind(
    name="entity_recorded",
    input=EntityInput,
    hook="msp_entity",
    item="entity",
    extra={},
    fold=_fold_entity,
    view=entity_view,
    find=lambda s, e: next(x for x in reversed(s.entities) if x.id == e.data["id"]),
    said=lambda e: f"Recorded entity {e.data['id']}",
)


# --- blocker_raised and blocker_resolved -------------------------------------------------------


def blocker_view(event: Event) -> Blocker:
    """The blocker a ``blocker_raised`` event opened, still open."""
    d = event.data
    return Blocker(
        id=d["id"],
        at=event.at,
        text=d["text"],
        category=d.get("category"),
        severity=d.get("severity"),
        session_id=event.session_id,
    )


def resolved_blocker(blocker: Blocker, resolution: Event) -> Blocker:
    """``blocker`` as a ``blocker_resolved`` event (of any session) left it."""
    return blocker.model_copy(
        update={"resolved_at": resolution.at, "solution": resolution.data.get("solution"),
                "resolved_in": resolution.session_id}
    )


def _fold_blocker_raised(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    state.blockers[event.data["id"]] = blocker_view(event)


def _fold_blocker_resolved(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    bid = event.data["blocker_id"]
    if bid in state.blockers:
        state.blockers[bid] = resolved_blocker(state.blockers[bid], event)
    elif foreign and bid in foreign:
        state.elsewhere.append(resolved_blocker(blocker_view(foreign[bid]), event))


def _find_blocker(blocker_id: str, session: Session) -> Blocker:
    # A blocker raised in an earlier session and resolved in this one is in resolved_elsewhere.
    return [b for b in (*session.blockers, *session.resolved_elsewhere) if b.id == blocker_id][-1]


BLOCKER_RAISED: EventKind[BlockerInput] = EventKind(
    name="blocker_raised",
    input=BlockerInput,
    hook="msp_blocker",
    item="blocker",
    extra={"resolved": False},
    fold=_fold_blocker_raised,
    view=blocker_view,
    find=lambda s, e: _find_blocker(e.data["id"], s),
    said=lambda e: f"Raised blocker {e.data['id']}",
)

BLOCKER_RESOLVED: EventKind[ResolveInput] = EventKind(
    name="blocker_resolved",
    input=ResolveInput,
    hook="msp_blocker",
    item="blocker",
    extra={"resolved": True},
    fold=_fold_blocker_resolved,
    view=None,
    find=lambda s, e: _find_blocker(e.data["blocker_id"], s),
    said=lambda e: f"Resolved blocker {e.data['blocker_id']}",
)


# --- session_resumed and session_closed --------------------------------------------------------


def _fold_resumed(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    state.fields.update(status="active", ended_at=None, close_reason=None)


def _fold_closed(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    d = event.data
    fields = state.fields
    fields["status"] = "closed"
    fields["ended_at"] = event.at
    fields["summary"] = d.get("summary")
    fields["close_reason"] = d.get("reason", "ended")
    if d.get("progress") is not None:
        fields["progress"] = d["progress"]


# Made by `msp recover SESSION` (no input of its own). It fires no hook: no hookspec exists
# for it, and integrations next hear of the session when it closes.
SESSION_RESUMED: EventKind[BaseModel] = EventKind(
    name="session_resumed",
    input=None,
    hook=None,
    item=None,
    extra={},
    fold=_fold_resumed,
    view=None,
    find=None,
    said=lambda e: f"Resumed session {e.session_id}",
)

SESSION_CLOSED: EventKind[EndInput] = EventKind(
    name="session_closed",
    input=EndInput,
    hook="msp_session_close",
    item=None,
    extra={},
    fold=_fold_closed,
    view=None,
    find=None,
    said=lambda e: f"Closed session {e.session_id}",
)


# --- the registry ------------------------------------------------------------------------------

KINDS: dict[str, EventKind[Any]] = {
    kind.name: kind
    for kind in (
        SESSION_STARTED, PROGRESS_UPDATED, DECISION_RECORDED, ENTITY_RECORDED,
        BLOCKER_RAISED, BLOCKER_RESOLVED, SESSION_RESUMED, SESSION_CLOSED,
    )
}

#: What the fold dispatches on: one dict lookup per event, no attribute access on the kind.
FOLDS: dict[str, Fold] = {name: kind.fold for name, kind in KINDS.items()}

#: The hook each event type fires.
HOOKS_BY_EVENT: dict[str, str] = {name: kind.hook for name, kind in KINDS.items() if kind.hook is not None}
