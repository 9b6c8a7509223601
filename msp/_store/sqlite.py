"""SQLite implementation of the store: WAL mode, one ``BEGIN IMMEDIATE`` per command.

Several processes may write at once (CLI commands, a background drain, an MCP server). Writers
take the write lock up front with ``BEGIN IMMEDIATE`` so a transaction never has to upgrade a
read lock (the cause of most "database is locked" errors), and a busy lock is waited out with
backoff instead of surfacing to the user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from msp.errors import StoreBusy as StoreBusy  # defined with the public tree; importable here too
from msp.errors import StoreError

if TYPE_CHECKING:
    from msp._store.sqlite_outbox import SqliteOutbox

#: Each entry migrates the schema from version ``index`` to ``index + 1``. Never edit a
#: released entry: add a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        session_id TEXT NOT NULL,
        project TEXT NOT NULL,
        at TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        source TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_session ON events(session_id, type, seq);
    CREATE INDEX events_by_time ON events(at_ms);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        start_progress INTEGER NOT NULL,
        progress INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_at TEXT NOT NULL,
        goal TEXT,
        issue TEXT,
        event_count INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_project ON sessions(project, started_at);
    CREATE INDEX sessions_by_start ON sessions(started_at);
    CREATE INDEX sessions_by_status ON sessions(status);

    CREATE TABLE blockers (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        session_id TEXT NOT NULL,
        text TEXT NOT NULL,
        raised_seq INTEGER NOT NULL,
        resolved_seq INTEGER
    );
    CREATE INDEX blockers_open ON blockers(project, resolved_seq);

    CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        event_id TEXT NOT NULL,
        integration TEXT NOT NULL,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        session_id TEXT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        lease_until_ms INTEGER,
        lease_owner TEXT,
        last_error TEXT,
        result TEXT,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX actions_by_status ON actions(status, next_attempt_ms);
    CREATE INDEX actions_in_order ON actions(integration, session_id, id);

    CREATE TABLE hook_failures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        integration TEXT NOT NULL,
        hook TEXT NOT NULL,
        error TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX hook_failures_by_integration ON hook_failures(integration, id);
    """,
    # 2: the dispatcher's outbox columns (msp/_dispatch). ``order_key`` orders a lane
    # (integration, session): the row id zero-padded, and for a follow-up action its parent's key
    # plus its index, so follow-ups sort right after their parent.
    """
    ALTER TABLE actions ADD COLUMN order_key TEXT;
    ALTER TABLE actions ADD COLUMN parent_id INTEGER;
    ALTER TABLE actions ADD COLUMN window_start_ms INTEGER;
    ALTER TABLE actions ADD COLUMN last_status INTEGER;
    UPDATE actions SET order_key = printf('%012d', id) WHERE order_key IS NULL;
    CREATE TRIGGER actions_order_key AFTER INSERT ON actions WHEN NEW.order_key IS NULL
        BEGIN UPDATE actions SET order_key = printf('%012d', NEW.id) WHERE id = NEW.id; END;
    CREATE INDEX actions_lane_active ON actions(integration, session_id, order_key)
        WHERE status IN ('pending', 'in_flight');
    CREATE INDEX actions_claim ON actions(integration, status, order_key);
    """,
    # 3: the session projection's folded fields and list counts as JSON (msp._store.session_state), so
    # the session a hook receives is read, not re-folded from every event. NULL on the rows of an
    # older store: such a session is folded once from its events, at its next event. And what a
    # file action writes (outbox_rules.file_target), so a newer write finds the waiting ones it
    # supersedes through an index that holds only waiting actions.
    """
    ALTER TABLE sessions ADD COLUMN state TEXT;
    ALTER TABLE actions ADD COLUMN target TEXT;
    CREATE INDEX actions_supersede ON actions(integration, target) WHERE status IN ('pending', 'held');
    """,
    # 4: what an attempt is (issue 12). ``started_ms``: the drain holding the lease started
    # delivering the action (a reclaimed lease counts an attempt only then); leases taken
    # before this migration are taken as started. ``offline_attempts``: attempts that never
    # reached the service, bounded by age rather than ``max_attempts``.
    """
    ALTER TABLE actions ADD COLUMN started_ms INTEGER;
    ALTER TABLE actions ADD COLUMN offline_attempts INTEGER NOT NULL DEFAULT 0;
    UPDATE actions SET started_ms = updated_ms WHERE status = 'in_flight';
    """,
    # 5: a session's engineer (msp._model.identity), so "one active session" holds per engineer
    # and project. Taken from the session_started events, which have carried them all along;
    # NULL where one did not (such a session belongs to whoever asks). The projection's state
    # gets them too, so a hook's session shows them without a re-fold.
    """
    ALTER TABLE sessions ADD COLUMN "user" TEXT;
    ALTER TABLE sessions ADD COLUMN host TEXT;
    UPDATE sessions SET
        "user" = (SELECT json_extract(e.data, '$.user') FROM events e
                  WHERE e.session_id = sessions.id AND e.type = 'session_started' ORDER BY e.seq LIMIT 1),
        host = (SELECT json_extract(e.data, '$.host') FROM events e
                WHERE e.session_id = sessions.id AND e.type = 'session_started' ORDER BY e.seq LIMIT 1);
    UPDATE sessions SET state = json_set(state, '$.fields.user', "user", '$.fields.host', host)
        WHERE state IS NOT NULL;
    CREATE INDEX sessions_active_by_engineer ON sessions(project, "user") WHERE status = 'active';
    """,
    # 6: delivery workers (``msp dispatch --worker``) as their heartbeats describe them, for
    # ``msp store status``. ``integrations`` is a JSON list of the integrations a worker serves.
    """
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        last_beat_ms INTEGER NOT NULL,
        integrations TEXT NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        stopped_ms INTEGER
    );
    CREATE INDEX workers_by_beat ON workers(last_beat_ms);
    """,
    # 7: the team's integration sections (`msp config push`), one row per revision: all the
    # sections as they are after it (JSON), which ones it changed, who pushed it and when.
    """
    CREATE TABLE team_config (
        revision INTEGER PRIMARY KEY,
        sections TEXT NOT NULL,
        changed TEXT NOT NULL,
        pushed_by TEXT NOT NULL,
        pushed_at TEXT NOT NULL
    );
    """,
    # 8: a blocker taken back (`msp retract`, event item_retracted) leaves the index of open
    # blockers: ``retracted_seq`` is that event's position, NULL while the blocker stands.
    """
    ALTER TABLE blockers ADD COLUMN retracted_seq INTEGER;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
_SYNCHRONOUS = {"off": "OFF", "normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _retry_busy(fn: Any, deadline_s: float) -> Any:
    """Call ``fn`` until it stops failing with a busy lock, with jittered backoff.

    Past the deadline the user gets a :class:`StoreBusy` that says what to do, never SQLite's
    bare "database is locked".
    """
    give_up = time.monotonic() + deadline_s
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if time.monotonic() > give_up:
                raise StoreBusy(
                    f"the store stayed busy for over {deadline_s:g} s: another process holds its write lock",
                    "try again; if it keeps happening, look for a stuck msp process using this project",
                ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)


# --- what SQLite's errors mean to the person at the keyboard ---------------------------------

#: SQLite result codes (``sqlite3.Error.sqlite_errorname``) that say something about the store
#: or its disk rather than about msp's own SQL; each becomes a StoreError saying what to do.
_FULL = ("SQLITE_FULL",)
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_NOT_WRITABLE = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")
_DISK = ("SQLITE_IOERR",)
#: Below this much free space, an I/O error is taken for a full disk (SQLite reports a full disk
#: as an I/O error when it happens while creating the -wal or -shm file).
_NEARLY_FULL_BYTES = 256 * 1024
CHECK_HINT = (
    "run `msp store check` to see what is damaged; `msp store check --export FILE` saves every event it can "
    "still read"
)


def _errorname(exc: BaseException) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def _owner(path: Path) -> str | None:
    """Who owns ``path``, when it is someone other than the user running msp."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        uid = path.stat().st_uid
    except OSError:
        return None
    if uid == os.geteuid():
        return None
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"user id {uid}"


def _disk_nearly_full(folder: Path) -> bool:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
        return False
    return st.f_bavail * st.f_frsize < _NEARLY_FULL_BYTES


def _not_writable(path: Path, detail: str) -> StoreError:
    import shlex  # here: only this error's hint quotes a path

    folder = path.parent
    me = "the user running msp"
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and not os.access(candidate, os.R_OK | os.W_OK):
            owner = _owner(candidate)
            if owner is not None:
                return StoreError(
                    f"msp cannot write the store file {candidate}: it belongs to {owner}, not to {me} ({detail})",
                    f"run msp as {owner}, or make the project's msp files yours: "
                    f"`sudo chown -R \"$(id -un)\" {shlex.quote(str(folder))}`",
                )
            return StoreError(f"the store file {candidate} is read-only ({detail})",
                              f"make it writable: `chmod u+rw {shlex.quote(str(candidate))}`")
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        owner = _owner(folder)
        whose = f"; it belongs to {owner}" if owner else ""
        # Never "move the store aside": nothing is wrong with it, only with where it lives.
        return StoreError(
            f"the folder {folder} is not writable{whose} ({detail}); msp writes its journal files "
            f"({path.name}-wal, {path.name}-shm) beside the store, even to read it",
            (f"run msp as {owner}, or " if owner else "")
            + f"make the folder writable: `chmod u+rwx {shlex.quote(str(folder))}`",
        )
    return StoreError(f"msp cannot open the store {path} for writing ({detail})",
                      f"check that {folder} and the msp.db files in it belong to you and are writable")


def explain(exc: BaseException, path: Path) -> StoreError | None:
    """The StoreError that says what ``exc`` (raised using the store at ``path``) means and
    what to do; None when it is not about the store or its disk (a bug of msp's own)."""
    name = _errorname(exc)
    detail = str(exc)
    if isinstance(exc, OSError):  # the folder itself could not be made or reached
        name = "SQLITE_FULL" if exc.errno == 28 else "SQLITE_CANTOPEN"
        detail = exc.strerror or detail
    elif not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) or isinstance(
            exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return None
    if name.startswith(_FULL) or (name.startswith(_DISK) and _disk_nearly_full(path.parent)):
        return StoreError(
            f"no space left on the disk holding the store {path} ({detail}); nothing was written",
            "free some space on that disk and run the command again",
        )
    if name.startswith(_DAMAGED) or (not name and ("malformed" in detail or "not a database" in detail)):
        return StoreError(f"the store {path} is damaged: {detail}", CHECK_HINT)
    if name.startswith(_NOT_WRITABLE):
        return _not_writable(path, detail)
    if name.startswith(_DISK):
        return StoreError(f"the disk failed reading or writing the store {path}: {detail}",
                          "check the disk and its free space, then run `msp store check`")
    # Anything else (SQLITE_ERROR: no such table, a syntax error; a busy lock, which _retry_busy
    # waits out) is msp's own business, and reported as the bug it is.
    return None


class SqliteStore:
    """The embedded store. One connection per instance; not shared across threads."""

    backend = "sqlite"

    def __init__(self, path: Path, *, synchronous: str = "full", busy_timeout_s: float = 60.0) -> None:
        self.path = path
        self._busy_s = busy_timeout_s
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise (explain(exc, path) or StoreError(f"cannot open the store at {path}: {exc}",
                                                    "check that the folder is yours and writable")) from exc
        self._db.row_factory = sqlite3.Row
        try:
            _retry_busy(lambda: self._setup(_SYNCHRONOUS.get(synchronous, "FULL")), busy_timeout_s)
        except StoreError:
            self._db.close()
            raise
        except sqlite3.Error as exc:
            self._db.close()
            raise (explain(exc, path) or StoreError(f"the store {path} cannot be used: {exc}", CHECK_HINT)) from exc

    def _setup(self, synchronous: str) -> None:
        db = self._db
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {version}, newer than this msp understands ({SCHEMA_VERSION})",
                "upgrade msp",
            )
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store has schema version {version}, newer than this msp understands ({SCHEMA_VERSION})",
                    "upgrade msp",
                )
            for index in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[index].split(";\n"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def waker(self) -> FileWaker:
        """A worker's wake-ups: the database file polled for commits (SQLite has no notifications)."""
        return FileWaker(self.path)

    def team_config(self) -> TeamConfig | None:
        with self.read() as tx:
            return tx.team_config()

    def _translated(self, exc: BaseException) -> BaseException:
        """``exc``, or the StoreError saying what it means (a full disk, a damaged file...)."""
        return explain(exc, self.path) or exc

    @contextmanager
    def read(self) -> Iterator[SqliteAccess]:
        """A consistent snapshot for several queries."""
        try:
            _retry_busy(lambda: self._db.execute("BEGIN"), self._busy_s)
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        try:
            yield SqliteAccess(self._db)
            if self._db.in_transaction:  # an I/O error may have ended it already
                self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the first error says more
                    self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._translated(exc) from exc
            raise

    @contextmanager
    def write(self) -> Iterator[SqliteAccess]:
        """One transaction holding the write lock from its first statement."""
        try:
            _retry_busy(lambda: self._db.execute("BEGIN IMMEDIATE"), self._busy_s)
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        try:
            yield SqliteAccess(self._db)
            _retry_busy(lambda: self._db.execute("COMMIT"), self._busy_s)
        except BaseException as exc:
            # SQLite may already have rolled back (e.g. on a full disk); don't mask that error.
            if self._db.in_transaction:
                # The original error says more; SQLite rolls back on the next open anyway.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._translated(exc) from exc
            raise

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def check(self, quick: bool = False, limit: int = 20) -> list[str]:
        """SQLite's own soundness check (``quick_check`` or the full ``integrity_check``): the
        problems it reports, at most ``limit``; empty when the store is sound."""
        pragma = "quick_check" if quick else "integrity_check"
        try:
            found = [str(r[0]) for r in self._db.execute(f"PRAGMA {pragma}({max(1, int(limit))})")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if found == ["ok"] else found


# --- msp store check: a store that may not even open ---------------------------------------


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StoreError(f"there is no store at {path}", "run `msp init` to create one")
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise (explain(exc, path) or StoreError(f"cannot open {path}: {exc}", "check its permissions")) from exc
    con.row_factory = sqlite3.Row
    return con


def check_file(path: Path, limit: int = 100) -> list[str]:
    """SQLite's ``integrity_check`` of the store file at ``path``, opened read-only and without
    the schema set-up an ordinary open does (which a damaged file may not survive)."""
    con = _open_readonly(path)
    try:
        found = [str(r[0]) for r in con.execute(f"PRAGMA integrity_check({max(1, int(limit))})")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        con.close()
    return [] if found == ["ok"] else found


@dataclass
class ExportReport:
    """What :func:`export_events` saved and what it could not read."""

    exported: int = 0
    #: Sequence numbers (or ranges ``a-b``) of events that could not be read.
    unreadable: list[str] = field(default_factory=list)
    #: Why the scan stopped early, when it did.
    stopped: str | None = None


def _event_line(row: sqlite3.Row) -> str:
    record: dict[str, Any] = {k: row[k] for k in ("seq", "id", "type", "session_id", "project", "at", "source")}
    try:
        record["data"] = json.loads(row["data"])
    except (TypeError, ValueError):
        record["data_raw"] = row["data"]  # kept as found; the reader decides
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _ranges(numbers: list[int]) -> list[str]:
    """``[3, 4, 5, 9]`` as ``["3-5", "9"]``."""
    out: list[str] = []
    for n in numbers:
        if out and n == int(out[-1].rpartition("-")[2]) + 1:
            first = out[-1].partition("-")[0]
            out[-1] = f"{first}-{n}"
        else:
            out.append(str(n))
    return out


def export_events(path: Path, write: Callable[[str], None], chunk: int = 500) -> ExportReport:
    """Every event of the store at ``path`` that can still be read, in order, each passed to
    ``write`` as one JSON line (``data`` decoded; ``data_raw`` when it no longer parses).

    Reads in chunks by sequence number; a chunk that hits a damaged page is read again one
    event at a time, so one bad page costs the events on it, not the ones after it.
    """
    con = _open_readonly(path)
    report = ExportReport()
    bad: list[int] = []
    try:
        top = _highest_seq(con)
        after = 0
        while True:
            try:
                rows = con.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, chunk)).fetchall()
                lines = [(int(r["seq"]), _event_line(r)) for r in rows]
            except sqlite3.Error:
                lines = None
            if lines is not None:
                if not lines:
                    break
                for _, line in lines:
                    write(line)
                report.exported += len(lines)
                after = lines[-1][0]
                continue
            if top is None:
                report.stopped = f"the events after sequence number {after} cannot be reached"
                break
            end = min(after + chunk, top)
            for seq in range(after + 1, end + 1):
                try:
                    row = con.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
                    one = _event_line(row) if row is not None else None
                except sqlite3.Error:
                    bad.append(seq)
                    continue
                if one is not None:
                    write(one)
                    report.exported += 1
            after = end
            if after >= top:
                break
    finally:
        con.close()
    report.unreadable = _ranges(bad)
    return report


def _highest_seq(con: sqlite3.Connection) -> int | None:
    """The highest event sequence number ever handed out, from wherever it can still be read."""
    for sql in ("SELECT seq FROM sqlite_sequence WHERE name = 'events'", "SELECT max(seq) FROM events"):
        try:
            row = con.execute(sql).fetchone()
        except sqlite3.Error:
            continue
        if row is not None and row[0] is not None:
            return int(row[0])
    return None


#: The columns a SessionRow is made of.
_ROW_FIELDS = ('id, project, status, started_at, ended_at, start_progress, progress, last_at, goal, issue, '
               'event_count, "user", host')


def _row_to_session(row: sqlite3.Row) -> SessionRow:
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


def _advanced_row(row: SessionRow, columns: dict[str, Any], at: datetime) -> SessionRow:
    """``row`` after an append that set ``columns`` (stored forms: times as text) at ``at``."""
    values: dict[str, Any] = {k: (parse_time(v) if k.endswith("_at") and isinstance(v, str) else v)
                              for k, v in columns.items()}
    return dataclasses.replace(row, **values, last_at=at, event_count=row.event_count + 1)


def _row_to_event(row: sqlite3.Row) -> Event:
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


class FileWaker:
    """Wakes a worker when anyone commits to the store: ``PRAGMA data_version``, read on a
    connection of its own every :attr:`POLL_S`, changes whenever another connection commits.
    A read of one page of the file's header, cheap enough to repeat; what changed is not known,
    so a wake-up names no integration (the worker looks at all of them)."""

    notified = False
    POLL_S = 0.2

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None

    def _read_version(self) -> int | None:
        try:
            if self._db is None:
                self._db = sqlite3.connect(str(self.path), timeout=1.0, isolation_level=None, check_same_thread=False)
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # busy or briefly unreadable: the next poll tells

    async def start(self) -> None:
        self._version = self._read_version()

    async def wait(self, timeout_s: float) -> set[str] | None:
        import asyncio

        until = time.monotonic() + max(0.0, timeout_s)
        while True:
            version = self._read_version()
            if version is not None and version != self._version:
                self._version = version
                return set()
            left = until - time.monotonic()
            if left <= 0:
                return None
            await asyncio.sleep(min(self.POLL_S, left))

    def take(self) -> set[str]:
        return set()  # a poll names nothing; the worker's own look at the outbox finds it

    async def aclose(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class SqliteAccess(session_state.SessionLoads):
    """Queries and appends inside one transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        # Session rows seen in this transaction. Only append() changes the sessions table, and it
        # refreshes the entry from its own UPDATE ... RETURNING, so a command's repeated look-ups
        # of its session cost no extra queries.
        self._rows: dict[str, SessionRow] = {}
        # Whether their projection state is there (a store older than it has none), read with
        # them, so append() need not ask again.
        self._has_state: dict[str, bool] = {}
        self._outbox: SqliteOutbox | None = None

    @property
    def outbox(self) -> SqliteOutbox:
        """The outbox in this transaction, made (and its module imported) on first use: a
        command that plans no action, such as an update with no integration, never needs it."""
        if self._outbox is None:
            from msp._store.sqlite_outbox import SqliteOutbox

            self._outbox = SqliteOutbox(self._db)
        return self._outbox

    # --- reads ---------------------------------------------------------------------------

    def active_sessions(self, project: str | None = None, user: str | None = None) -> list[SessionRow]:
        clauses, params = ["status = 'active'"], []
        if project is not None:
            clauses.append("project = ?")
            params.append(project)
        if user is not None:  # a session from before engineers is everyone's
            clauses.append('("user" IS NULL OR "user" = ?)')
            params.append(user)
        # Not the state text itself (it grows with the session): whether there is one is all an
        # append in this transaction needs (see append()).
        rows = self._db.execute(
            f"SELECT {_ROW_FIELDS}, state IS NULL AS no_state FROM sessions WHERE {' AND '.join(clauses)} "
            "ORDER BY started_at", params).fetchall()
        out = [_row_to_session(r) for r in rows]
        self._rows.update((r.id, r) for r in out)
        self._has_state.update((r["id"], not r["no_state"]) for r in rows)
        return out

    def session_row(self, session_id: str) -> SessionRow | None:
        cached = self._rows.get(session_id)
        if cached is not None:
            return cached
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        found = self._rows[session_id] = _row_to_session(row)
        self._has_state[session_id] = row["state"] is not None
        return found

    def find_sessions(self, part: str, limit: int = 5) -> list[SessionRow]:
        # instr, not LIKE, so `%` and `_` in user text mean themselves.
        rows = self._db.execute(
            "SELECT * FROM sessions WHERE instr(id, ?) > 0 ORDER BY id LIMIT ?", (part, limit),
        )
        return [_row_to_session(r) for r in rows]

    def last_session(self, project: str) -> SessionRow | None:
        row = self._db.execute(
            "SELECT * FROM sessions WHERE project = ? ORDER BY started_at DESC LIMIT 1", (project,)
        ).fetchone()
        return _row_to_session(row) if row else None

    def list_sessions(
        self, project: str | None = None, since: datetime | None = None, limit: int | None = None,
        user: str | None = None,
    ) -> list[SessionRow]:
        clauses, params = [], []
        if project is not None:
            clauses.append("project = ?")
            params.append(project)
        if user is not None:
            clauses.append('"user" = ?')
            params.append(user)
        if since is not None:
            clauses.append("(started_at >= ? OR status = 'active' OR ended_at >= ?)")
            params += [format_time(since)] * 2
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM sessions {where} ORDER BY started_at DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(str(limit))
        return [_row_to_session(r) for r in self._db.execute(sql, params)]

    def session_events(
        self,
        session_id: str,
        types: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        sql = "SELECT * FROM events WHERE session_id = ?"
        params: list[Any] = [session_id]
        if types:
            sql += f" AND type IN ({','.join('?' * len(types))})"
            params += list(types)
        sql += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_event(r) for r in self._db.execute(sql, params)]

    def _events_by_ids(self, sql: str, ids: list[str]) -> list[Event]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [_row_to_event(r) for r in self._db.execute(sql.format(marks=marks), ids)]

    def _fold(self, session_id: str, events: list[Event]) -> SessionFolder:
        """Fold ``events`` of one session, with the blocker resolutions other sessions hold."""
        raised = [e.data["id"] for e in events if e.type == "blocker_raised"]
        resolved_here = [e.data["blocker_id"] for e in events if e.type == "blocker_resolved"]
        # Resolutions recorded in other sessions, and blockers raised elsewhere resolved here.
        elsewhere_rows = self._db.execute(
            f"SELECT b.id, e.id AS event_id FROM blockers b JOIN events e ON e.seq = b.resolved_seq "
            f"WHERE b.id IN ({','.join('?' * len(raised))}) AND e.session_id != ?",
            [*raised, session_id],
        ).fetchall() if raised else []
        resolutions: dict[str, Event] = {}
        if elsewhere_rows:
            by_event = {r["event_id"]: r["id"] for r in elsewhere_rows}
            for ev in self._events_by_ids("SELECT * FROM events WHERE id IN ({marks})", list(by_event)):
                resolutions[by_event[ev.id]] = ev
        foreign: dict[str, Event] = {}
        local = set(raised)
        foreign_ids = [b for b in resolved_here if b not in local]
        if foreign_ids:
            marks = ",".join("?" * len(foreign_ids))
            for row in self._db.execute(
                f"SELECT e.* FROM blockers b JOIN events e ON e.seq = b.raised_seq WHERE b.id IN ({marks})",
                foreign_ids,
            ):
                ev = _row_to_event(row)
                foreign[ev.data["id"]] = ev
        return folder_of(events, resolutions, foreign)

    def hook_session(self, session_id: str, recent: int) -> Session:
        """The session as it stands with its latest ``recent`` updates, from the stored
        projection: the session row's fields and counts, the latest updates and the other
        items, each read through the events index. No update but those is read."""
        row = self._db.execute("SELECT state, last_at, last_seq FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise KeyError(session_id)
        if row["state"] is None:  # a store older than the projection: fold once
            return self.load_folder(session_id).view(recent)
        folder = self._fold(session_id, self.session_events(session_id, session_state.OTHER_ITEM_TYPES))
        latest = (self.session_events(session_id, session_state.UPDATE_TYPES, limit=recent, newest_first=True)
                  if recent > 0 else [])
        started = self._db.execute(
            "SELECT seq FROM events WHERE session_id = ? AND type = 'session_started' ORDER BY seq LIMIT 1",
            (session_id,),
        ).fetchone()
        return session_state.hook_view(folder, row["state"], row["last_at"], row["last_seq"],
                                       started[0] if started else None, latest)

    def open_blockers(self, project: str) -> list[OpenBlocker]:
        rows = self._db.execute(
            "SELECT id, session_id, text FROM blockers WHERE project = ? AND resolved_seq IS NULL "
            "AND retracted_seq IS NULL ORDER BY raised_seq",
            (project,),
        )
        return [OpenBlocker(r["id"], r["session_id"], r["text"]) for r in rows]

    def session_tallies(
        self, since: datetime | None = None, until: datetime | None = None, project: str | None = None
    ) -> list[SessionTally]:
        where, params = session_state.window_where("sessions", "?", since, until, project)
        # The state's text, its counts decoded in Python: SQLite's json_extract parses the whole
        # text on every call, several times slower here.
        rows = self._db.execute(f"SELECT {_ROW_FIELDS}, state FROM sessions {where} ORDER BY started_at, id",
                                params).fetchall()
        out = []
        for r in rows:
            counts = (session_state.folded_counts(self.load_folder(r["id"])) if r["state"] is None
                      else session_state.state_counts(r["state"]))
            out.append(SessionTally(_row_to_session(r), counts))
        return out

    def blocker_spans(
        self, since: datetime | None = None, until: datetime | None = None, project: str | None = None
    ) -> list[BlockerSpan]:
        where, params = session_state.window_where("blockers", "?", since, until, project)
        rows = self._db.execute(
            "SELECT b.id, b.project, b.session_id, r.at AS raised_at, x.at AS resolved_at, "
            "x.session_id AS resolved_in FROM blockers b JOIN events r ON r.seq = b.raised_seq "
            f"LEFT JOIN events x ON x.seq = b.resolved_seq {where} ORDER BY b.raised_seq", params,
        )
        return [BlockerSpan(r["id"], r["project"], r["session_id"], parse_time(r["raised_at"]),
                            parse_time(r["resolved_at"]) if r["resolved_at"] else None, r["resolved_in"])
                for r in rows]

    def find_items(self, project: str, needle: str, types: Sequence[str], limit: int = 10) -> list[Event]:
        # instr, not LIKE: `%` and `_` in user text mean themselves.
        marks = ",".join("?" * len(types))
        rows = self._db.execute(
            f"SELECT * FROM events WHERE project = ? AND type IN ({marks}) "
            "AND instr(json_extract(data, '$.id'), ?) > 0 ORDER BY seq LIMIT ?",
            [project, *types, needle, limit],
        )
        return [_row_to_event(r) for r in rows]

    def events_since(
        self, after_seq: int = 0, session_id: str | None = None, since: datetime | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        sql = "SELECT * FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        if since is not None:
            sql += " AND at_ms >= ?"
            params.append(int(since.timestamp() * 1000))
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return [_row_to_event(r) for r in self._db.execute(sql, params)]

    def count_events(self, type: str | None = None) -> int:
        if type is None:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM events WHERE type = ?", (type,)).fetchone()[0])

    def hook_failures(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT event_id, integration, hook, error, at_ms FROM hook_failures ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def events_present(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):  # under SQLite's limit of bound parameters
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk))
        return found

    def team_config(self) -> TeamConfig | None:
        row = self._db.execute("SELECT * FROM team_config ORDER BY revision DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return TeamConfig(int(row["revision"]), json.loads(row["sections"]), json.loads(row["changed"]),
                          row["pushed_by"], parse_time(row["pushed_at"]))

    # --- writes --------------------------------------------------------------------------

    def add_team_config(self, sections: dict[str, dict[str, Any]], changed: Sequence[str], pushed_by: str,
                        pushed_at: datetime) -> int:
        # BEGIN IMMEDIATE holds the write lock: the revision read here is still the latest at commit.
        top = self._db.execute("SELECT coalesce(max(revision), 0) FROM team_config").fetchone()[0]
        revision = int(top) + 1
        self._db.execute(
            "INSERT INTO team_config (revision, sections, changed, pushed_by, pushed_at) VALUES (?, ?, ?, ?, ?)",
            (revision, json.dumps(sections, sort_keys=True), json.dumps(list(changed)), pushed_by,
             format_time(pushed_at)),
        )
        return revision

    def append(self, event: Event) -> int:
        """Append one event and fold it into the session projection and the blocker index, as
        its kind declares (msp._model.events): the fields it sets, the list its item joins,
        the blocker it resolves."""
        at = format_time(event.at)
        at_ms = int(event.at.timestamp() * 1000)
        cur = self._db.execute(
            "INSERT INTO events (id, type, session_id, project, at, at_ms, source, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event.id, event.type, event.session_id, event.project, at, at_ms, event.source, event.data_json()),
        )
        seq = int(cur.lastrowid or 0)
        kind = KINDS.get(event.type)
        if kind is not None and kind.joins == "blockers" and kind.view is not None:
            blocker = kind.view(event)
            self._db.execute(
                "INSERT INTO blockers (id, project, session_id, text, raised_seq) VALUES (?, ?, ?, ?, ?)",
                (event.data["id"], event.project, event.session_id, getattr(blocker, "text", ""), seq),
            )
        if kind is not None and kind.resolves is not None:
            self._db.execute("UPDATE blockers SET resolved_seq = ? WHERE id = ?", (seq, kind.resolves(event)))
        if kind is not None and kind.retracts is not None:
            taken, item_id = kind.retracts(event)
            if taken == "blocker":
                self._db.execute("UPDATE blockers SET retracted_seq = ? WHERE id = ?", (seq, item_id))
        joins = session_state.joins(event)
        # Whether the session has a row, and a state in it: known when the row was read earlier
        # in this transaction, else asked (without reading the state's text, which grows).
        has_state = self._has_state.get(event.session_id)
        if has_state is None:
            found = self._db.execute("SELECT state IS NOT NULL FROM sessions WHERE id = ?",
                                     (event.session_id,)).fetchone()
            has_state = None if found is None else bool(found[0])
        changed = session_state.changed_fields(event)  # as the state column holds them
        state: dict[str, Any] | None = None
        if has_state is None:
            state = session_state.opening_state(changed, joins)
            if state is None:
                self._rows.pop(event.session_id, None)
                return seq  # an event of a session never started only joins the log
            self._db.execute(
                "INSERT INTO sessions (id, project, status, started_at, start_progress, progress, "
                "last_seq, last_at, event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (event.session_id, changed["project"], changed["status"], changed["started_at"],
                 changed["start_progress"], changed["progress"], seq, at),
            )
        elif not has_state:  # a store older than the projection: fold the session once
            state = session_state.folded_state(self.load_folder(event.session_id))
            changed = {c: state["fields"].get(c) for c in session_state.ROW_COLUMNS}
        columns = [c for c in session_state.ROW_COLUMNS if c in changed]
        assignments = "".join(f'"{c}" = ?, ' for c in columns)  # quoted: "user" is a column
        if state is not None:
            new_state, state_params = "?", [session_state.encode_state(state)]
        else:
            # The usual case, an event of a session with a state: SQLite edits the JSON in place
            # (json_set), so an append neither reads nor re-encodes it in Python. The paths name
            # fields and lists from msp's own declarations, never user text.
            edits = [f"'$.fields.{name}', ?" for name in changed]
            state_params = list(changed.values())
            if joins is not None:
                edits.append(f"'$.counts.{joins}', coalesce(json_extract(state, '$.counts.{joins}'), 0) + 1")
            new_state = f"json_set(state, {', '.join(edits)})" if edits else "state"
        params = [*(changed[c] for c in columns), *state_params, seq, at, event.session_id]
        known = self._rows.get(event.session_id)
        if state is None and known is not None:
            # The row was read in this transaction and only this append changes it: its new
            # form follows from the old one, with no RETURNING to fetch and rebuild.
            self._db.execute(
                f"UPDATE sessions SET {assignments}state = {new_state}, last_seq = ?, last_at = ?, "
                "event_count = event_count + 1 WHERE id = ?", params)
            self._rows[event.session_id] = _advanced_row(known, {c: changed[c] for c in columns}, event.at)
            self._has_state[event.session_id] = True
            return seq
        updated = self._db.execute(
            f"UPDATE sessions SET {assignments}state = {new_state}, last_seq = ?, last_at = ?, "
            "event_count = event_count + 1 WHERE id = ? RETURNING *", params,
        ).fetchall()
        if updated:
            self._rows[event.session_id] = _row_to_session(updated[0])
            self._has_state[event.session_id] = updated[0]["state"] is not None
        else:
            self._rows.pop(event.session_id, None)
            self._has_state.pop(event.session_id, None)
        return seq

    def add_actions(self, actions: Sequence[PlannedAction]) -> int:
        """Insert planned actions; an idempotency key already present is skipped."""
        return self.outbox.add_actions(actions) if actions else 0

    def add_hook_failures(self, failures: Sequence[HookFailure]) -> None:
        from msp._logging import redact

        now_ms = int(time.time() * 1000)
        self._db.executemany(
            "INSERT INTO hook_failures (event_id, integration, hook, error, at_ms) VALUES (?, ?, ?, ?, ?)",
            [(f.event_id, f.integration, f.hook, redact(f.error)[:2000], now_ms) for f in failures],
        )
