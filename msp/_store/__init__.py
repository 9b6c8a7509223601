"""The store: one interface for events, projections and the outbox, and its backends.

Front-ends and the dispatcher open a store with :func:`open_store` and use it only through
:class:`msp._store.interface.Store`; they never name a backend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from msp._config import Project
    from msp._store.interface import Store
    from msp._store.sqlite import ExportReport

Durability = Literal["off", "normal", "full"]


def open_store(
    target: Project | Path | str,
    *,
    synchronous: Durability | None = None,
    busy_timeout_s: float | None = None,
) -> Store:
    """Open the store of a project (as its ``[store]`` config says), or the one at a path.

    ``synchronous`` overrides the configured durability: ``full`` survives a power cut,
    ``normal`` a process crash. The backend is imported here, on first use.
    """
    from msp._store.sqlite import SqliteStore

    if isinstance(target, Path | str):
        path, configured = Path(target), "full"
    else:
        path, configured = target.db_path, target.config.store.synchronous
    if busy_timeout_s is None:
        return SqliteStore(path, synchronous=synchronous or configured)
    return SqliteStore(path, synchronous=synchronous or configured, busy_timeout_s=busy_timeout_s)


def check_store(project: Project, limit: int = 100) -> list[str]:
    """The soundness check of a project's store, opened read-only and without the set-up an
    ordinary open does, so a store too damaged to open is still checked. Empty when sound."""
    from msp._store.sqlite import check_file

    return check_file(project.db_path, limit)


def export_readable_events(project: Project, write: Callable[[str], None]) -> ExportReport:
    """Every event of a project's store that can still be read, each as one JSON line."""
    from msp._store.sqlite import export_events

    return export_events(project.db_path, write)
