"""The ``cypher`` executor: parameterised Cypher to a graph database, chosen by the URI.

========================================  ==========================================================
``uri`` in the integration's config       backend
========================================  ==========================================================
``bolt://``, ``neo4j://`` (``+s``,        the official ``neo4j`` driver (Neo4j, Aura, Memgraph);
``+ssc``)                                 ``database`` selects the database (server default if unset)
``falkordb://host:port/graph``            the ``falkordb`` client over FalkorDB's native protocol;
(``falkordbs://`` for TLS)                the graph is the path, else ``graph``, else ``msp``
``falkordb+embedded://graph``             the project's embedded FalkorDB (:mod:`msp_neo4j._server`):
                                          started on first use, data under ``.msp/graph/``
========================================  ==========================================================

An action's own ``database`` wins over the config. ``user`` and the secret ``password``
(``password_env`` / ``password_keyring``) are used when configured, resolved at send time.

Batches: ``execute_batch`` gets consecutive actions of one integration and session.

* Consecutive actions with the same statement whose only parameter is ``rows`` (a list of maps,
  each with an ``id``) are merged into one statement over all their rows (``UNWIND $rows``), up
  to ``batch_rows`` rows (config, default 500). A row whose ``id`` is already in the merged
  statement starts a new one: two rows writing the same node in one statement are applied in
  an unspecified order on FalkorDB.
* Neo4j: all statements for one database run in one transaction. FalkorDB has no multi-statement
  transactions and no rollback: statements run one by one, each on its own; that is safe
  because every statement msp writes is an idempotent ``MERGE``.

Outcomes, in the dispatcher's terms:

* ``done``: committed.
* ``retry``: the server is unreachable or busy, a connection dropped, a timeout, a transient
  Neo4j error (``ServiceUnavailable``, ``SessionExpired``, ``TransientError``, an unknown
  commit result). Actions after it are handed back unattempted (the outcome list stops there).
* ``wait``: credentials missing or refused (Neo4j ``AuthError``/``Forbidden``, Redis ``NOAUTH``/
  ``WRONGPASS``): the action waits for the user to fix them without burning attempts.
* ``dead``: the statement itself is wrong (syntax, constraint violation, type error, a value the
  server cannot store). When a merged statement or a transaction fails like this, its actions
  are run again one at a time, so only the culprit is dead and the others are delivered.
* Index statements (``CREATE INDEX``/``CONSTRAINT``) that fail because the index exists are
  ``done``: setup may run any number of times.

FalkorDB specifics handled here: the NUL character (U+0000) cannot travel in its query text, so
an action carrying one is ``dead`` with a message naming the parameter. For the embedded URI,
the server is (re)started whenever it is found down, and the ``id`` property of every label the
statements look up by id is indexed on first contact (the embedded graph is msp's own; other
servers get their indexes and constraints from ``msp integrations setup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from msp.executors import BaseExecutor, ExecutionContext, MissingCredential, Outcome, is_configured

BOLT_SCHEMES = frozenset({"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"})
FALKORDB_SCHEMES = frozenset({"falkordb", "falkordbs"})
EMBEDDED_SCHEME = "falkordb+embedded"
DEFAULT_URI = "falkordb+embedded://msp"
DEFAULT_GRAPH = "msp"
DEFAULT_BATCH_ROWS = 500
#: Rough ceiling on one merged statement's parameters (JSON characters).
MAX_BATCH_CHARS = 4_000_000
_INDEX_STATEMENT = re.compile(r"^\s*CREATE\s+(INDEX|CONSTRAINT)\b", re.I)
_EXISTS = re.compile(r"already (indexed|exists)|equivalent (index|constraint) already exists", re.I)


class TargetError(Exception):
    """The configured URI cannot be used."""


@dataclass(frozen=True)
class Target:
    """Where a config's statements go."""

    backend: Literal["bolt", "falkordb"]
    uri: str
    host: str = ""
    port: int = 0
    ssl: bool = False
    embedded: bool = False
    graph: str = DEFAULT_GRAPH
    database: str | None = None
    user: str | None = None

    def where(self, db: str | None) -> str:
        """A readable, secret-free name for messages."""
        if self.backend == "bolt":
            return f"{self.uri} (database {db or 'default'})"
        if self.embedded:
            return f"the embedded graph {db or self.graph!r}"
        return f"falkordb {self.host}:{self.port} graph {db or self.graph!r}"


def project_graph(project_root: Path, name: str = DEFAULT_GRAPH) -> str:
    """The embedded graph of one project on the user's shared server: the project folder's
    name (or the uri's graph name, when it is not the default) and a short hash of the
    folder's path, so two projects with the same name never write into one graph."""
    root = Path(project_root).resolve()
    if root.name == ".msp":  # given the state folder itself
        root = root.parent
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    base = root.name if name == DEFAULT_GRAPH else name
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', base)[:60] or 'project'}-{digest}"


def parse_target(config: Mapping[str, Any], project_root: Path | None = None) -> Target:
    """Read ``uri``/``database``/``graph``/``user`` from an integration's config.

    For the embedded graph, ``project_root`` names the project's own graph
    (:func:`project_graph`) unless ``graph`` is set in config, which is used as written."""
    uri = str(config.get("uri") or DEFAULT_URI).strip()
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    user = config.get("user")
    if parts.password:
        raise TargetError(
            "the uri must not contain a password; name it with password_env or password_keyring instead"
        )
    if scheme in BOLT_SCHEMES:
        if not parts.hostname:
            raise TargetError(f"uri {uri!r} has no host")
        return Target("bolt", uri, database=config.get("database") or None,
                      user=str(user) if user else (unquote(parts.username) if parts.username else None))
    if scheme in FALKORDB_SCHEMES:
        try:
            port = parts.port or 6379
        except ValueError:
            raise TargetError(f"uri {uri!r} has an invalid port") from None
        graph = unquote(parts.path.lstrip("/")) or config.get("graph") or DEFAULT_GRAPH
        return Target("falkordb", uri, host=parts.hostname or "127.0.0.1", port=port, ssl=scheme == "falkordbs",
                      graph=str(config.get("graph") or graph),
                      user=str(user) if user else (unquote(parts.username) if parts.username else None))
    if scheme == EMBEDDED_SCHEME:
        graph = unquote(parts.netloc or parts.path.lstrip("/")) or DEFAULT_GRAPH
        if not config.get("graph") and project_root is not None:
            graph = project_graph(project_root, graph)
        return Target("falkordb", uri, embedded=True, graph=str(config.get("graph") or graph))
    raise TargetError(
        f"uri {uri!r}: unsupported scheme {parts.scheme or '(none)'!r}; use bolt://, neo4j:// (+s, +ssc), "
        f"falkordb://host:port/graph, falkordbs://..., or {DEFAULT_URI} for the embedded graph"
    )


# --- merging consecutive actions into UNWIND batches ------------------------------------------


@dataclass
class Unit:
    """One statement to run: one action, or several merged over their rows."""

    statement: str
    parameters: dict[str, Any]
    indexes: list[int]
    db: str | None
    error: str | None = None  # known before sending: the action is dead
    sizes: list[int] = field(default_factory=list)  # rows per merged action
    ids: set[str] = field(default_factory=set)
    chars: int = 0

    @property
    def merged(self) -> bool:
        return len(self.indexes) > 1

    @property
    def mergeable(self) -> bool:
        return bool(self.sizes) and self.error is None


def _rows_of(action: Any) -> list[dict[str, Any]] | None:
    params = action.parameters
    if set(params) != {"rows"} or not isinstance(params["rows"], list) or not params["rows"]:
        return None
    rows = params["rows"]
    if not all(isinstance(r, dict) and "id" in r for r in rows):
        return None
    return rows


def plan_units(actions: Sequence[Any], dbs: Sequence[str | None], batch_rows: int = DEFAULT_BATCH_ROWS,
               check: Callable[[Any], str | None] | None = None) -> list[Unit]:
    """Group actions into statements, merging what can be merged, keeping their order."""
    units: list[Unit] = []
    for i, action in enumerate(actions):
        problem = check(action) if check else None
        rows = None if problem else _rows_of(action)
        if rows is None:
            units.append(Unit(action.statement, dict(action.parameters), [i], dbs[i], problem))
            continue
        ids = {json.dumps(r["id"], sort_keys=True, default=str) for r in rows}
        chars = len(json.dumps(rows, ensure_ascii=False, default=str))
        if len(ids) != len(rows):  # the action itself writes one id twice: keep it alone
            units.append(Unit(action.statement, {"rows": list(rows)}, [i], dbs[i]))
            continue
        last = units[-1] if units else None
        if (
            last is not None
            and last.mergeable
            and last.statement == action.statement
            and last.db == dbs[i]
            and sum(last.sizes) + len(rows) <= batch_rows
            and last.chars + chars <= MAX_BATCH_CHARS
            and not (ids & last.ids)
        ):
            last.parameters = {"rows": [*last.parameters["rows"], *rows]}
            last.indexes.append(i)
            last.sizes.append(len(rows))
            last.ids |= ids
            last.chars += chars
            continue
        units.append(Unit(action.statement, {"rows": list(rows)}, [i], dbs[i], sizes=[len(rows)], ids=ids,
                          chars=chars))
    return units


def _find_nul(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _find_nul(str(k), f"{where} key") or _find_nul(v, f"{where}.{k}")
            if found:
                return found
    if isinstance(value, list | tuple):
        for n, v in enumerate(value):
            found = _find_nul(v, f"{where}[{n}]")
            if found:
                return found
    return None


def _falkordb_check(action: Any) -> str | None:
    where = _find_nul(action.parameters, "parameters")
    if where:
        return (f"FalkorDB cannot store the NUL character (U+0000), found in {where}; "
                "re-record the text without it (Neo4j accepts it)")
    return None


# --- error classification ---------------------------------------------------------------------

Verdict = tuple[Literal["retry", "dead", "wait", "done"], str]


def _text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if len(text) > 300:
        text = text[:299] + "…"
    return f"{name}: {text}" if text else name


def classify_falkordb(exc: BaseException, statement: str = "") -> Verdict:
    """What a FalkorDB / Redis error means for delivery."""
    import redis.exceptions as rex

    message = str(exc)
    upper = message.upper()
    if isinstance(exc, rex.AuthenticationError | rex.AuthorizationError | rex.NoPermissionError) or \
            upper.startswith(("NOAUTH", "WRONGPASS", "NOPERM")) or "INVALID PASSWORD" in upper:
        return "wait", f"the graph server refused the credentials: {_text(exc)}; check user and password_env"
    if isinstance(exc, rex.ResponseError):
        if _INDEX_STATEMENT.match(statement) and _EXISTS.search(message):
            return "done", "index already exists"
        if isinstance(exc, rex.ReadOnlyError | rex.OutOfMemoryError | rex.TryAgainError) or \
                upper.startswith(("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "OOM")) or "TIMED OUT" in upper:
            return "retry", f"the graph server is busy: {_text(exc)}"
        return "dead", f"the graph server rejected the statement: {_text(exc)}"
    if isinstance(exc, rex.ConnectionError | rex.TimeoutError | OSError | asyncio.TimeoutError):
        return "retry", f"the graph server is unreachable: {_text(exc)}"
    if isinstance(exc, UnicodeError | ValueError | TypeError):
        return "dead", f"a parameter cannot be sent: {_text(exc)}"
    return "retry", f"unexpected error: {_text(exc)}"


def classify_neo4j(exc: BaseException, statement: str = "") -> Verdict:
    """What a Neo4j driver error means for delivery."""
    from neo4j import exceptions as ne

    if isinstance(exc, ne.AuthError | ne.Forbidden):
        return "wait", f"Neo4j refused the credentials or permission: {_text(exc)}; check user and password_env"
    if isinstance(exc, ne.ServiceUnavailable | ne.SessionExpired | ne.TransientError):
        return "retry", f"Neo4j is unavailable: {_text(exc)}"
    if isinstance(exc, ne.ClientError):
        if _INDEX_STATEMENT.match(statement) and _EXISTS.search(str(exc)):
            return "done", "index already exists"
        return "dead", f"Neo4j rejected the statement: {_text(exc)}"
    if isinstance(exc, ne.ConfigurationError):
        return "dead", f"the Neo4j driver configuration is invalid: {_text(exc)}"
    if isinstance(exc, ne.DatabaseError):
        return "retry", f"Neo4j failed: {_text(exc)}"
    if isinstance(exc, ne.Neo4jError | ne.DriverError):
        return ("retry" if exc.is_retryable() else "dead"), f"Neo4j: {_text(exc)}"
    if isinstance(exc, OSError | asyncio.TimeoutError):
        return "retry", f"Neo4j is unreachable: {_text(exc)}"
    return "retry", f"unexpected error: {_text(exc)}"


# --- running units and collecting outcomes -----------------------------------------------------


@dataclass
class _Run:
    """Outcomes collected in action order; stops at the first retry or wait."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopped: bool = False

    def done(self, unit: Unit, summary: str) -> None:
        note = f" (one UNWIND statement with {len(unit.indexes) - 1} other action(s))" if unit.merged else ""
        self.outcomes += [Outcome("done", summary + note)] * len(unit.indexes)

    def fail(self, unit: Unit, status: str, summary: str) -> None:
        if status == "dead":
            self.outcomes += [Outcome("dead", summary)] * len(unit.indexes)
        elif status == "wait":
            self.outcomes.append(Outcome("wait", summary))
            self.stopped = True
        else:
            self.outcomes += [Outcome("retry", summary)] * len(unit.indexes)
            self.stopped = True


def _stats_summary(stats: Mapping[str, int]) -> str:
    parts = [f"{k} {v}" for k, v in stats.items() if v]
    return "done: " + (", ".join(parts) if parts else "no changes")


class _FalkorBackend:
    def __init__(self, client: Any, target: Target) -> None:
        self.client = client
        self.target = target

    async def query(self, graph: str, statement: str, parameters: Mapping[str, Any]) -> dict[str, int]:
        result = await self.client.select_graph(graph).query(statement, dict(parameters) or None)
        return {
            "nodes created": int(result.nodes_created),
            "relationships created": int(result.relationships_created),
            "relationships deleted": int(result.relationships_deleted),
            "properties set": int(result.properties_set),
        }

    async def indexed_labels(self, graph: str) -> set[str]:
        result = await self.client.select_graph(graph).query(
            "CALL db.indexes() YIELD label, properties, entitytype RETURN label, properties, entitytype"
        )
        return {row[0] for row in result.result_set if row[2] == "NODE" and "id" in (row[1] or [])}

    async def run(self, units: Sequence[Unit]) -> _Run:
        run = _Run()
        for unit in units:
            await self._unit(unit, run)
            if run.stopped:
                break
        return run

    async def _unit(self, unit: Unit, run: _Run) -> None:
        if unit.error:
            run.fail(unit, "dead", unit.error)
            return
        try:
            stats = await self.query(unit.db or self.target.graph, unit.statement, unit.parameters)
        except Exception as exc:
            status, summary = classify_falkordb(exc, unit.statement)
            if status == "done":
                run.done(unit, summary)
            elif status == "dead" and unit.merged:
                # Find the culprit: run the merged actions one by one (MERGE makes re-running safe).
                for single in _split(unit):
                    await self._unit(single, run)
                    if run.stopped:
                        return
            else:
                run.fail(unit, status, f"{summary} [{self.target.where(unit.db)}]")
            return
        run.done(unit, _stats_summary(stats))

    async def aclose(self) -> None:
        conn = getattr(self.client, "connection", None)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.aclose()


def _split(unit: Unit) -> list[Unit]:
    """A merged unit back into one unit per action."""
    rows = unit.parameters["rows"]
    out, start = [], 0
    for i, size in zip(unit.indexes, unit.sizes, strict=True):
        out.append(Unit(unit.statement, {"rows": rows[start:start + size]}, [i], unit.db))
        start += size
    return out


class _BoltBackend:
    def __init__(self, driver: Any, target: Target, timeout_s: float) -> None:
        self.driver = driver
        self.target = target
        self.timeout_s = timeout_s

    async def _transaction(self, db: str | None, units: Sequence[Unit]) -> dict[str, int]:
        """Run ``units`` in one transaction; on failure raise :class:`_TxFailed` saying how many
        statements were attempted (the failing one included)."""
        totals: dict[str, int] = {}
        attempted = 0
        try:
            async with self.driver.session(database=db) as session:
                tx = await session.begin_transaction(timeout=self.timeout_s)
                try:
                    for unit in units:
                        attempted += 1
                        result = await tx.run(unit.statement, unit.parameters)
                        counters = (await result.consume()).counters
                        for name in ("nodes_created", "relationships_created", "relationships_deleted",
                                     "properties_set"):
                            label = name.replace("_", " ")
                            totals[label] = totals.get(label, 0) + int(getattr(counters, name, 0) or 0)
                    attempted = len(units)
                    await tx.commit()
                finally:
                    if not tx.closed():
                        with contextlib.suppress(Exception):
                            await tx.rollback()
        except Exception as exc:
            raise _TxFailed(exc, max(1, attempted)) from exc
        return totals

    async def run(self, units: Sequence[Unit]) -> _Run:
        run = _Run()
        i = 0
        while i < len(units) and not run.stopped:
            if units[i].error:
                run.fail(units[i], "dead", str(units[i].error))
                i += 1
                continue
            # One transaction per stretch of statements for the same database.
            j = i
            while j < len(units) and units[j].db == units[i].db and not units[j].error:
                j += 1
            await self._group(units[i:j], run)
            i = j
        return run

    async def _group(self, group: Sequence[Unit], run: _Run) -> None:
        try:
            stats = await self._transaction(group[0].db, group)
        except _TxFailed as failed:
            exc = failed.error
            statement = group[0].statement if len(group) == 1 else ""
            status, summary = classify_neo4j(exc, statement)
            if status == "done":
                for unit in group:
                    run.done(unit, summary)
            elif status == "dead" and (len(group) > 1 or group[0].merged):
                # Rolled back: run each action in its own transaction to find the culprit.
                for unit in group:
                    for single in _split(unit) if unit.merged else [unit]:
                        await self._group([single], run)
                        if run.stopped:
                            return
            elif status == "retry":
                # Every statement tried so far was rolled back with it; the rest go back untried.
                where = self.target.where(group[0].db)
                for unit in group[:failed.attempted]:
                    run.fail(unit, "retry", f"{summary} [{where}]; the transaction was rolled back")
            else:
                run.fail(group[0], status, f"{summary} [{self.target.where(group[0].db)}]")
            return
        summary = _stats_summary(stats)
        if len(group) > 1:
            summary += f" (one transaction of {len(group)} statements)"
        for unit in group:
            run.done(unit, summary)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.driver.close()


# --- the executor --------------------------------------------------------------------------------


def _default_bolt_driver(uri: str, auth: tuple[str, str] | None, timeout_s: float) -> Any:
    import neo4j

    return neo4j.AsyncGraphDatabase.driver(uri, auth=auth, connection_timeout=timeout_s)


def _default_falkordb_client(host: str, port: int, username: str | None, password: str | None,
                             ssl: bool, timeout_s: float) -> Any:
    from falkordb.asyncio import FalkorDB

    return FalkorDB(host=host, port=port, username=username, password=password, ssl=ssl,
                    socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


class CypherExecutor(BaseExecutor):
    """Delivers ``cypher`` actions. One instance per drain; ``aclose`` closes every connection.

    ``bolt_driver`` and ``falkordb_client`` replace the real client factories (tests use a fake
    Bolt driver, since no Neo4j server runs here).
    """

    def __init__(self, *, bolt_driver: Callable[..., Any] | None = None,
                 falkordb_client: Callable[..., Any] | None = None) -> None:
        self._make_driver = bolt_driver or _default_bolt_driver
        self._make_falkordb = falkordb_client or _default_falkordb_client
        self._backends: dict[tuple[Any, ...], _FalkorBackend | _BoltBackend] = {}
        self._indexed: dict[tuple[str, str], set[str]] = {}

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        outcomes = await self.execute_batch([action], ctx)
        return outcomes[0]

    async def execute_batch(self, actions: Sequence[Any], ctx: ExecutionContext) -> list[Outcome]:
        if not actions:
            return []
        try:
            target = parse_target(ctx.config, ctx.project_root)
        except TargetError as exc:
            return [Outcome("dead", f"integrations.{ctx.integration}: {exc}")] * len(actions)
        batch_rows = int(ctx.config.get("batch_rows") or DEFAULT_BATCH_ROWS)
        default_db = target.database if target.backend == "bolt" else target.graph
        dbs = [a.database or default_db for a in actions]
        check = _falkordb_check if target.backend == "falkordb" else None
        units = plan_units(actions, dbs, batch_rows, check)
        try:
            backend = await self._backend(target, ctx)
        except MissingCredential as exc:
            hint = f"; {exc.hint}" if exc.hint else ""
            return [Outcome("wait", f"waiting for a credential: {exc.message}{hint}")]
        except _Unavailable as exc:
            return [Outcome("retry", str(exc))]
        except _Broken as exc:
            return [Outcome("dead", str(exc))] * len(actions)
        if target.embedded and isinstance(backend, _FalkorBackend):
            await self._ensure_indexes(backend, target, units)
        run = await backend.run(units)
        if run.stopped:
            # A dropped connection or a refused login: connect afresh next time (and for the
            # embedded graph, start its server again if it went down).
            await self._forget(target, ctx)
        return run.outcomes

    async def aclose(self) -> None:
        backends, self._backends = self._backends, {}
        for backend in backends.values():
            await backend.aclose()

    # --- connections ---------------------------------------------------------------------

    def _key(self, target: Target, ctx: ExecutionContext, password: str | None) -> tuple[Any, ...]:
        digest = hashlib.sha256(password.encode()).hexdigest() if password else ""
        root = str(Path(ctx.project_root).resolve()) if target.embedded else ""
        return (target.backend, target.uri, target.user, digest, root, ctx.timeout_s)

    def _password(self, ctx: ExecutionContext, target: Target) -> str | None:
        if target.embedded or not is_configured(ctx.config, "password"):
            return None
        return ctx.secret("password")

    async def _backend(self, target: Target, ctx: ExecutionContext) -> _FalkorBackend | _BoltBackend:
        password = self._password(ctx, target)
        key = self._key(target, ctx, password)
        known = self._backends.get(key)
        if known is not None:
            return known
        backend: _FalkorBackend | _BoltBackend
        timeout_s = max(5.0, float(ctx.timeout_s))
        if target.backend == "bolt":
            auth = (target.user or "neo4j", password) if password is not None else None
            try:
                driver = self._make_driver(target.uri, auth, timeout_s)
            except Exception as exc:  # a malformed URI, an unknown option
                status, summary = classify_neo4j(exc)
                message = f"cannot create the Neo4j driver for {target.uri}: {summary}"
                raise (_Broken(message) if status == "dead" else _Unavailable(message)) from None
            backend = _BoltBackend(driver, target, timeout_s)
        else:
            host, port = target.host, target.port
            if target.embedded:
                host, port, password = await self._embedded(ctx)
            try:
                client = await asyncio.to_thread(
                    self._make_falkordb, host, port, target.user, password, target.ssl, timeout_s
                )
            except Exception as exc:
                status, summary = classify_falkordb(exc)
                if status == "wait":
                    raise MissingCredential(summary) from None
                raise _Unavailable(f"{summary} [{target.where(None)}]") from None
            backend = _FalkorBackend(client, target)
        self._backends[key] = backend
        return backend

    async def _embedded(self, ctx: ExecutionContext) -> tuple[str, int, str | None]:
        from . import _server

        try:
            limit = ctx.config.get("idle_stop_minutes", _server.DEFAULT_IDLE_STOP_MINUTES)
            server = await asyncio.to_thread(
                _server.ensure, _server.user_dir(),
                idle_stop_minutes=float(limit) if isinstance(limit, int | float) else None)
        except _server.GraphServerError as exc:
            hint = f"; {exc.hint}" if exc.hint else ""
            raise _Unavailable(f"the embedded graph is not available: {exc.message}{hint}") from None
        return server.host, server.port, server.password

    async def _forget(self, target: Target, ctx: ExecutionContext) -> None:
        for key in [k for k in self._backends if k[0] == target.backend and k[1] == target.uri]:
            backend = self._backends.pop(key)
            await backend.aclose()
        self._indexed = {k: v for k, v in self._indexed.items() if k[0] != target.uri}

    async def _ensure_indexes(self, backend: _FalkorBackend, target: Target, units: Sequence[Unit]) -> None:
        """The embedded graph is ours: index ``id`` of every label the statements look up by id,
        once per drain and graph, so MERGE stays fast as the graph grows. (Other servers get
        their indexes from ``msp integrations setup``.)"""
        wanted: dict[str, set[str]] = {}
        for unit in units:
            graph = unit.db or target.graph
            wanted.setdefault(graph, set()).update(_ID_LOOKUP.findall(unit.statement))
        for graph, labels in sorted(wanted.items()):
            missing = labels - self._indexed.get((target.uri, graph), set())
            if not missing:
                continue
            try:
                have = await backend.indexed_labels(graph)
                for label in sorted(missing - have):
                    await backend.query(graph, f"CREATE INDEX FOR (n:{label}) ON (n.id)", {})
            except Exception:
                continue  # the batch itself reports what is wrong with the server
            self._indexed.setdefault((target.uri, graph), set()).update(missing)


#: ``(x:Label {id: ...)`` in MERGE or MATCH: labels whose ``id`` the statement looks up.
_ID_LOOKUP = re.compile(r"(?:MERGE|MATCH)\s*\(\s*\w*\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*\{\s*id\s*:")


class _Unavailable(Exception):
    """The backend cannot be reached or built right now (an Outcome of retry)."""


class _Broken(Exception):
    """The backend can never be built from this config (an Outcome of dead)."""


class _TxFailed(Exception):
    def __init__(self, error: BaseException, attempted: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempted = attempted
