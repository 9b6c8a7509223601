"""The store: an append-only event log plus the projections and outbox built beside it.

:class:`Store` is the one interface the session manager, the dispatcher and the front-ends
depend on. A transaction (``store.read()`` or ``store.write()``) gives the event and projection
queries, and through ``tx.outbox`` the outbox operations, all in that one transaction: an event
and the actions planned from it commit together, and the drain writes outcomes, renews leases
and claims in one go. SQLite is the embedded implementation (:mod:`msp._store.sqlite`); a
PostgreSQL backend slots in by implementing the same protocols, and must pass the conformance
suite in ``tests/store``. The rules of the outbox that do not depend on a backend (which
statuses block a lane, what counts as an attempt, when a failure is retried) are written once,
in :mod:`msp._store.outbox_rules`.

No SQL and no driver connection leave a backend: open a store with
:func:`msp._store.open_store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

if TYPE_CHECKING:  # kept light: the dispatcher imports this module without pydantic
    from msp._model.models import Event, Session
    from msp._model.projection import SessionFolder
    from msp._store.worker_records import Waker, WorkerRow

#: What an action waits for or became. See docs/dispatch.md for each.
Status = Literal["pending", "held", "in_flight", "done", "dead", "dropped", "superseded"]
STATUSES: tuple[Status, ...] = ("pending", "held", "in_flight", "done", "dead", "dropped", "superseded")
#: An ordering lane: (integration, session). Actions of one lane are delivered in order.
Lane = tuple[str, str | None]
#: The manual operations on queued actions; their rules are :data:`msp._store.outbox_rules.QUEUE_OPS`.
QueueOp = Literal["retry", "drop", "approve", "hold", "rerun"]


@dataclass(frozen=True)
class SessionRow:
    """The indexed summary of a session, kept beside the events in the same transaction."""

    id: str
    project: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    start_progress: int
    progress: int
    last_at: datetime
    goal: str | None
    issue: str | None
    event_count: int
    #: The engineer the session belongs to (msp._model.identity); None for a session recorded
    #: before sessions had one, which belongs to whoever asks.
    user: str | None = None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from msp._model.models import format_time

        return {
            "id": self.id,
            "project": self.project,
            "status": self.status,
            "goal": self.goal,
            "issue": self.issue,
            "started_at": format_time(self.started_at),
            "ended_at": format_time(self.ended_at) if self.ended_at else None,
            "start_progress": self.start_progress,
            "progress": self.progress,
            "events": self.event_count,
            "user": self.user,
            "host": self.host,
        }


class SessionTally(NamedTuple):
    """A session's row with how many items each of its lists holds (``updates``,
    ``decisions``, ``entities``, ``blockers``), from the stored projection: what a report
    aggregates without reading the session's events."""

    row: SessionRow
    counts: dict[str, int]


class BlockerSpan(NamedTuple):
    """When a blocker was raised and, if it was, resolved (and in which session)."""

    id: str
    project: str
    session_id: str
    raised_at: datetime
    resolved_at: datetime | None
    resolved_in: str | None


@dataclass(frozen=True)
class OpenBlocker:
    id: str
    session_id: str
    text: str


@dataclass(frozen=True)
class PlannedAction:
    """An action row to insert into the outbox with its event."""

    idempotency_key: str
    event_id: str
    integration: str
    position: int
    kind: str
    session_id: str | None
    payload: dict[str, Any]
    held: bool = False


@dataclass(frozen=True)
class HookFailure:
    event_id: str
    integration: str
    hook: str
    error: str


@dataclass
class PlanResult:
    actions: list[PlannedAction] = field(default_factory=list)
    failures: list[HookFailure] = field(default_factory=list)
    objects: list[Any] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        from msp._logging import redact

        # Printed (and, with --json, handed to scripts): never with a credential in it.
        return [redact(f"integration {f.integration!r} failed in {f.hook}: {f.error}") for f in self.failures]


@dataclass
class ActionRow:
    """One outbox row, as every backend returns it."""

    id: int
    idempotency_key: str
    event_id: str
    integration: str
    position: int
    kind: str
    session_id: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    created_ms: int
    next_attempt_ms: int
    lease_until_ms: int | None
    lease_owner: str | None
    last_error: str | None
    result: str | None
    updated_ms: int
    order_key: str
    parent_id: int | None
    window_start_ms: int | None
    last_status: int | None
    started_ms: int | None = None
    """Set (by ``mark_started``) once the drain holding the lease started delivering it;
    cleared with the outcome. A reclaimed lease counts an attempt only when it is set."""
    offline_attempts: int = 0
    """How many of ``attempts`` never reached the service (not bounded by ``max_attempts``)."""

    @property
    def lane(self) -> Lane:
        return (self.integration, self.session_id)

    @property
    def window_ms(self) -> int:
        """Where the age limit counts from: creation, or the last ``msp queue retry``."""
        return self.window_start_ms if self.window_start_ms is not None else self.created_ms


class TeamConfig(NamedTuple):
    """One revision of the integration sections a team keeps in its store (``msp config push``).

    ``sections`` maps an integration's name to its config section, never holding a secret
    (only named references: ``token_env``, ``..._keyring``); ``changed`` names the sections this
    revision added, replaced or removed. Each push adds a revision; the latest is the one in force.
    """

    revision: int
    sections: dict[str, dict[str, Any]]
    changed: list[str]
    pushed_by: str
    pushed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        from msp._model.models import format_time

        return {"revision": self.revision, "sections": self.sections, "changed": self.changed,
                "pushed_by": self.pushed_by, "pushed_at": format_time(self.pushed_at)}


@dataclass
class FollowUp:
    """A follow-up action, inserted right after its parent in the parent's lane."""

    idempotency_key: str
    kind: str
    payload: dict[str, Any]
    held: bool = False


@dataclass
class Update:
    """The outcome of one claimed action, written with others in one transaction.

    ``status`` is the new status, or ``released``: back to pending as it was claimed (only the
    fields given here change). ``None`` leaves a field as it is; ``keep_error`` keeps
    ``last_error`` (otherwise it becomes ``error``, which may clear it). Every update ends the
    lease, and with it the started mark.
    """

    id: int
    status: Literal["pending", "done", "dead", "released"]
    attempts: int | None = None
    next_attempt_ms: int | None = None
    error: str | None = None
    keep_error: bool = False
    result: str | None = None
    status_code: int | None = None
    offline_attempts: int | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)


class OutboxReader(Protocol):
    """Outbox queries inside one transaction (``tx.outbox``)."""

    def workers(self, seen_since_ms: int = 0) -> list[WorkerRow]:
        """Workers whose last heartbeat is at or after ``seen_since_ms``, latest first."""
        ...

    def integrations_due(self, now: int) -> list[str]:
        """Integrations with a pending action due at ``now``."""
        ...

    def next_due_ms(
        self,
        integration: str | None = None,
        skip_lanes: Iterable[Lane] = (),
        skip_integrations: Iterable[str] = (),
        skip_kinds: Iterable[str] = (),
    ) -> int | None:
        """When the earliest lane head this drain could deliver comes due, None if none.

        A lane's head is its first action in a status that blocks the lane; a pending head is
        due at ``next_attempt_ms``, an in-flight one (leased by a drain that may be gone) when
        its lease runs out.
        """
        ...

    def counts(self) -> dict[str, int]:
        """Actions by status (statuses with none are left out)."""
        ...

    def counts_by_integration(self, session_id: str | None = None) -> dict[str, dict[str, int]]:
        """Actions by integration, then status (only the actions of ``session_id``'s lanes when given)."""
        ...

    def pending_due(self, now: int, integration: str | None = None, created_since: int | None = None) -> int:
        """How many pending actions are due at ``now`` (created at or after ``created_since``)."""
        ...

    def get(self, ref: str | int) -> ActionRow:
        """An action by id, or by a unique prefix (6+ characters) of its idempotency key.

        Raises :class:`msp.errors.ActionNotFound`, or :class:`msp.errors.InvalidInput` for an
        ambiguous prefix.
        """
        ...

    def by_keys(self, keys: Sequence[str]) -> list[ActionRow]:
        """The actions with these idempotency keys, in id order."""
        ...

    def select(self, statuses: Sequence[str], integration: str | None = None, limit: int = 100) -> list[ActionRow]:
        """Actions in any of ``statuses``, oldest first."""
        ...

    def ids_with_status(self, status: str, integration: str | None = None) -> list[int]: ...

    def pending_ids_of(self, integration: str, limit: int = 10_000) -> list[int]: ...


class OutboxWriter(OutboxReader, Protocol):
    """Outbox changes inside one write transaction."""

    def add_actions(self, actions: Sequence[PlannedAction]) -> int:
        """Queue planned actions (``held`` ones as held); returns how many were new.

        An idempotency key already present is skipped, whatever its status: replaying an event
        never queues its actions twice, nor revives a dropped one. A new write that overwrites
        what older waiting writes of its integration wrote marks those ``superseded`` (which
        ones: :func:`msp._store.outbox_rules.supersedes`), noting the newer action's id.
        """
        ...

    def reclaim(self, owner: str, now: int, *, other_owners: bool = False) -> int:
        """Put in-flight actions whose lease ran out back to pending; returns how many.

        With ``other_owners`` (the caller holds the one-drain lock, so no other drain is alive)
        every lease not held by ``owner`` is reclaimed. An action marked started
        (:meth:`mark_started`) had its request sent, outcome unknown: it is due now, its attempt
        counted (:func:`msp._store.outbox_rules.counts_attempt` with ``started=True``) and
        ``last_error`` says so (``RECLAIMED_NOTE``). One never started goes back exactly as it
        was claimed: same attempts, schedule and ``last_error``.
        """
        ...

    def mark_started(self, ids: Sequence[int], owner: str, now: int) -> None:
        """Record that delivery of these in-flight actions (leased by ``owner``) starts now.

        The drain commits this before it calls the executor, so whoever reclaims the lease of a
        drain that died knows which actions may have reached the service.
        """
        ...

    def renew(self, owner: str, until: int) -> None:
        """Extend every lease ``owner`` holds to ``until``."""
        ...

    def beat(self, worker: WorkerRow) -> None:
        """Record a worker's heartbeat: insert or update its row (by id) with these values."""
        ...

    def claim(
        self,
        integration: str,
        owner: str,
        now: int,
        lease_until: int,
        lanes: int,
        *,
        run_max: int = 1,
        skip_lanes: Iterable[str | None] = (),
        skip_kinds: Iterable[str] = (),
    ) -> list[list[ActionRow]]:
        """Lease up to ``lanes`` runs of due actions of one integration, one run per lane.

        Only a lane's head is claimable: a pending action due at ``now`` with no earlier
        action of its lane (in lane order) in a status that blocks the lane
        (:data:`msp._store.outbox_rules.BLOCKING`). A run is that head and the due, pending
        actions of the same kind right after it (at most ``run_max`` in all). Heads come
        oldest first; lanes whose session is in ``skip_lanes`` and kinds in ``skip_kinds`` are
        passed over. Claimed rows are returned ``in_flight`` under ``owner`` until
        ``lease_until``. A backend must never hand one action to two concurrent claims.
        """
        ...

    def apply(self, updates: Sequence[Update], now: int, parents: dict[int, ActionRow] | None = None) -> None:
        """Write outcomes and release leases. Follow-ups are inserted right after their parent
        in its lane (``parents`` maps the id of each update with follow-ups to its row)."""
        ...

    def set_status(self, ids: Sequence[int], op: QueueOp, now: int) -> list[int]:
        """Apply a manual operation to the actions among ``ids`` it allows (see
        :data:`msp._store.outbox_rules.QUEUE_OPS`); returns the ids it changed."""
        ...

    def note_error(self, ids: Sequence[int], error: str, now: int) -> None:
        """Record why actions were left pending, without touching their schedule."""
        ...


class StoreReader(Protocol):
    @property
    def outbox(self) -> OutboxReader: ...
    def active_sessions(self, project: str | None = None, user: str | None = None) -> list[SessionRow]:
        """Active sessions, oldest first: of ``project`` when given, and of ``user`` when given
        (a session with no user, recorded before sessions had one, is every user's)."""
        ...
    def session_row(self, session_id: str) -> SessionRow | None: ...
    def find_sessions(self, part: str, limit: int = 5) -> list[SessionRow]:
        """Sessions whose id contains ``part`` anywhere (taken literally: no wildcards), in id
        order, at most ``limit``."""
        ...
    def last_session(self, project: str) -> SessionRow | None: ...
    def list_sessions(
        self, project: str | None = None, since: datetime | None = None, limit: int | None = None,
        user: str | None = None,
    ) -> list[SessionRow]:
        """Sessions newest first; ``user`` keeps only that engineer's (exactly: not the sessions
        with no user)."""
        ...
    def session_events(
        self,
        session_id: str,
        types: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]: ...
    def load_session(self, session_id: str, upto_seq: int | None = None) -> Session: ...
    def load_folder(self, session_id: str, upto_seq: int | None = None) -> SessionFolder: ...
    def hook_session(self, session_id: str, recent: int) -> Session:
        """The session as it stands, holding only its latest ``recent`` updates
        (``update_count`` counts them all), read from the projection the backend keeps beside
        the events (the fields and counts each kind declares in msp._model.events), never by
        folding every event: one command costs the same however long the session. Equal to
        ``load_folder(session_id).view(recent)``."""
        ...
    def open_blockers(self, project: str) -> list[OpenBlocker]:
        """The project's blockers neither resolved nor retracted, oldest first."""
        ...
    def session_tallies(
        self, since: datetime | None = None, until: datetime | None = None, project: str | None = None
    ) -> list[SessionTally]:
        """The sessions that overlap ``[since, until)`` (started before ``until``; active, or
        with an event at or after ``since``), oldest first, each with its list counts read from
        the session projection (a row from before the projection is folded, not stored): one
        row per session, never a session's events."""
        ...
    def blocker_spans(
        self, since: datetime | None = None, until: datetime | None = None, project: str | None = None
    ) -> list[BlockerSpan]:
        """The blockers open at some moment of ``[since, until)`` (raised before ``until``, not
        resolved before ``since``), in the order they were raised: one row per blocker, from the
        blocker index."""
    def find_items(self, project: str, needle: str, types: Sequence[str], limit: int = 10) -> list[Event]:
        """The project's events of ``types`` (the recording events of decisions, entities and
        blockers) whose item id (``data.id``) contains ``needle`` as written, oldest first."""
        ...
    def events_since(
        self, after_seq: int = 0, session_id: str | None = None, since: datetime | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...
    def count_events(self, type: str | None = None) -> int: ...
    def hook_failures(self, limit: int = 50) -> list[dict[str, Any]]: ...
    def events_present(self, ids: Sequence[str]) -> set[str]:
        """Which of these event ids the log holds (a copy from another store skips them)."""
        ...
    def team_config(self) -> TeamConfig | None:
        """The latest revision of the team's integration sections, None when none was pushed."""
        ...


class StoreWriter(StoreReader, Protocol):
    @property
    def outbox(self) -> OutboxWriter: ...
    def append(self, event: Event) -> int: ...
    def add_actions(self, actions: Sequence[PlannedAction]) -> int:
        """The same as ``outbox.add_actions``: planned with their event, in its transaction."""
        ...
    def add_hook_failures(self, failures: Sequence[HookFailure]) -> None: ...
    def add_team_config(self, sections: dict[str, dict[str, Any]], changed: Sequence[str], pushed_by: str,
                        pushed_at: datetime) -> int:
        """Record a new revision of the team's integration sections (all of them, as they are
        to be); returns its number. Callers check first that no secret value is in them."""
        ...


class Store(Protocol):
    """A store backend. One instance is used by one thread at a time."""

    def read(self) -> AbstractContextManager[StoreReader]:
        """A consistent snapshot for several queries."""
        ...

    def write(self) -> AbstractContextManager[StoreWriter]:
        """One transaction: all of it commits, or none of it."""
        ...

    def waker(self) -> Waker:
        """A new :class:`Waker` on this store, for one worker (close it when done)."""
        ...

    def check(self, quick: bool = False, limit: int = 20) -> list[str]:
        """The backend's own soundness check: the problems found (at most ``limit``), empty when
        sound. ``quick`` trades thoroughness for time (SQLite: ``quick_check``)."""
        ...

    def team_config(self) -> TeamConfig | None:
        """The team's integration sections for layering under a command's config (None when
        none were pushed), at no extra round trip: PostgreSQL brings them with the schema check
        that opening does (so they are as of the open), SQLite reads them when asked. For the
        latest revision in a transaction, ``tx.team_config()``."""
        ...

    def close(self) -> None: ...


class Outbox:
    """The outbox side of a store, for code that touches nothing else of it (the drain, the
    queue commands): each transaction yields only its outbox operations."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def read(self) -> Iterator[OutboxReader]:
        with self.store.read() as tx:
            yield tx.outbox

    @contextmanager
    def write(self) -> Iterator[OutboxWriter]:
        with self.store.write() as tx:
            yield tx.outbox


def iter_batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
