"""What delivery workers (``msp dispatch --worker``) read and write through the store: their
heartbeat rows and the waker they sleep on. Apart from msp._store.interface, which every
command imports, since only a worker and ``msp store status`` need them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class WorkerRow:
    """A delivery worker as its heartbeats describe it (``msp dispatch --worker``).

    ``id`` is the lease owner its claims carry; ``integrations`` are those it delivers;
    ``delivered`` counts the actions it delivered since it started. ``stopped_ms`` is set when it
    stopped cleanly; a worker killed outright just stops beating."""

    id: str
    host: str
    pid: int
    started_ms: int
    last_beat_ms: int
    integrations: list[str] = field(default_factory=list)
    delivered: int = 0
    stopped_ms: int | None = None


class Waker(Protocol):
    """What a worker sleeps on between claims: woken when actions may have been queued.

    PostgreSQL: ``LISTEN`` on the outbox's channel (``add_actions`` notifies on commit).
    SQLite: the database file is polled for a commit by any connection (``PRAGMA data_version``).
    """

    #: Whether being woken follows a notification (True) or a poll of the store (False).
    notified: bool

    async def start(self) -> None:
        """Begin watching (before the worker's first look at the outbox)."""
        ...

    async def wait(self, timeout_s: float) -> set[str] | None:
        """Sleep until woken or ``timeout_s`` passes. Returns the integrations named by the
        wake-ups (empty when the backend cannot tell which), or None on time-out."""
        ...

    def take(self) -> set[str]:
        """The integrations named by wake-ups that came in since the last call, without waiting."""
        ...

    async def aclose(self) -> None: ...
