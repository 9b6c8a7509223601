"""What each event type means, declared once.

An :class:`EventKind` gathers everything the core knows about one event type: the input model
its command is validated through, the hook it fires and how the new item is passed to it, what
it does to the session (the fields it sets, the list its item joins, anything further it
folds), how its item is built and found, and the line that confirms it. The fold
(:class:`~msp._model.projection.SessionFolder`), the stored projection every store backend
keeps beside the events (the session's fields and counts, the project's blocker index), the
session manager's hook calls (recording, ``msp plan``, ``msp replay``), the recall view and the
CLI and MCP confirmations all read :data:`KINDS`; none of them branches on event types itself.

Adding an event type means adding it to :data:`~msp._model.models.EventType`, writing one
declaration here (and its hookspec and documentation, when it fires a new hook).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from msp._model.models import (
    Blocker,
    BlockerInput,
    Commit,
    Decision,
    DecisionInput,
    EndInput,
    Entity,
    EntityInput,
    Event,
    EventType,
    GoalInput,
    ResolveInput,
    RetractInput,
    Session,
    StartInput,
    Update,
    UpdateInput,
)

if TYPE_CHECKING:
    from msp._model.projection import SessionFolder

InputT = TypeVar("InputT", bound=BaseModel)

#: Folds what ``sets`` and ``joins`` do not say into the running state of its session. The
#: mapping holds ``blocker_raised`` events of other sessions, by blocker id, for resolutions
#: recorded here (may be None).
Fold = Callable[["SessionFolder", Event, "Mapping[str, Event] | None"], None]
#: The session's lists an item can join; each has a count in the stored projection.
Collection = Literal["updates", "decisions", "entities", "blockers"]
COLLECTIONS: tuple[Collection, ...] = ("updates", "decisions", "entities", "blockers")


def _sets_nothing(event: Event) -> dict[str, Any]:
    return {}


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
    #: The session fields the event sets (the view's scalar fields, ``Session``'s names). The
    #: fold applies them, and every store backend keeps them in its session projection, so a
    #: hook's session needs no re-fold of the events. Time values are datetimes.
    sets: Callable[[Event], dict[str, Any]]
    #: The session list the item (``view(event)``) joins; None when it joins none. The store
    #: counts each list, and indexes the project's blockers from ``blockers``.
    joins: Collection | None
    #: The blocker id the event resolves (the store's blocker index); None when it resolves none.
    resolves: Callable[[Event], str] | None
    #: The item the event takes back, as (kind, item id) with kind ``decision``, ``entity`` or
    #: ``blocker``; None when it takes back none. A retracted blocker leaves the store's blocker
    #: index of open blockers, and the hook receives the kind as ``kind``.
    retracts: Callable[[Event], tuple[str, str]] | None
    #: What else the event does to the folded state; None when ``sets`` and ``joins`` say it all.
    fold: Fold | None
    #: Whether the hook receives the whole session (every update), not the recent window of
    #: updates (:data:`RECENT_UPDATES`) every other hook receives. It fires once per session.
    whole: bool
    #: Builds the item view from the event alone; None when the event has no item of its own
    #: (a resolution completes an item raised earlier, perhaps in another session).
    view: Callable[[Event], BaseModel] | None
    #: The item as the session holds it once the event is folded: what the hook receives.
    find: Callable[[Session, Event], Any] | None
    #: The one line that confirms the event to the person who recorded it.
    said: Callable[[Event], str]

    def hook_kwargs(self, session: Session, event: Event) -> dict[str, Any]:
        """The hook's keyword arguments (without ``config``), from the session as it stands."""
        kwargs: dict[str, Any] = {"session": session, "event": event}
        if self.item is not None and self.find is not None:
            kwargs[self.item] = self.find(session, event)
        if self.retracts is not None:
            kwargs["kind"] = self.retracts(event)[0]
        kwargs.update(self.extra)
        return kwargs


# --- session_started -------------------------------------------------------------------------


def _sets_started(event: Event) -> dict[str, Any]:
    d = event.data
    return {
        "id": event.session_id,
        "project": event.project,
        "status": "active",
        "goal": d.get("goal"),
        "issue": d.get("issue"),
        "started_at": event.at,
        "start_progress": d["progress"],
        "progress": d["progress"],
        "source": event.source,
        # Who it belongs to (msp._model.identity); absent from events recorded before engineers.
        "user": d.get("user"),
        "host": d.get("host"),
    }


SESSION_STARTED: EventKind[StartInput] = EventKind(
    name="session_started",
    input=StartInput,
    hook="msp_session_start",
    item=None,
    extra={},
    sets=_sets_started,
    joins=None,
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
    view=None,
    find=None,
    said=lambda e: f"Started session {e.session_id} ({e.project}) at {e.data['progress']}%",
)


# --- progress_updated ------------------------------------------------------------------------


def update_view(event: Event) -> Update:
    d = event.data
    commit = d.get("commit")
    return Update(id=event.id, at=event.at, text=d["text"], progress=d.get("progress"), tags=d.get("tags", []),
                  commit=Commit(**commit) if commit else None)


def _sets_update(event: Event) -> dict[str, Any]:
    progress = event.data.get("progress")
    return {} if progress is None else {"progress": progress}


def _said_update(event: Event) -> str:
    progress = event.data.get("progress")
    return "Recorded update" + (f" at {progress}%" if progress is not None else "")


PROGRESS_UPDATED: EventKind[UpdateInput] = EventKind(
    name="progress_updated",
    input=UpdateInput,
    hook="msp_update",
    item="update",
    extra={},
    sets=_sets_update,
    joins="updates",
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
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
        detected=d.get("detected", False),
        from_update=d.get("from_update"),
    )


DECISION_RECORDED: EventKind[DecisionInput] = EventKind(
    name="decision_recorded",
    input=DecisionInput,
    hook="msp_decision",
    item="decision",
    extra={},
    sets=_sets_nothing,
    joins="decisions",
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
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
        detected=d.get("detected", False),
        from_update=d.get("from_update"),
    )


ENTITY_RECORDED: EventKind[EntityInput] = EventKind(
    name="entity_recorded",
    input=EntityInput,
    hook="msp_entity",
    item="entity",
    extra={},
    sets=_sets_nothing,
    joins="entities",
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
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
        detected=d.get("detected", False),
        from_update=d.get("from_update"),
    )


def resolved_blocker(blocker: Blocker, resolution: Event) -> Blocker:
    """``blocker`` as a ``blocker_resolved`` event (of any session) left it."""
    return blocker.model_copy(
        update={"resolved_at": resolution.at, "solution": resolution.data.get("solution"),
                "resolved_in": resolution.session_id}
    )


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
    sets=_sets_nothing,
    joins="blockers",
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
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
    sets=_sets_nothing,
    joins=None,
    resolves=lambda e: str(e.data["blocker_id"]),
    retracts=None,
    fold=_fold_blocker_resolved,
    whole=False,
    view=None,
    find=lambda s, e: _find_blocker(e.data["blocker_id"], s),
    said=lambda e: f"Resolved blocker {e.data['blocker_id']}",
)


# --- session_resumed and session_closed --------------------------------------------------------


def _sets_resumed(event: Event) -> dict[str, Any]:
    return {"status": "active", "ended_at": None, "close_reason": None}


def _sets_closed(event: Event) -> dict[str, Any]:
    d = event.data
    fields: dict[str, Any] = {
        "status": "closed", "ended_at": event.at, "summary": d.get("summary"), "close_reason": d.get("reason", "ended"),
    }
    if d.get("progress") is not None:
        fields["progress"] = d["progress"]
    return fields


# Made by `msp recover SESSION` (no input of its own). It fires no hook: no hookspec exists
# for it, and integrations next hear of the session when it closes.
SESSION_RESUMED: EventKind[BaseModel] = EventKind(
    name="session_resumed",
    input=None,
    hook=None,
    item=None,
    extra={},
    sets=_sets_resumed,
    joins=None,
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
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
    sets=_sets_closed,
    joins=None,
    resolves=None,
    retracts=None,
    fold=None,
    # Close summaries (Linear, Slack, Jira, the whole Obsidian note) need every item.
    whole=True,
    view=None,
    find=None,
    said=lambda e: f"Closed session {e.session_id}",
)


# --- goal_changed ------------------------------------------------------------------------------


def _sets_goal(event: Event) -> dict[str, Any]:
    return {"goal": event.data["goal"]}


# `msp goal TEXT`: the session's goal from now on. The session a hook receives carries the new
# goal; the hook's ``previous`` is the goal it replaced (None when the session had none).
GOAL_CHANGED: EventKind[GoalInput] = EventKind(
    name="goal_changed",
    input=GoalInput,
    hook="msp_goal_changed",
    item="previous",
    extra={},
    sets=_sets_goal,
    joins=None,
    resolves=None,
    retracts=None,
    fold=None,
    whole=False,
    view=None,
    find=lambda s, e: e.data.get("previous"),
    said=lambda e: f"Changed the goal of session {e.session_id}",
)


# --- item_retracted ----------------------------------------------------------------------------

#: The session list each kind of item is in, and the event that records it.
RETRACTABLE: dict[str, tuple[Collection, EventType]] = {
    "decision": ("decisions", "decision_recorded"),
    "entity": ("entities", "entity_recorded"),
    "blocker": ("blockers", "blocker_raised"),
}


def _retracted(item: Any, event: Event) -> Any:
    return item.model_copy(update={"retracted_at": event.at, "retraction": event.data.get("reason")})


def _fold_retracted(state: SessionFolder, event: Event, foreign: Mapping[str, Event] | None) -> None:
    # The item stays in its list, marked: the lists' counts and positions never change, and a
    # note or a summary can show what was taken back.
    iid = event.data["item_id"]
    listed = RETRACTABLE[event.data["kind"]][0]
    if listed == "blockers":
        if iid in state.blockers:
            state.blockers[iid] = _retracted(state.blockers[iid], event)
        return
    items: list[Any] = getattr(state, listed)
    for index, item in enumerate(items):
        if item.id == iid:
            items[index] = _retracted(item, event)


def _find_retracted(session: Session, event: Event) -> Any:
    listed = RETRACTABLE[event.data["kind"]][0]
    return [x for x in getattr(session, listed) if x.id == event.data["item_id"]][-1]


# Recorded in the session the item belongs to (which may be closed), so that session's fold
# and projection are all it changes.
ITEM_RETRACTED: EventKind[RetractInput] = EventKind(
    name="item_retracted",
    input=RetractInput,
    hook="msp_item_retracted",
    item="item",
    extra={},
    sets=_sets_nothing,
    joins=None,
    resolves=None,
    retracts=lambda e: (str(e.data["kind"]), str(e.data["item_id"])),
    fold=_fold_retracted,
    whole=False,
    view=None,
    find=_find_retracted,
    said=lambda e: f"Retracted {e.data['kind']} {e.data['item_id']}",
)


# --- the registry ------------------------------------------------------------------------------

KINDS: dict[str, EventKind[Any]] = {
    kind.name: kind
    for kind in (
        SESSION_STARTED, PROGRESS_UPDATED, DECISION_RECORDED, ENTITY_RECORDED,
        BLOCKER_RAISED, BLOCKER_RESOLVED, SESSION_RESUMED, SESSION_CLOSED, GOAL_CHANGED, ITEM_RETRACTED,
    )
}

#: How many of the latest updates the session a hook receives holds (``Session.update_count``
#: says how many there are), except on hooks of kinds declared ``whole``. Bounded, so one
#: command costs the same at the 100th update as at the 100,000th; the lists of decisions,
#: entities and blockers are whole on every hook (hooks link new items to earlier ones).
RECENT_UPDATES = 100

#: The hook each event type fires.
HOOKS_BY_EVENT: dict[str, str] = {name: kind.hook for name, kind in KINDS.items() if kind.hook is not None}
