"""Shared pieces of the neo4j integration's tests: scripted sessions, the graph they must
produce, and ways to read a FalkorDB graph back (counts and a full snapshot)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Two sessions of one project. The first names its entities in a decision and in each other's
# descriptions (RELATES_TO), raises and resolves a blocker; the second FOLLOWS it.
FIRST: list[tuple[str, dict[str, Any]]] = [
    ("start", {"project": "graph-demo", "goal": "Ship the retry worker", "progress": 10, "issue": "ENG-123"}),
    ("update", {"text": "Mapped the charge flow", "progress": 20, "tags": ["research", "flow"]}),
    ("entity", {"name": "RetryWorker", "type": "service", "path": "src/retry/worker.py",
                "description": "Claims due retries from the outbox"}),
    ("decide", {"text": "Run the retryworker off an outbox table", "rationale": "A crash must not lose a charge",
                "alternatives": ["Retry in memory", "A message broker"], "impact": "high",
                "category": "architecture"}),
    ("entity", {"name": "Outbox", "type": "table", "description": "Rows the RetryWorker claims"}),
    ("block", {"text": "Sandbox API rejects test cards", "category": "external", "severity": "medium"}),
    ("update", {"text": "Worker retries with backoff", "progress": 60}),
    ("resolve", {"blocker": "Sandbox", "solution": "Support enabled test cards"}),
    ("end", {"summary": "Retry worker behind a flag", "progress": 70}),
]
SECOND: list[tuple[str, dict[str, Any]]] = [
    ("start", {"project": "graph-demo", "goal": "Roll the worker out"}),
    ("update", {"text": "Enabled the flag for 10% of merchants", "progress": 80}),
    ("end", {"summary": "Rolled out to 10%"}),
]

EXPECTED_NODES = {
    "Project": 1, "Session": 2, "Progress": 3, "Decision": 1, "Alternative": 2, "Entity": 2, "Blocker": 1,
    "ProjectState": 1,
}
EXPECTED_RELATIONSHIPS = {
    "HAS_SESSION": 2, "HAS_STATE": 1, "HAS_PROGRESS": 3, "MADE_DECISION": 1, "CONSIDERED": 2,
    "CREATED_ENTITY": 2, "ENCOUNTERED_BLOCKER": 1, "FOLLOWS": 1,
    # decision -> RetryWorker (named when decided), decision -> Outbox (named before Outbox was
    # recorded), Outbox -> RetryWorker (its description), RetryWorker -> Outbox (its description).
    "RELATES_TO": 4,
}

#: Text that has broken naive Cypher generators, and text FalkorDB's parameter header must
#: carry unchanged.
HOSTILE = [
    "it's O'Brien's \"quoted\" text",
    "'}) DETACH DELETE n //",
    '"}) MATCH (n) DETACH DELETE n //',
    "$rows CYPHER x=1 \\' \\\" \\\\",
    "ünïcødé 🎉 中文 עברית",
    "line one\nline two\r\n\ttabbed; semicolon",
    "/* not a comment */ // nor this",
    "`backticks` and {braces} [brackets] (parens)",
    "x" * 10_240,
]


def record(manager: Any, script: list[tuple[str, dict[str, Any]]]) -> None:
    for step, data in script:
        getattr(manager, step)(data)


def record_both(manager: Any) -> None:
    record(manager, FIRST)
    record(manager, SECOND)


def one_millisecond(record_with: Callable[[Any], None]) -> Callable[[Any], None]:
    """``record_with``, its events all stamped within one millisecond (a microsecond apart), as a
    fast machine records them: a clock cannot tell them apart, only the store's order can."""
    from datetime import UTC, datetime, timedelta

    def recorded(manager: Any) -> None:
        ticks = iter(range(1000))
        base = datetime(2026, 1, 5, 9, 0, 0, 961_000, tzinfo=UTC)
        manager.clock = lambda: base + timedelta(microseconds=next(ticks))
        record_with(manager)

    return recorded


@contextmanager
def falkordb_graph(port: int, name: str, password: str | None = None) -> Iterator[Any]:
    from falkordb import FalkorDB

    db = FalkorDB(host="127.0.0.1", port=port, socket_timeout=30, password=password)
    try:
        yield db.select_graph(name)
    finally:
        db.connection.close()


def _rows(graph: Any, statement: str) -> list[list[Any]]:
    try:
        return [list(r) for r in graph.ro_query(statement).result_set]
    except Exception as exc:
        if "empty key" in str(exc).lower():  # a graph nothing was written to
            return []
        raise


def node_counts(graph: Any) -> dict[str, int]:
    rows = _rows(graph, "MATCH (n) RETURN labels(n)[0] AS label, count(n) ORDER BY label")
    return {str(label): int(n) for label, n in rows}


def relationship_counts(graph: Any) -> dict[str, int]:
    rows = _rows(graph, "MATCH ()-[r]->() RETURN type(r) AS type, count(r) ORDER BY type")
    return {str(t): int(n) for t, n in rows}


def snapshot(graph: Any) -> dict[str, Any]:
    """Every node with its properties and every relationship by its ends' ids, sorted."""
    nodes = sorted(
        json.dumps([label, props], sort_keys=True, ensure_ascii=False)
        for label, props in _rows(graph, "MATCH (n) RETURN labels(n)[0], properties(n)")
    )
    rels = sorted(
        json.dumps(row, ensure_ascii=False)
        for row in _rows(graph, "MATCH (a)-[r]->(b) RETURN labels(a)[0], a.id, type(r), labels(b)[0], b.id")
    )
    return {"nodes": nodes, "relationships": rels}


def props(graph: Any, label: str) -> list[dict[str, Any]]:
    assert label.isidentifier()
    return [dict(p) for (p,) in _rows(graph, f"MATCH (n:{label}) RETURN properties(n) ORDER BY n.id")]


def follows(graph: Any) -> list[tuple[str, str]]:
    rows = _rows(graph, "MATCH (a:Session)-[:FOLLOWS]->(b:Session) RETURN a.id, b.id ORDER BY a.id")
    return [(str(a), str(b)) for a, b in rows]


def section(port: int, graph: str, **extra: Any) -> dict[str, Any]:
    return {"uri": f"falkordb://127.0.0.1:{port}/{graph}", **extra}


def stored_actions(root: Path, integration: str = "neo4j") -> list[dict[str, Any]]:
    """The integration's outbox rows, in delivery order."""
    import sqlite3

    db = sqlite3.connect(root / ".msp" / "msp.db")
    db.row_factory = sqlite3.Row
    try:
        return [
            {**dict(r), "payload": json.loads(r["payload"])}
            for r in db.execute(
                "SELECT id, status, attempts, last_error, result, session_id, payload FROM actions "
                "WHERE integration = ? ORDER BY order_key, id", (integration,)
            )
        ]
    finally:
        db.close()


def requeue_done(root: Path, integration: str = "neo4j") -> int:
    """Put every delivered action back in the queue (as a replay would), through the outbox."""
    from msp._store import open_store
    from msp._store.outbox_rules import now_ms

    store = open_store(root / ".msp" / "msp.db", synchronous="normal")
    try:
        with store.write() as tx:
            ids = tx.outbox.ids_with_status("done", integration)
            return len(tx.outbox.set_status(ids, "rerun", now_ms()))
    finally:
        store.close()


def sessions_of(root: Path) -> list[Any]:
    """Every session of the project's store, oldest first, as hooks see them."""
    from msp._store.sqlite import SqliteStore

    store = SqliteStore(root / ".msp" / "msp.db", synchronous="normal")
    try:
        with store.read() as tx:
            rows = tx.list_sessions(None, None, None)
            return sorted((tx.load_session(r.id) for r in rows), key=lambda s: s.started_at)
    finally:
        store.close()


Recorder = Callable[[Any], None]
Config = Mapping[str, Any]


def graph_cli(root: Path, *args: str) -> tuple[int, str, str]:
    """``msp graph ARGS`` against the project, through the installed ``msp`` command (the group
    comes from msp-neo4j's ``msp_register_commands``): (exit code, stdout, stderr)."""
    import os
    import subprocess
    import sys

    msp = str(Path(sys.executable).with_name("msp"))
    done = subprocess.run([msp, "graph", *args], cwd=root, env={**os.environ, "MSP_DIR": str(root / ".msp")},
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr
