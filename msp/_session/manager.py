"""The session manager: every moment takes this one path.

validate (pydantic) -> take the store's write lock -> check the session's state -> build the
event -> append it -> plan actions through each enabled integration -> commit event, actions
and hook failures together. ``dry_run`` runs the same path and rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from msp._model.detect_rules import might_find as _might_find
from msp._model.events import (
    BLOCKER_RAISED,
    BLOCKER_RESOLVED,
    DECISION_RECORDED,
    ENTITY_RECORDED,
    GOAL_CHANGED,
    ITEM_RETRACTED,
    KINDS,
    PROGRESS_UPDATED,
    RECENT_UPDATES,
    RETRACTABLE,
    SESSION_CLOSED,
    SESSION_RESUMED,
    SESSION_STARTED,
    EventKind,
)
from msp._model.identity import Engineer, current_engineer, label
from msp._model.ids import new_event_id, new_session_id, short_item_id
from msp._model.models import (
    BlockerInput,
    DecisionInput,
    EndInput,
    EntityInput,
    Event,
    GoalInput,
    ResolveInput,
    RetractInput,
    Session,
    Source,
    StartInput,
    UpdateInput,
)
from msp._store.interface import PlanResult, SessionRow, Store, StoreReader, StoreWriter
from msp.errors import (
    AmbiguousBlocker,
    BlockerNotFound,
    InvalidInput,
    ItemNotFound,
    SessionAlreadyActive,
    SessionNotActive,
    SessionNotFound,
)

if TYPE_CHECKING:
    from msp._model.detect import Found
    from msp._model.detect_rules import Rules
    from msp._model.projection import SessionFolder
    from msp._plugins.host import PluginHost

M = TypeVar("M", bound=BaseModel)
#: How many candidate sessions an ambiguous part of an id lists.
_CANDIDATES = 10
InputT = TypeVar("InputT", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Validate input, turning pydantic's errors into one clear :class:`InvalidInput`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "input"
            shown = err.get("input")
            if isinstance(shown, str) and len(shown) > 40:
                shown = f"{len(shown):,} characters"
            problems.append(f"{loc}: {err['msg'].lower()} (got {shown!r})")
        raise InvalidInput("; ".join(problems), "fix the value and run the command again") from None


def _input(kind: EventKind[InputT], data: InputT | dict[str, Any]) -> InputT:
    """The command's input for ``kind``, validated through the kind's own model."""
    model = kind.input
    if model is None:
        raise TypeError(f"{kind.name} takes no command input")
    if isinstance(data, model):
        return data
    return validate(model, cast("dict[str, Any]", data))


@dataclass
class Recorded:
    """What a recording command did."""

    event: Event
    session: SessionRow | None
    planned: PlanResult = field(default_factory=PlanResult)
    dry_run: bool = False
    item: dict[str, Any] = field(default_factory=dict)
    #: Warnings found after planning (an enabled integration that cannot deliver).
    notices: list[str] = field(default_factory=list)
    #: The items noticed in an update's text, recorded as their own events in its transaction.
    detected: list[Event] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [*self.planned.warnings, *self.notices]

    @property
    def said(self) -> str:
        """The line confirming what was recorded, as the event's kind words it; then a line
        for each item detected in it."""
        lines = [KINDS[self.event.type].said(self.event)]
        for event in self.detected:
            data = event.data
            kind = {"decision_recorded": "decision", "blocker_raised": "blocker"}.get(event.type, "entity")
            shown = data.get("text") or data.get("name") or ""
            if kind == "entity" and data.get("type"):
                kind = f"entity ({data['type']})"
            lines.append(f"  detected {kind} {data['id']}: {shown}")
        if self.detected:
            lines.append("  (wrong? take one back with `msp retract ID`; `--no-detect` skips detection)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "dry_run": self.dry_run,
            "event": self.event.to_dict(),
            "session": _row_dict(self.session) if self.session else None,
            "actions": [a.model_dump(mode="json", by_alias=True) for a in self.planned.objects],
            "warnings": self.warnings,
            "detected": [e.to_dict() for e in self.detected],
        }


class _DryRun(Exception):
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded


def _row_dict(row: SessionRow) -> dict[str, Any]:
    return row.to_dict()


class SessionManager:
    """The Python API over a store and a plugin host."""

    def __init__(
        self,
        store: Store,
        plugins: PluginHost | None = None,
        *,
        default_project: str = "default",
        source: Source = "api",
        timeout_hours: float = 12.0,
        clock: Callable[[], datetime] | None = None,
        engineer: Engineer | None = None,
        detect: Rules | None = None,
    ) -> None:
        self.store = store
        self.plugins = plugins
        self.default_project = default_project
        self.source: Source = source
        self.timeout_hours = timeout_hours
        self.clock = clock or (lambda: datetime.now(UTC))
        #: The rules :meth:`update` detects items with (msp._model.detect); None: it detects none.
        self.detect_rules = detect
        #: A long-lived process (the Python API, the MCP server) keeps the fold of the session
        #: it records into and applies each new event to it; see :meth:`_hook_view`.
        self._hot: SessionFolder | None = None
        self._planned = 0
        self._engineer = engineer

    @property
    def engineer(self) -> Engineer:
        """Who records through this manager: given, else ``MSP_USER`` / ``MSP_HOST`` or the OS's
        names (msp._model.identity), read when first needed."""
        if self._engineer is None:
            self._engineer = current_engineer()
        return self._engineer

    # --- recording -----------------------------------------------------------------------

    def start(self, data: StartInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        inp = _input(SESSION_STARTED, data)
        project = inp.project or self.default_project

        me = self.engineer

        def build(tx: StoreWriter) -> Event:
            # One active session per engineer and project: others' sessions never stand in the way.
            active = tx.active_sessions(project, me.user)
            if active:
                current = active[-1]
                raise SessionAlreadyActive(
                    f"session {current.id} ({current.project}) is already active since "
                    f"{current.started_at:%Y-%m-%d %H:%M} UTC",
                    "end it with `msp end`, or close or resume it with `msp recover`",
                )
            if inp.progress is not None:
                progress = inp.progress
            else:
                last = tx.last_session(project)
                progress = last.progress if last else 0
            now = self.clock()
            payload = {
                "goal": inp.goal,
                "issue": inp.issue,
                "progress": progress,
                "user": me.user,
                "host": me.host,
            }
            return self._event(SESSION_STARTED, new_session_id(now), project, now, payload)

        return self._record(build, dry_run)

    def update(self, data: UpdateInput | dict[str, Any], *, dry_run: bool = False, detect: bool = True) -> Recorded:
        """Record progress; with detection rules (and ``detect``), also each decision, blocker
        and entity its text names, as its own event in the same transaction, linked to the
        update (``from_update``) and marked ``detected``."""
        inp = _input(PROGRESS_UPDATED, data)
        payload: dict[str, Any] = {"text": inp.text, "progress": inp.progress, "tags": list(inp.tags)}
        if inp.commit is not None:  # only then: a typed update's data stays as it always was
            payload["commit"] = inp.commit.model_dump()
        rules = self.detect_rules if detect else None
        if rules is None or not _might_find(inp.text, rules):
            return self._record_in_active(PROGRESS_UPDATED, payload, dry_run)
        from msp._model.detect import detect as find

        found = find(inp.text, rules)  # outside the write lock: pure, and the lock is shared

        def build(tx: StoreWriter) -> list[Event]:
            row = self._require_active(tx)
            update = self._event(PROGRESS_UPDATED, row.id, row.project, self.clock(), payload)
            return [update, *self._detected(tx, row, update, found)]

        return self._record(build, dry_run)

    def _detected(self, tx: StoreReader, row: SessionRow, update: Event, found: list[Found]) -> list[Event]:
        known: set[str] = set()
        if any(f.kind == "entity" for f in found):
            # An entity already recorded in the session (or taken back there) is not recorded again.
            known = {e.data.get("name", "") for e in tx.session_events(row.id, [ENTITY_RECORDED.name])}
        events: list[Event] = []
        link = {"detected": True, "from_update": update.id}
        for f in found:
            kind: EventKind[Any]
            data: dict[str, Any]
            if f.kind == "decision":
                kind, data = DECISION_RECORDED, {
                    "id": short_item_id("d"), "text": f.text, "rationale": f.rationale, "alternatives": [],
                    "impact": None, "category": None}
            elif f.kind == "blocker":
                kind, data = BLOCKER_RAISED, {"id": short_item_id("b"), "text": f.text, "category": None,
                                              "severity": None}
            else:
                if f.text in known:
                    continue
                known.add(f.text)
                kind, data = ENTITY_RECORDED, {"id": short_item_id("e"), "name": f.text, "type": f.entity_type,
                                               "path": f.path, "description": None}
            events.append(self._event(kind, row.id, row.project, update.at, {**data, **link}))
        return events

    def decide(self, data: DecisionInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        inp = _input(DECISION_RECORDED, data)
        payload = {"id": short_item_id("d"), **inp.model_dump()}
        return self._record_in_active(DECISION_RECORDED, payload, dry_run)

    def entity(self, data: EntityInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        inp = _input(ENTITY_RECORDED, data)
        payload = {"id": short_item_id("e"), **inp.model_dump()}
        return self._record_in_active(ENTITY_RECORDED, payload, dry_run)

    def block(self, data: BlockerInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        inp = _input(BLOCKER_RAISED, data)
        payload = {"id": short_item_id("b"), **inp.model_dump()}
        return self._record_in_active(BLOCKER_RAISED, payload, dry_run)

    def resolve(self, data: ResolveInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        inp = _input(BLOCKER_RESOLVED, data)

        def build(tx: StoreWriter) -> Event:
            # The caller's own active session, as recording picks it. With none, the blocker is
            # looked up in the default project and the resolution belongs to the session that
            # raised it (closed or not): the work that unblocked it was not recorded elsewhere.
            row = pick_active(tx.active_sessions(user=self.engineer.user), self.default_project)
            blocker = _match_blocker(tx, row.project if row else self.default_project, inp.blocker)
            if row is None:
                row = tx.session_row(blocker.session_id)
                if row is None:  # the blocker index names a session the store lacks: not ours to fix
                    raise SessionNotFound(f"blocker {blocker.id} names session {blocker.session_id!r}, which the "
                                          "store does not hold", "run `msp store check`")
            payload = {"blocker_id": blocker.id, "solution": inp.solution, "raised_in": blocker.session_id}
            return self._event(BLOCKER_RESOLVED, row.id, row.project, self.clock(), payload)

        return self._record(build, dry_run)

    def goal(self, data: GoalInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        """Change the active session's goal; the event keeps the goal it replaced."""
        inp = _input(GOAL_CHANGED, data)

        def build(tx: StoreWriter) -> Event:
            row = self._require_active(tx)
            return self._event(GOAL_CHANGED, row.id, row.project, self.clock(),
                               {"goal": inp.goal, "previous": row.goal})

        return self._record(build, dry_run)

    def retract(self, data: RetractInput | dict[str, Any], *, dry_run: bool = False) -> Recorded:
        """Take back a decision, entity or blocker of the project (by id or a unique part of
        it): a compensating event, recorded in the session the item belongs to, active or not."""
        inp = _input(ITEM_RETRACTED, data)

        def build(tx: StoreWriter) -> Event:
            # The project of the caller's own active session (as recording picks it), else the default.
            mine = pick_active(tx.active_sessions(user=self.engineer.user), self.default_project)
            project = mine.project if mine is not None else self.default_project
            found = _match_item(tx, project, inp.item.strip())
            kind = next(k for k, (_, recorded) in RETRACTABLE.items() if recorded == found.type)
            item_id = found.data["id"]
            earlier = tx.session_events(found.session_id, [ITEM_RETRACTED.name])
            if any(e.data.get("item_id") == item_id for e in earlier):
                raise InvalidInput(f"{kind} {item_id} is already retracted", "nothing to take back")
            payload = {"item_id": item_id, "kind": kind, "reason": inp.reason,
                       "text": found.data.get("text") or found.data.get("name")}
            return self._event(ITEM_RETRACTED, found.session_id, found.project, self.clock(), payload)

        return self._record(build, dry_run)

    def end(self, data: EndInput | dict[str, Any] | None = None, *, dry_run: bool = False) -> Recorded:
        inp = _input(SESSION_CLOSED, data or {})
        payload = {"summary": inp.summary, "progress": inp.progress, "reason": "ended"}
        return self._record_in_active(SESSION_CLOSED, payload, dry_run)

    def recover(self, session_id: str, *, close: bool, dry_run: bool = False) -> Recorded:
        """Close a session left active, or make it the one to continue."""

        def build(tx: StoreWriter) -> Event:
            row = self._find(tx, session_id)
            if row.status != "active" and close:
                raise SessionNotActive(f"session {row.id} is already closed", "nothing to recover")
            if close:
                # Closed at its last recorded moment: the time it was really left.
                at = max(row.last_at, row.started_at)
                return self._event(
                    SESSION_CLOSED, row.id, row.project, at,
                    {"summary": None, "progress": None, "reason": "recovered"},
                )
            me = self.engineer
            if not me.owns(row.user):
                # Closing a teammate's abandoned session tidies up; continuing it would record
                # in their name.
                raise SessionNotActive(
                    f"session {row.id} belongs to {label(row.user, row.host)}; only its engineer can resume it",
                    f"start your own with `msp start`, or close it with `msp recover {row.id} --close`",
                )
            others = [s for s in tx.active_sessions(row.project, me.user) if s.id != row.id]
            for other in others:
                raise SessionAlreadyActive(
                    f"session {other.id} is active; only one session of yours is active in project "
                    f"{row.project!r} at a time",
                    f"end it first with `msp end`, or `msp recover {other.id} --close`",
                )
            return self._event(SESSION_RESUMED, row.id, row.project, self.clock(), {"was": row.status})

        return self._record(build, dry_run)

    # --- reading -------------------------------------------------------------------------

    def active(self) -> SessionRow | None:
        """The calling engineer's active session in this project (see :meth:`_require_active`),
        None when there is none, or no single one to choose."""
        with self.store.read() as tx:
            rows = tx.active_sessions(user=self.engineer.user)
        return pick_active(rows, self.default_project)

    def get(self, session_id: str | None = None) -> Session:
        with self.store.read() as tx:
            row = self._require_active(tx) if session_id is None else self._find(tx, session_id)
            return tx.load_session(row.id)

    def sessions(self, project: str | None = None, since: datetime | None = None,
                 limit: int | None = 20, user: str | None = None) -> list[SessionRow]:
        """Sessions newest first, of ``project`` and of engineer ``user`` when given."""
        with self.store.read() as tx:
            return tx.list_sessions(project, since, limit, user=user)

    def stale(self, now: datetime | None = None) -> list[tuple[SessionRow, bool]]:
        """The calling engineer's active sessions (in any project), each with whether it is
        older than the configured timeout."""
        now = now or self.clock()
        limit = timedelta(hours=self.timeout_hours)
        with self.store.read() as tx:
            return [(row, now - row.last_at > limit) for row in tx.active_sessions(user=self.engineer.user)]

    # --- internals -----------------------------------------------------------------------

    def _event(self, kind: EventKind[Any], session_id: str, project: str, at: datetime,
               data: dict[str, Any]) -> Event:
        return Event(
            id=new_event_id(int(at.timestamp() * 1000)),
            type=kind.name,
            session_id=session_id,
            project=project,
            at=at,
            source=self.source,
            data=data,
        )

    def _require_active(self, tx: StoreReader) -> SessionRow:
        """The session a moment is recorded into: the calling engineer's active session in this
        project, else (none here) their one active session elsewhere, the one `msp start
        --project` opened. Other engineers' sessions are never candidates."""
        rows = tx.active_sessions(user=self.engineer.user)
        row = pick_active(rows, self.default_project)
        if row is not None:
            return row
        if not rows:
            raise SessionNotActive(
                f"no session is active for you ({self.engineer.label})",
                "start one with `msp start`, or see `msp recover --list` for sessions left open",
            )
        elsewhere = ", ".join(f"{r.id} ({r.project})" for r in rows)
        raise SessionNotActive(
            f"no session of yours is active in project {self.default_project!r}, and several are elsewhere: "
            f"{elsewhere}",
            "start one here with `msp start`, or end the others with `msp recover SESSION --close`",
        )

    def _find(self, tx: StoreReader, session_id: str) -> SessionRow:
        row = tx.session_row(session_id)
        if row is not None:
            return row
        # Any unique part of an id will do (the random tail is the easiest to type); four
        # characters at least, so a digit or two never picks a session by chance.
        matches = tx.find_sessions(session_id, _CANDIDATES + 1) if len(session_id) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            count = f"more than {_CANDIDATES}" if len(matches) > _CANDIDATES else str(len(matches))
            raise SessionNotFound(
                f"{session_id!r} is part of {count} session ids: "
                f"{', '.join(m.id for m in matches[:_CANDIDATES])}",
                "give more of the id, enough to name one session",
            )
        hint = ("give at least 4 characters of the id" if len(session_id) < 4
                else "list sessions with `msp sessions`")
        raise SessionNotFound(f"no session with id {session_id!r}", hint)

    def _record_in_active(self, kind: EventKind[Any], payload: dict[str, Any], dry_run: bool) -> Recorded:
        def build(tx: StoreWriter) -> Event:
            row = self._require_active(tx)
            return self._event(kind, row.id, row.project, self.clock(), payload)

        return self._record(build, dry_run)

    def _record(self, build: Callable[[StoreWriter], Event | list[Event]], dry_run: bool) -> Recorded:
        """Append what ``build`` makes (one event, or a command's events in order: an update
        and the items detected in it), plan each through the integrations, and commit it all
        with the actions and hook failures, in one transaction."""
        self._planned += 1
        try:
            with self.store.write() as tx:
                built = build(tx)
                stored: list[Event] = []
                planned = PlanResult()
                for event in built if isinstance(built, list) else [built]:
                    seq = tx.append(event)
                    event = Event(**{**event.__dict__, "seq": seq})
                    plan = self._plan(tx, event)
                    tx.add_actions(plan.actions)
                    if plan.failures:
                        tx.add_hook_failures(plan.failures)
                    stored.append(event)
                    planned.actions += plan.actions
                    planned.failures += plan.failures
                    planned.objects += plan.objects
                first = stored[0]
                recorded = Recorded(first, tx.session_row(first.session_id), planned, dry_run, detected=stored[1:])
                if dry_run:
                    raise _DryRun(recorded)
        except _DryRun as rolled_back:
            return rolled_back.recorded
        return recorded

    def _plan(self, tx: StoreReader, event: Event, only: Iterable[str] | None = None,
              history: _History | None = None) -> PlanResult:
        """Plan ``event`` through the enabled integrations (``only`` these), with the session as
        it stands: read from the store's projection when recording, or as it stood at the event
        when walking stored events (``history``)."""
        kind = KINDS.get(event.type)
        hook = kind.hook if kind is not None else None
        if kind is None or hook is None or self.plugins is None or not self.plugins.has_impls(hook):
            if history is not None:
                history.skip(tx, event)
            return PlanResult()
        recent = None if kind.whole else RECENT_UPDATES
        if history is not None:
            session = history.view(tx, event, recent)
        elif recent is None:
            session = tx.load_session(event.session_id)  # once per session: its close
        else:
            session = self._hook_view(tx, event, recent)
        return self.plugins.plan(hook, event.id, event.session_id, kind.hook_kwargs(session, event), only)

    def _hook_view(self, tx: StoreReader, event: Event, recent: int) -> Session:
        """The session a recording hook receives. One command reads it from the store's
        projection (the latest updates only). A process that records again keeps the fold it
        made and applies each new event, as long as the store holds nothing it has not seen:
        the session's event count says so (another process's writes make it reload)."""
        hot = self._hot
        kind = KINDS.get(event.type)
        crosses = kind is not None and (kind.joins == "blockers" or kind.resolves is not None)
        if hot is not None and not crosses and hot.fields.get("id") == event.session_id:
            row = tx.session_row(event.session_id)
            if row is not None and hot.count == row.event_count - 1:
                hot.apply(event)
                return hot.view(recent)
        self._hot = None
        if self._planned <= 1:  # the first command in this process: likely the only one
            return tx.hook_session(event.session_id, recent)
        self._hot = tx.load_folder(event.session_id)
        return self._hot.view(recent)

    def plan_session(self, session_id: str, integration: str | None = None) -> list[Any]:
        """The actions a session's events would generate now (``msp plan``); stores nothing."""
        only = [integration] if integration else None
        out: list[Any] = []
        history = _History()
        with self.store.read() as tx:
            for event in tx.session_events(session_id):
                out += self._plan(tx, event, only, history).objects
        return out

    def replay(self, integration: str, *, session_id: str | None = None,
               since: datetime | None = None, batch: int = 500) -> tuple[int, int, list[str]]:
        """Plan stored events again through one integration (back-fill a tool enabled later).

        Returns (events seen, new actions, warnings). Actions already in the outbox have the
        same idempotency keys and are not planned twice, so a second replay adds nothing.
        """
        seen = new = 0
        warnings: list[str] = []
        after = 0
        history = _History()
        if session_id is not None:
            with self.store.read() as tx:
                session_id = self._find(tx, session_id).id
        while True:
            with self.store.write() as tx:
                events = tx.events_since(after, session_id=session_id, since=since, limit=batch)
                for event in events:
                    seen += 1
                    planned = self._plan(tx, event, only=[integration], history=history)
                    new += tx.add_actions(planned.actions)
                    if planned.failures:
                        tx.add_hook_failures(planned.failures)
                    warnings += planned.warnings
            if len(events) < batch:
                return seen, new, warnings
            after = events[-1].seq or after


class _History:
    """Sessions as they stood at each of their events, for a walk over stored events in order
    (``msp plan``, ``msp replay``): each session is folded once, then each event applied, so
    the walk costs the length of the history, not its square. A hook sees what it saw when the
    event was recorded: the latest updates only, the whole session on close."""

    def __init__(self) -> None:
        self._folders: dict[str, SessionFolder] = {}

    def _advance(self, tx: StoreReader, event: Event) -> SessionFolder:
        folder = self._folders.get(event.session_id)
        kind = KINDS.get(event.type)
        # A blocker event may involve another session's events (a resolution of a blocker
        # raised there, or resolved there later): the store's fold looks those up.
        if folder is None or (kind is not None and (kind.joins == "blockers" or kind.resolves is not None)):
            folder = self._folders[event.session_id] = tx.load_folder(event.session_id, upto_seq=event.seq)
        else:
            folder.apply(event)
        return folder

    def skip(self, tx: StoreReader, event: Event) -> None:
        """Follow an event no hook is planned for (its session may be planned for later)."""
        if event.session_id in self._folders:
            self._advance(tx, event)

    def view(self, tx: StoreReader, event: Event, recent: int | None) -> Session:
        return self._advance(tx, event).view(recent)


def pick_active(rows: list[SessionRow], project: str) -> SessionRow | None:
    """Of one engineer's active sessions (oldest first), the one they record into from
    ``project``: the latest there, else their only one elsewhere; None when none or ambiguous."""
    here = [r for r in rows if r.project == project]
    if here:
        return here[-1]
    return rows[0] if len(rows) == 1 else None


def _match_item(tx: StoreReader, project: str, needle: str) -> Event:
    """The recording event of the project's decision, entity or blocker whose id is ``needle``,
    or the one whose id alone contains it (at least three characters)."""
    types = [recorded for _, recorded in RETRACTABLE.values()]
    if not needle:
        raise InvalidInput("give the id of the item to take back", "ids are shown when items are recorded")
    matches = tx.find_items(project, needle, types, limit=10) if len(needle) >= 3 else []
    exact = [e for e in matches if e.data.get("id") == needle]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ItemNotFound(
            f"no decision, entity or blocker of project {project!r} has an id containing {needle!r}",
            "give at least three characters of an id shown when the item was recorded "
            "(`msp show` lists a session's items)",
        )
    listing = "; ".join(f"{e.data['id']}: {(e.data.get('text') or e.data.get('name') or '')[:50]}" for e in matches)
    raise InvalidInput(f"{needle!r} matches {len(matches)} items", f"use one of the ids: {listing}")


def _match_blocker(tx: StoreReader, project: str, needle: str) -> Any:
    open_ = tx.open_blockers(project)
    if not open_:
        raise BlockerNotFound(f"project {project!r} has no open blockers", "raise one with `msp block TEXT`")
    exact = [b for b in open_ if b.id == needle]
    if exact:
        return exact[0]
    by_prefix = [b for b in open_ if b.id.startswith(needle)] if len(needle) >= 3 else []
    lowered = needle.casefold()
    by_text = [b for b in open_ if lowered in b.text.casefold()]
    matches = by_prefix or by_text
    if len(matches) == 1:
        return matches[0]
    listing = "; ".join(f"{b.id}: {b.text[:60]}" for b in (matches or open_)[:10])
    if not matches:
        raise BlockerNotFound(
            f"no open blocker has the id or text {needle!r}", f"open blockers: {listing}"
        )
    raise AmbiguousBlocker(
        f"{needle!r} matches {len(matches)} open blockers", f"use one of the ids: {listing}"
    )
