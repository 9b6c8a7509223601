"""The store: one interface for events, projections and the outbox, and its backends.

Front-ends and the dispatcher open a store with :func:`open_store` and use it only through
:class:`msp._store.interface.Store`; they never name a backend. A project uses SQLite
(``.msp/msp.db``) unless its ``[store]`` config names a team store's URL (``url_env`` or
``url_keyring``), then PostgreSQL; psycopg is imported only then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from msp._config import Project, StoreConfig
    from msp._store.interface import Store
    from msp._store.sqlite import ExportReport

Durability = Literal["off", "normal", "full"]

#: URL schemes that name a PostgreSQL store (libpq's).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_store_url(target: object) -> bool:
    return isinstance(target, str) and target.lower().startswith(POSTGRES_SCHEMES)


def store_url(config: StoreConfig) -> str | None:
    """The team store's URL the config names (``url_env`` / ``url_keyring``), None for SQLite.

    Raises :class:`msp.errors.StoreError` when it names one that cannot be read: falling back
    to a local store would split the history without anyone noticing.
    """
    if not config.url_env and not config.url_keyring:
        return None
    from msp._secrets import resolve_secret
    from msp.errors import MissingCredential, StoreError

    named = {"url_env": config.url_env} if config.url_env else {"url_keyring": config.url_keyring}
    try:
        url = resolve_secret(named, "url", integration="")
    except MissingCredential as exc:
        where = f"environment variable {config.url_env}" if config.url_env else f"keyring entry {config.url_keyring}"
        raise StoreError(
            f"[store] names the team store's URL in {where}, which is not set",
            f"set it to the store's URL (postgresql://USER@HOST/DB), or remove [store] url_env/url_keyring "
            f"to use this project's own store ({exc.hint or ''})".replace(" ()", ""),
        ) from None
    if not is_store_url(url):
        raise StoreError(
            "the team store's URL does not start with postgresql://",
            "set it to postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]",
        )
    return url


def open_store(
    target: Project | Path | str,
    *,
    synchronous: Durability | None = None,
    busy_timeout_s: float | None = None,
) -> Store:
    """Open the store of a project (as its ``[store]`` config says), the SQLite store at a path,
    or the PostgreSQL store at a ``postgresql://`` URL.

    ``synchronous`` overrides the configured durability: ``full`` survives a power cut,
    ``normal`` a process crash. The backend is imported here, on first use.
    """
    if is_store_url(target):
        from msp._store.postgres import PostgresStore

        return PostgresStore(str(target), synchronous=synchronous or "full")
    if isinstance(target, Path | str):
        path, configured = Path(target), "full"
    else:
        url = store_url(target.config.store)
        if url is not None:
            from msp._store.postgres import PostgresStore

            return PostgresStore(url, synchronous=synchronous or target.config.store.synchronous)
        path, configured = target.db_path, target.config.store.synchronous
    from msp._store.sqlite import SqliteStore

    if busy_timeout_s is None:
        return SqliteStore(path, synchronous=synchronous or configured)
    return SqliteStore(path, synchronous=synchronous or configured, busy_timeout_s=busy_timeout_s)


def migrate_store(target: Project | str) -> tuple[int, int]:
    """Bring a PostgreSQL store's schema up to this msp's (``msp store migrate``); returns the
    versions (before, after). A SQLite store migrates itself on open."""
    from msp.errors import StoreError

    url = str(target) if is_store_url(target) else store_url(target.config.store)  # type: ignore[union-attr]
    if url is None:
        raise StoreError("this project's store is SQLite, which migrates itself when opened",
                         "nothing to do; `msp store migrate` is for a team store ([store] url_env)")
    from msp._store.postgres import migrate

    return migrate(url)


#: ``msp store status`` lists the workers whose last heartbeat is this recent.
WORKERS_SEEN_MS = 24 * 3_600_000


def describe_store(target: Project, store: Store) -> dict[str, Any]:
    """What ``msp store status`` shows of a project's open store: the backend, where it is (a
    PostgreSQL URL with its password masked), its schema version and the one this msp uses,
    how many events, sessions and actions (by status) it holds, and the delivery workers seen
    in the last day (their heartbeats)."""
    import time

    url = store_url(target.config.store)
    now = int(time.time() * 1000)
    with store.read() as tx:
        events = tx.count_events()
        sessions = tx.list_sessions()
        actions = tx.outbox.counts()
        workers = tx.outbox.workers(seen_since_ms=now - WORKERS_SEEN_MS)
    info: dict[str, Any]
    if url is None:
        from msp._store.sqlite import SCHEMA_VERSION, SqliteStore

        assert isinstance(store, SqliteStore)
        info = {"backend": "sqlite", "path": str(store.path), "schema_version": store.schema_version,
                "msp_schema_version": SCHEMA_VERSION}
    else:
        from msp._store import postgres

        assert isinstance(store, postgres.PostgresStore)
        info = {"backend": "postgres", "url": postgres.redact_url(url, url), "schema_version": store.schema_version,
                "msp_schema_version": postgres.SCHEMA_VERSION}
    info.update({
        "events": events,
        "sessions": {"total": len(sessions), "active": sum(1 for s in sessions if s.status == "active")},
        "actions": {status: actions[status] for status in sorted(actions)},
        "workers": [{
            "id": w.id, "host": w.host, "pid": w.pid, "integrations": w.integrations, "delivered": w.delivered,
            "started_ms": w.started_ms, "last_beat_ms": w.last_beat_ms,
            "last_seen_s": max(0, (now - w.last_beat_ms) // 1000), "stopped": w.stopped_ms is not None,
        } for w in workers],
    })
    return info


def check_store(project: Project, limit: int = 100) -> list[str]:
    """The soundness check of a project's store, opened read-only and without the set-up an
    ordinary open does, so a store too damaged to open is still checked. Empty when sound."""
    if store_url(project.config.store) is not None:  # a team store: the server keeps its pages
        store = open_store(project)
        try:
            return store.check(limit=limit)
        finally:
            store.close()
    from msp._store.sqlite import check_file

    return check_file(project.db_path, limit)


def export_readable_events(project: Project, write: Callable[[str], None]) -> ExportReport:
    """Every event of a project's store that can still be read, each as one JSON line."""
    from msp._store.sqlite import ExportReport, export_events

    if store_url(project.config.store) is None:
        return export_events(project.db_path, write)
    import json

    report = ExportReport()
    store = open_store(project)
    try:
        after = 0
        while True:
            with store.read() as tx:
                batch = tx.events_since(after, limit=1000)
            if not batch:
                return report
            for event in batch:
                write(json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True))
                report.exported += 1
            after = batch[-1].seq or after
    finally:
        store.close()
