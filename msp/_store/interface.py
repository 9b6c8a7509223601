"""The store: an append-only event log plus the projections and outbox built beside it.

:class:`Store` is the small interface the session manager and the dispatcher depend on; SQLite
is the embedded implementation (:mod:`msp._store.sqlite`). A PostgreSQL backend slots in by
implementing the same two context managers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from msp._model.models import Event, Session
from msp._model.projection import SessionFolder


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
        }


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


class StoreReader(Protocol):
    def active_sessions(self) -> list[SessionRow]: ...
    def session_row(self, session_id: str) -> SessionRow | None: ...
    def find_sessions(self, prefix: str, limit: int = 5) -> list[SessionRow]: ...
    def last_session(self, project: str) -> SessionRow | None: ...
    def list_sessions(
        self, project: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[SessionRow]: ...
    def session_events(
        self,
        session_id: str,
        types: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]: ...
    def load_session(self, session_id: str, upto_seq: int | None = None) -> Session: ...
    def load_folder(self, session_id: str, upto_seq: int | None = None) -> SessionFolder: ...
    def open_blockers(self, project: str) -> list[OpenBlocker]: ...
    def events_since(
        self, after_seq: int = 0, session_id: str | None = None, since: datetime | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...
    def count_events(self, type: str | None = None) -> int: ...
    def hook_failures(self, limit: int = 50) -> list[dict[str, Any]]: ...


class StoreWriter(StoreReader, Protocol):
    def append(self, event: Event) -> int: ...
    def add_actions(self, actions: Sequence[PlannedAction]) -> int: ...
    def add_hook_failures(self, failures: Sequence[HookFailure]) -> None: ...


class Store(Protocol):
    def read(self) -> AbstractContextManager[StoreReader]: ...
    def write(self) -> AbstractContextManager[StoreWriter]: ...
    def close(self) -> None: ...


def iter_batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
