"""PostgreSQL implementation of the store: the team backend, through psycopg 3 and a pool.

Selected by ``[store] url_env`` (or ``url_keyring``) naming where the store's URL is; the URL
may carry a password, so it is never written anywhere and every error is redacted (see
:func:`redact_url`). TLS and other libpq options (``sslmode``, ``sslrootcert``, ...) pass through
the URL unchanged.

Transactions. ``read()`` is one ``REPEATABLE READ, READ ONLY`` transaction: a consistent
snapshot, like SQLite's. ``write()`` is ``READ COMMITTED``; its first use of anything but the
outbox takes the store's *append lock*, a transaction-level advisory lock held until commit.
That serialises the transactions that append events or plan actions, as ``BEGIN IMMEDIATE``
does on SQLite, and gives three guarantees with one lock:

- ``seq`` is commit-ordered: a seq is drawn only while the lock is held, so every event with a
  smaller seq committed before it. A reader resuming after a position (``events_since``) never
  skips an event committed later with a smaller position;
- "one active session" and other read-then-append checks of the session manager hold;
- actions enter a lane in lane order (their ``order_key`` comes from their id).

Outbox-only transactions (a drain claiming, renewing, writing outcomes) do not take the lock:
several workers claim at once with ``FOR UPDATE SKIP LOCKED`` (:mod:`msp._store.postgres_outbox`).

Schema: numbered SQL files in ``msp/_store/migrations/postgres``, applied explicitly by
:func:`migrate` (``msp store migrate``), never on open: the store is shared, and a client must
not change it under the others. Opening checks the version and says what to do when it differs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from msp._model.events import KINDS
from msp._model.models import Event, Session, format_time, parse_time
from msp._model.projection import SessionFolder, folder_of
from msp._store import session_state
from msp._store.interface import (
    BlockerSpan,
    HookFailure,
    OpenBlocker,
    PlannedAction,
    SessionRow,
    SessionTally,
    TeamConfig,
)
from msp._store.postgres_outbox import NOTIFY_CHANNEL, PostgresOutbox
from msp.errors import StoreError

#: The advisory lock key of the append lock (see the module docstring): any fixed 64-bit
#: number; this one spells "msp-app".
APPEND_LOCK = 0x6D73702D617070
#: Held (at session level) while migrations run, so two `msp store migrate` never interleave.
MIGRATE_LOCK = 0x6D73702D6D6967
MIGRATE_HINT = "run `msp store migrate` once (with a role allowed to create tables), then try again"


# --- URLs and errors: the password never leaves ----------------------------------------


_PASSWORD_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_PASSWORD_PAIR = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_url(text: str, url: str | None = None) -> str:
    """``text`` with any password removed: the one in ``url`` wherever it appears, and any
    ``scheme://user:password@`` or ``password=...`` in it."""
    if url:
        secret = _password_of(url)
        if secret:
            text = text.replace(secret, "***")
    text = _PASSWORD_IN_URL.sub(r"\1***@", text)
    return _PASSWORD_PAIR.sub(r"\1***", text)


def _password_of(url: str) -> str | None:
    try:
        return psycopg.conninfo.conninfo_to_dict(url).get("password") or None  # type: ignore[return-value]
    except psycopg.Error:
        match = re.search(r"://[^:/@\s]*:([^@\s]*)@", url)
        return match.group(1) if match else None


def describe_target(url: str) -> str:
    """Where a URL points, for messages: user, host, port and database, never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the configured PostgreSQL URL"
    host = info.get("host") or info.get("hostaddr") or "localhost"
    port = info.get("port") or "5432"
    user = f"{info['user']}@" if info.get("user") else ""
    database = info.get("dbname") or "(default database)"
    return f"postgresql://{user}{host}:{port}/{database}"


def connect_error(exc: BaseException, url: str) -> StoreError:
    """A connection failure as an error that names what to fix, without the password."""
    text = redact_url(str(exc).strip(), url)
    target = describe_target(url)
    lower = text.lower()
    if isinstance(exc, psycopg.ProgrammingError) or "invalid" in lower or 'missing "="' in lower:
        return StoreError(
            f"the team store URL is not valid: {text}",
            "fix the URL in the variable or keyring entry [store] url_env / url_keyring names "
            "(postgresql://USER@HOST:PORT/DATABASE, options such as ?sslmode=require after it)",
        )
    if "password authentication failed" in lower or "no password supplied" in lower:
        return StoreError(
            f"the team store at {target} refused the password of its role: {text}",
            "check the password in the store URL (or ~/.pgpass) for that role",
        )
    if "does not exist" in lower and "database" in lower:
        return StoreError(
            f"the team store's database does not exist at {target}: {text}",
            "create it (createdb) or fix the database name in the store URL",
        )
    if "does not exist" in lower and "role" in lower:
        return StoreError(
            f"the team store has no such role at {target}: {text}",
            "create the role (see docs/team.md) or fix the user in the store URL",
        )
    if "refused" in lower or "timeout" in lower or "could not translate" in lower or "no route" in lower:
        return StoreError(
            f"cannot reach the team store at {target}: {text}",
            "check the host and port in the store URL and that the PostgreSQL server is running and reachable",
        )
    return StoreError(f"cannot connect to the team store at {target}: {text}",
                      "check the store URL and the server (see docs/team.md)")


# --- migrations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The numbered migrations shipped with this msp, in order."""
    folder = resources.files("msp._store.migrations.postgres")
    found = []
    for item in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", item.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), item.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError("the PostgreSQL migrations are not numbered 0001, 0002, ... without gaps")
    return found


#: The schema this msp reads and writes.
SCHEMA_VERSION = len(migrations())

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def _current_version(conn: psycopg.Connection[Any]) -> int | None:
    """The store's schema version, None when it has no msp schema at all."""
    cur = conn.cursor(row_factory=tuple_row)  # whatever rows the connection makes (the pool's are dicts)
    row = cur.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return None
    found = cur.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(found[0]) if found and found[0] is not None else 0


_TEAM_CONFIG_COLUMNS = "revision, sections, changed, pushed_by, pushed_at"


def _team_config_of(row: Any) -> TeamConfig | None:
    if row is None or row["revision"] is None:
        return None
    return TeamConfig(int(row["revision"]), json.loads(row["sections"]), json.loads(row["changed"]),
                      row["pushed_by"], parse_time(row["pushed_at"]))


def _probe(conn: psycopg.Connection[Any]) -> tuple[int | None, TeamConfig | None]:
    """The store's schema version and its team config, in the round trips the version alone
    takes: every command opening the store learns the team's sections for free."""
    cur = conn.cursor(row_factory=dict_row)
    found = cur.execute("SELECT to_regclass('schema_version') IS NOT NULL AS versioned, "
                        "to_regclass('team_config') IS NOT NULL AS team").fetchone()
    if not found or not found["versioned"]:
        return None, None
    if not found["team"]:  # a schema from before the team config: the version check says what to do
        return _current_version(conn), None
    row = cur.execute(
        f"SELECT (SELECT max(version) FROM schema_version) AS version, t.* FROM (SELECT 1) AS one "
        f"LEFT JOIN (SELECT {_TEAM_CONFIG_COLUMNS} FROM team_config ORDER BY revision DESC LIMIT 1) AS t ON true"
    ).fetchone()
    assert row is not None
    return (int(row["version"]) if row["version"] is not None else None), _team_config_of(row)


def _usable(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of an idle connection before it is handed out, without a round trip in
    the usual case: a connection the server closed while it sat idle (a restart, an
    administrator's kill, an idle timeout) has something to read, its farewell or the end of
    the stream. Only then is it asked, and the pool replaces it if it does not answer."""
    import select

    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


def check_version(version: int | None, target: str) -> None:
    """Refuse a schema this msp cannot use, saying what to do."""
    if version is None or version < SCHEMA_VERSION:
        have = "no msp schema yet" if not version else f"schema version {version}"
        raise StoreError(
            f"the team store at {target} has {have}; this msp needs version {SCHEMA_VERSION}",
            MIGRATE_HINT,
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the team store at {target} has schema version {version}, newer than this msp understands "
            f"({SCHEMA_VERSION})",
            "upgrade msp on this machine to the version the team uses",
        )


def migrate(url: str, *, upto: int | None = None) -> tuple[int, int]:
    """Apply the migrations the store at ``url`` lacks (up to ``upto``); returns the versions
    (before, after). Each migration commits with its version row, so an interrupted run
    leaves a consistent schema and running it again carries on."""
    goal = SCHEMA_VERSION if upto is None else upto
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise connect_error(exc, url) from None
    target = describe_target(url)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        before = _current_version(conn) or 0
        if before > SCHEMA_VERSION:
            check_version(before, target)
        for step in migrations():
            if before < step.version <= goal:
                with conn.transaction():
                    conn.execute(_VERSION_TABLE)
                    conn.execute(step.sql.encode())  # no parameters: the file's statements as they are
                    conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                                 (step.version, step.name))
        after = _current_version(conn) or 0
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
        return before, after
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StoreError(
            f"the role in the store URL may not change the schema of {target}: {redact_url(str(exc), url)}",
            "run `msp store migrate` with the owner role (see docs/team.md); everyday use needs less",
        ) from None
    except psycopg.OperationalError as exc:
        raise connect_error(exc, url) from None
    finally:
        conn.close()


# --- the store --------------------------------------------------------------------------

#: ``synchronous`` of the store config, as PostgreSQL's ``synchronous_commit``: ``full`` waits
#: for the commit to be flushed on the server; ``normal`` does not (a server crash may lose the
#: last moments, never consistency); a client killed mid-command loses nothing either way.
_SYNCHRONOUS_COMMIT = {"full": "on", "normal": "off", "off": "off"}


class PostgresStore:
    """The team store. A pool of connections; one instance used by one thread at a time."""

    backend = "postgres"

    def __init__(self, url: str, *, synchronous: str = "full", pool_max: int = 2,
                 connect_timeout_s: float = 10.0) -> None:
        self._url = url
        self.target = describe_target(url)
        self._team: TeamConfig | None = None
        sync = _SYNCHRONOUS_COMMIT.get(synchronous, "on")
        # One direct connection first: a wrong URL, a refused connection or a failing password
        # surfaces here with libpq's own reason (a pool would only time out), and the schema is
        # checked before anything is read or written.
        options = {"connect_timeout": max(1, int(connect_timeout_s)), "autocommit": True}
        try:
            with psycopg.connect(url, **options) as probe:  # type: ignore[arg-type]
                version, self._team = _probe(probe)
        except psycopg.Error as exc:
            raise connect_error(exc, url) from None
        check_version(version, self.target)

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(sql.SQL("SET synchronous_commit = {}").format(sql.Literal(sync)))

        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_max),
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": options["connect_timeout"]},
            configure=configure,
            check=_usable,
            timeout=connect_timeout_s + 5,
            open=False,
            name="msp-store",
        )
        self._pool.open(wait=False)

    @property
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            return _current_version(conn) or 0

    def check(self, quick: bool = False, limit: int = 20) -> list[str]:
        """What can be checked without superuser rights (PostgreSQL keeps its own pages sound;
        ``amcheck`` needs a superuser msp should not have): the schema is this msp's, and the
        projections agree with the log (every session row's latest position is an event of that
        session). ``quick`` checks the schema only. At most ``limit`` problems."""
        problems: list[str] = []
        try:
            with self._pool.connection() as conn:
                version = _current_version(conn) or 0
                if version != SCHEMA_VERSION:
                    problems.append(f"schema version {version}, this msp uses {SCHEMA_VERSION}")
                if not quick:
                    cur = conn.cursor(row_factory=tuple_row)
                    rows = cur.execute(
                        "SELECT s.id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM events e "
                        "WHERE e.session_id = s.id AND e.seq = s.last_seq) LIMIT %s", (max(1, int(limit)),),
                    ).fetchall()
                    problems += [f"session {r[0]} points at an event that is not in the log" for r in rows]
        except Exception as exc:  # a server that cannot answer is a problem to report, not raise
            problems.append(f"{type(exc).__name__}: {redact_url(str(exc), self._url)}")
        return problems[: max(1, int(limit))]

    def team_config(self) -> TeamConfig | None:
        return self._team

    def close(self) -> None:
        self._pool.close()

    def waker(self) -> ListenWaker:
        """A worker's wake-ups: ``LISTEN`` on the outbox's channel, on a connection of its own."""
        return ListenWaker(self._url, self.target)

    @contextmanager
    def _transaction(self, mode: Literal["read", "write"]) -> Iterator[PostgresAccess]:
        try:
            with self._pool.connection() as conn:
                access = PostgresAccess(conn, mode)
                try:
                    yield access
                    if access.started:
                        access.commit()
                except BaseException:
                    if access.started and not conn.broken:
                        conn.execute("ROLLBACK")
                    raise
        except psycopg.errors.DiskFull:  # an OperationalError too (class 53), but nothing was lost
            raise StoreError(f"the team store at {self.target} is out of disk space; nothing of this "
                             "command was written", "free space on the database server, then run it again"
                             ) from None
        except psycopg.OperationalError as exc:
            raise self._lost(exc, mode) from None
        except psycopg.errors.QueryCanceled as exc:  # pragma: no cover - statement_timeout set by a DBA
            raise self._lost(exc, mode) from None
        except psycopg.Error as exc:
            raise StoreError(f"the team store at {self.target} refused the {mode}: "
                             f"{redact_url(str(exc), self._url)}",
                             "nothing of this command was written; fix the cause above and run it again") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreError(f"no connection to the team store at {self.target} within the time limit: "
                                 f"{redact_url(str(exc), self._url)}",
                                 "check that the server is up and reachable, then run the command again"
                                 ) from None
            raise

    def _lost(self, exc: BaseException, mode: str) -> StoreError:
        text = redact_url(str(exc).strip(), self._url)
        outcome = ("nothing of it was written" if mode == "read"
                   else "it may not have been written; running it again is safe for recorded events and queued actions")
        return StoreError(f"the connection to the team store at {self.target} failed during a {mode} "
                          f"({text}); {outcome}",
                          "check that the server is up and reachable, then run the command again")

    def read(self) -> AbstractContextManager[PostgresAccess]:
        """A consistent snapshot for several queries."""
        return self._transaction("read")

    def write(self) -> AbstractContextManager[PostgresAccess]:
        """One transaction: all of it commits, or none of it."""
        return self._transaction("write")


class ListenWaker:
    """Wakes a worker when ``add_actions`` commits (``NOTIFY msp_outbox``, payload: the integration).

    One asyncio connection in autocommit mode ``LISTEN``s; a task reads its notifications as
    they arrive, so none is missed between two waits. Should that connection fail, the worker
    still wakes at every time-out (its poll interval), and the connection is made again.
    """

    notified = True

    def __init__(self, url: str, target: str) -> None:
        self._url = url
        self._target = target
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._reader: Any = None  # asyncio.Task reading notifications
        self._names: set[str] = set()
        self._event: Any = None  # asyncio.Event: a notification came in

    async def start(self) -> None:
        """Listen from now on (before the worker's first look at the outbox, so nothing queued
        after that look goes unnoticed)."""
        import asyncio

        if self._event is None:
            self._event = asyncio.Event()
        if self._conn is not None and not self._conn.closed:
            return
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True, connect_timeout=10)
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
        except psycopg.Error as exc:
            raise connect_error(exc, self._url) from None
        self._conn = conn
        self._reader = asyncio.create_task(self._read(conn))

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            async for note in conn.notifies():
                self._names.add(note.payload)
                self._event.set()
        except psycopg.Error:
            pass  # the connection is gone: waits time out (a poll) until start() makes a new one
        finally:
            self._event.set()

    async def wait(self, timeout_s: float) -> set[str] | None:
        import asyncio

        if self._conn is None or self._conn.closed or (self._reader is not None and self._reader.done()):
            try:
                await self._reopen()
            except StoreError:
                await asyncio.sleep(max(0.0, timeout_s))
                return set()  # cannot listen: behave as a poll
        if not self._event.is_set():
            try:
                async with asyncio.timeout(max(0.0, timeout_s)):
                    await self._event.wait()
            except TimeoutError:
                return None
        return self.take()

    async def _reopen(self) -> None:
        await self.aclose()
        await self.start()

    def take(self) -> set[str]:
        names, self._names = self._names, set()
        if self._event is not None:
            self._event.clear()
        return names

    async def aclose(self) -> None:
        import asyncio
        import contextlib

        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._reader
            self._reader = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None


def _advanced(row: SessionRow, changed: dict[str, Any], at: str) -> SessionRow:
    """``row`` as an append's UPDATE leaves it: the changed columns (times as the state holds
    them, text), the event's time, one event more."""
    import dataclasses

    fields: dict[str, Any] = {c: (parse_time(v) if c in ("started_at", "ended_at") and v is not None else v)
                              for c, v in changed.items()}
    return dataclasses.replace(row, **fields, last_at=parse_time(at), event_count=row.event_count + 1)


def _row_to_session(row: dict[str, Any]) -> SessionRow:
    return SessionRow(
        id=row["id"],
        project=row["project"],
        status=row["status"],
        started_at=parse_time(row["started_at"]),
        ended_at=parse_time(row["ended_at"]) if row["ended_at"] else None,
        start_progress=row["start_progress"],
        progress=row["progress"],
        last_at=parse_time(row["last_at"]),
        goal=row["goal"],
        issue=row["issue"],
        event_count=row["event_count"],
        user=row["user"],
        host=row["host"],
    )


def _row_to_event(row: dict[str, Any]) -> Event:
    return Event(
        id=row["id"],
        type=row["type"],
        session_id=row["session_id"],
        project=row["project"],
        at=parse_time(row["at"]),
        source=row["source"],
        data=json.loads(row["data"]),
        seq=row["seq"],
    )


_SESSION_COLUMNS = ("id, project, status, started_at, ended_at, start_progress, progress, last_at, goal, issue, "
                    'event_count, "user", host')  # "user" quoted: a reserved word
_EVENT_COLUMNS = "seq, id, type, session_id, project, at, source, data"


class PostgresAccess(session_state.SessionLoads):
    """Queries and appends inside one transaction (``BEGIN`` is sent with the first query)."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]], mode: Literal["read", "write"]) -> None:
        self._conn = conn
        self._mode = mode
        self.started = False
        self._locked = False
        self._rows: dict[str, SessionRow] = {}
        #: Writes whose results nobody reads (a session row's update after an append), sent with
        #: the next statement or the COMMIT rather than in a round trip of their own.
        self._deferred: list[tuple[bytes, list[Any]]] = []
        self.outbox = PostgresOutbox(self)

    # --- the transaction ------------------------------------------------------------------

    def execute(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
                lock: bool = False) -> psycopg.Cursor[dict[str, Any]]:
        """Run one statement in this transaction. ``lock``: the statement needs the append lock
        (in a write transaction)."""
        conn = self._conn
        lock = lock and self._mode == "write" and not self._locked
        if self.started and not lock and not self._deferred:
            return conn.execute(query.encode(), params)
        # BEGIN, the lock, deferred writes and this statement in one round trip (a pipeline).
        with conn.pipeline():
            self._send_deferred()
            if not self.started:
                self.started = True
                conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" if self._mode == "read" else b"BEGIN")
            if lock:
                conn.execute(b"SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
                self._locked = True
            cur = conn.execute(query.encode(), params)
        return cur

    def _send_deferred(self) -> None:
        for query, params in self._deferred:
            self._conn.execute(query, params)
        self._deferred.clear()

    def commit(self) -> None:
        """COMMIT, with the deferred writes ahead of it in the same round trip."""
        if not self._deferred:
            self._conn.execute(b"COMMIT")
            return
        with self._conn.pipeline():
            self._send_deferred()
            self._conn.execute(b"COMMIT")

    def _x(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> psycopg.Cursor[dict[str, Any]]:
        # Everything but the outbox reads and writes under the append lock in a write
        # transaction, so a read-check-append sequence of the session manager is atomic.
        return self.execute(query, params, lock=True)

    # --- reads ----------------------------------------------------------------------------

    def active_sessions(self, project: str | None = None, user: str | None = None) -> list[SessionRow]:
        clauses: list[str] = ["status = 'active'"]
        params: list[Any] = []
        if project is not None:
            clauses.append("project = %s")
            params.append(project)
        if user is not None:  # a session from before engineers is everyone's
            clauses.append('("user" IS NULL OR "user" = %s)')
            params.append(user)
        rows = self._x(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(clauses)} ORDER BY started_at",
                       params)
        out = [_row_to_session(r) for r in rows]
        self._rows.update((r.id, r) for r in out)
        return out

    def session_row(self, session_id: str) -> SessionRow | None:
        cached = self._rows.get(session_id)
        if cached is not None:
            return cached
        row = self._x(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = %s", (session_id,)).fetchone()
        if row is None:
            return None
        found = self._rows[session_id] = _row_to_session(row)
        return found

    def find_sessions(self, part: str, limit: int = 5) -> list[SessionRow]:
        # strpos, not LIKE: `%` and `_` in user text mean themselves.
        rows = self._x(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE strpos(id, %s) > 0 ORDER BY id LIMIT %s",
                       (part, limit))
        return [_row_to_session(r) for r in rows]

    def last_session(self, project: str) -> SessionRow | None:
        row = self._x(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE project = %s ORDER BY started_at DESC LIMIT 1",
            (project,),
        ).fetchone()
        return _row_to_session(row) if row else None

    def list_sessions(
        self, project: str | None = None, since: datetime | None = None, limit: int | None = None,
        user: str | None = None,
    ) -> list[SessionRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if project is not None:
            clauses.append("project = %s")
            params.append(project)
        if user is not None:
            clauses.append('"user" = %s')
            params.append(user)
        if since is not None:
            clauses.append("(started_at >= %s OR status = 'active' OR ended_at >= %s)")
            params += [format_time(since)] * 2
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT {_SESSION_COLUMNS} FROM sessions {where} ORDER BY started_at DESC"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return [_row_to_session(r) for r in self._x(query, params)]

    def session_events(
        self,
        session_id: str,
        types: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE session_id = %s"
        params: list[Any] = [session_id]
        if types:
            query += " AND type = ANY(%s)"
            params.append(list(types))
        query += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return [_row_to_event(r) for r in self._x(query, params)]

    def _fold(self, session_id: str, events: list[Event]) -> SessionFolder:
        """Fold ``events`` of one session, with the blocker resolutions other sessions hold."""
        raised = [e.data["id"] for e in events if e.type == "blocker_raised"]
        resolved_here = [e.data["blocker_id"] for e in events if e.type == "blocker_resolved"]
        resolutions: dict[str, Event] = {}
        if raised:
            # Resolutions of this session's blockers recorded in other sessions.
            for row in self._x(
                f"SELECT b.id AS blocker, {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))} "
                "FROM blockers b JOIN events e ON e.seq = b.resolved_seq "
                "WHERE b.id = ANY(%s) AND e.session_id <> %s",
                (raised, session_id),
            ):
                resolutions[row["blocker"]] = _row_to_event(row)
        foreign: dict[str, Event] = {}
        local = set(raised)
        foreign_ids = [b for b in resolved_here if b not in local]
        if foreign_ids:
            # Blockers raised elsewhere and resolved here.
            for row in self._x(
                f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))} "
                "FROM blockers b JOIN events e ON e.seq = b.raised_seq WHERE b.id = ANY(%s)",
                (foreign_ids,),
            ):
                ev = _row_to_event(row)
                foreign[ev.data["id"]] = ev
        return folder_of(events, resolutions, foreign)

    def hook_session(self, session_id: str, recent: int) -> Session:
        """The session as it stands with its latest ``recent`` updates, from the stored
        projection: the session row's state, the latest updates and the other items, each read
        through the events index. No update but those is read."""
        row = self._x(
            "SELECT state, last_at, last_seq, (SELECT min(seq) FROM events WHERE session_id = %s "
            "AND type = 'session_started') AS started_seq FROM sessions WHERE id = %s",
            (session_id, session_id),
        ).fetchone()
        if row is None:
            raise KeyError(session_id)
        if row["state"] is None:  # a row from before migration 0002: fold once
            return self.load_folder(session_id).view(recent)
        folder = self._fold(session_id, self.session_events(session_id, session_state.OTHER_ITEM_TYPES))
        latest = (self.session_events(session_id, session_state.UPDATE_TYPES, limit=recent, newest_first=True)
                  if recent > 0 else [])
        return session_state.hook_view(folder, row["state"], row["last_at"], int(row["last_seq"]),
                                       row["started_seq"], latest)

    def open_blockers(self, project: str) -> list[OpenBlocker]:
        rows = self._x(
            "SELECT id, session_id, text FROM blockers WHERE project = %s AND resolved_seq IS NULL "
            "AND retracted_seq IS NULL ORDER BY raised_seq",
            (project,),
        )
        return [OpenBlocker(r["id"], r["session_id"], r["text"]) for r in rows]

    def session_tallies(
        self, since: datetime | None = None, until: datetime | None = None, project: str | None = None
    ) -> list[SessionTally]:
        where, params = session_state.window_where("sessions", "%s", since, until, project)
        rows = self._x(
            f"SELECT {_SESSION_COLUMNS}, (state::json -> 'counts')::text AS counts_json, state IS NULL AS no_state "
            f"FROM sessions {where} ORDER BY started_at, id", params,
        ).fetchall()
        out = []
        for r in rows:
            counts = (session_state.folded_counts(self.load_folder(r["id"])) if r["no_state"]
                      else session_state.list_counts(r["counts_json"]))
            out.append(SessionTally(_row_to_session(r), counts))
        return out

    def blocker_spans(
        self, since: datetime | None = None, until: datetime | None = None, project: str | None = None
    ) -> list[BlockerSpan]:
        where, params = session_state.window_where("blockers", "%s", since, until, project)
        rows = self._x(
            "SELECT b.id, b.project, b.session_id, r.at AS raised_at, x.at AS resolved_at, "
            "x.session_id AS resolved_in FROM blockers b JOIN events r ON r.seq = b.raised_seq "
            f"LEFT JOIN events x ON x.seq = b.resolved_seq {where} ORDER BY b.raised_seq", params,
        )
        return [BlockerSpan(r["id"], r["project"], r["session_id"], parse_time(r["raised_at"]),
                            parse_time(r["resolved_at"]) if r["resolved_at"] else None, r["resolved_in"])
                for r in rows]

    def find_items(self, project: str, needle: str, types: Sequence[str], limit: int = 10) -> list[Event]:
        # strpos, not LIKE: `%` and `_` in user text mean themselves.
        rows = self._x(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE project = %s AND type = ANY(%s) "
            "AND strpos(data::jsonb ->> 'id', %s) > 0 ORDER BY seq LIMIT %s",
            (project, list(types), needle, limit),
        )
        return [_row_to_event(r) for r in rows]

    def events_since(
        self, after_seq: int = 0, session_id: str | None = None, since: datetime | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > %s"
        params: list[Any] = [after_seq]
        if session_id is not None:
            query += " AND session_id = %s"
            params.append(session_id)
        if since is not None:
            query += " AND at_ms >= %s"
            params.append(int(since.timestamp() * 1000))
        query += " ORDER BY seq LIMIT %s"
        params.append(limit)
        return [_row_to_event(r) for r in self._x(query, params)]

    def count_events(self, type: str | None = None) -> int:
        if type is None:
            row = self._x("SELECT count(*) AS n FROM events").fetchone()
        else:
            row = self._x("SELECT count(*) AS n FROM events WHERE type = %s", (type,)).fetchone()
        return int(row["n"]) if row else 0

    def hook_failures(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._x(
            "SELECT event_id, integration, hook, error, at_ms FROM hook_failures ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [dict(r) for r in rows]

    def events_present(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return {r["id"] for r in self._x("SELECT id FROM events WHERE id = ANY(%s)", (list(ids),))}

    def team_config(self) -> TeamConfig | None:
        return _team_config_of(self._x(
            f"SELECT {_TEAM_CONFIG_COLUMNS} FROM team_config ORDER BY revision DESC LIMIT 1").fetchone())

    # --- writes ---------------------------------------------------------------------------

    def add_team_config(self, sections: dict[str, dict[str, Any]], changed: Sequence[str], pushed_by: str,
                        pushed_at: datetime) -> int:
        # Under the append lock (_x): the latest revision read here stays the latest until commit.
        row = self._x(
            "INSERT INTO team_config (revision, sections, changed, pushed_by, pushed_at) "
            "SELECT coalesce(max(revision), 0) + 1, %s, %s, %s, %s FROM team_config RETURNING revision",
            (json.dumps(sections, sort_keys=True), json.dumps(list(changed)), pushed_by, format_time(pushed_at)),
        ).fetchone()
        assert row is not None
        return int(row["revision"])

    def append(self, event: Event) -> int:
        """Append one event and fold it into the session projection and the blocker index, as
        its kind declares (msp._model.events): the fields it sets, the list its item joins,
        the blocker it resolves. The event goes in with the read of its session's state (one
        round trip); the append lock keeps that state current until commit."""
        at = format_time(event.at)
        at_ms = int(event.at.timestamp() * 1000)
        found = self._x(
            "WITH ev AS (INSERT INTO events (id, type, session_id, project, at, at_ms, source, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq) "
            "SELECT ev.seq, s.id IS NOT NULL AS known, s.state FROM ev LEFT JOIN sessions s ON s.id = %s",
            [event.id, event.type, event.session_id, event.project, at, at_ms, event.source, event.data_json(),
             event.session_id],
        ).fetchone()
        assert found is not None
        seq = int(found["seq"])
        kind = KINDS.get(event.type)
        if kind is not None and kind.joins == "blockers" and kind.view is not None:
            blocker = kind.view(event)
            self._x(
                "INSERT INTO blockers (id, project, session_id, text, raised_seq) VALUES (%s, %s, %s, %s, %s)",
                (event.data["id"], event.project, event.session_id, getattr(blocker, "text", ""), seq),
            )
        if kind is not None and kind.resolves is not None:
            self._x("UPDATE blockers SET resolved_seq = %s WHERE id = %s", (seq, kind.resolves(event)))
        if kind is not None and kind.retracts is not None:
            taken, item_id = kind.retracts(event)
            if taken == "blocker":
                self._x("UPDATE blockers SET retracted_seq = %s WHERE id = %s", (seq, item_id))
        joins = session_state.joins(event)
        changed = session_state.changed_fields(event)  # as the state column holds them
        state: dict[str, Any] | None
        if not found["known"]:
            state = session_state.opening_state(changed, joins)
            if state is None:
                self._rows.pop(event.session_id, None)
                return seq  # an event of a session never started only joins the log
            self._x(
                "INSERT INTO sessions (id, project, status, started_at, start_progress, progress, "
                "last_seq, last_at, event_count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0)",
                (event.session_id, changed["project"], changed["status"], changed["started_at"],
                 changed["start_progress"], changed["progress"], seq, at),
            )
        elif found["state"] is None:  # a row from before migration 0002: fold the session once
            state = session_state.folded_state(self.load_folder(event.session_id))
            changed = {c: state["fields"].get(c) for c in session_state.ROW_COLUMNS}
        else:
            # Kept as JSON text throughout (times stay text): an append parses no time.
            state = json.loads(found["state"])
            session_state.apply_to_state(state, changed, joins)
        # Column names come from our own tuple, never from event data.
        columns = [c for c in session_state.ROW_COLUMNS if c in changed]
        assignments = "".join(f'"{c}" = %s, ' for c in columns)  # quoted: "user" is a reserved word
        values = [*(changed[c] for c in columns), session_state.encode_state(state), seq, at, event.session_id]
        known = self._rows.get(event.session_id)
        if found["known"] and known is not None:
            # The row read in this transaction, advanced here as the UPDATE advances it: the
            # UPDATE itself goes out with the next statement or the COMMIT (one round trip less
            # per append; the append lock keeps the row ours until then).
            self._rows[event.session_id] = _advanced(known, {c: changed[c] for c in columns}, at)
            self._deferred.append((
                f"UPDATE sessions SET {assignments}state = %s, last_seq = %s, last_at = %s, "
                "event_count = event_count + 1 WHERE id = %s".encode(), values))
            return seq
        updated = self._x(
            f"UPDATE sessions SET {assignments}state = %s, last_seq = %s, last_at = %s, "
            f"event_count = event_count + 1 WHERE id = %s RETURNING {_SESSION_COLUMNS}",
            values,
        ).fetchone()
        if updated is not None:
            self._rows[event.session_id] = _row_to_session(updated)
        else:
            self._rows.pop(event.session_id, None)
        return seq

    def add_actions(self, actions: Sequence[PlannedAction]) -> int:
        """Insert planned actions; an idempotency key already present is skipped."""
        return self.outbox.add_actions(actions)

    def add_hook_failures(self, failures: Sequence[HookFailure]) -> None:
        from msp._logging import redact

        if not failures:
            return
        now_ms = int(time.time() * 1000)
        self._x(
            "INSERT INTO hook_failures (event_id, integration, hook, error, at_ms) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[])",
            (
                [f.event_id for f in failures],
                [f.integration for f in failures],
                [f.hook for f in failures],
                [redact(f.error)[:2000] for f in failures],
                [now_ms] * len(failures),
            ),
        )
