"""Values survive the trip: hostile text as property values, the export script replayed, and
credentials that never leave the process. All against the real FalkorDB, through the dispatcher."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from msp_neo4j import _server
from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import (
    EXPECTED_NODES,
    EXPECTED_RELATIONSHIPS,
    HOSTILE,
    falkordb_graph,
    node_counts,
    props,
    record_both,
    relationship_counts,
    section,
    sessions_of,
    snapshot,
    stored_actions,
)

from msp.testing import assert_no_secrets, drain, plan, write_project


def record_hostile(manager: Any) -> None:
    manager.start({"project": HOSTILE[1], "goal": HOSTILE[0], "issue": "PAY-1"})
    for text in HOSTILE:
        manager.update({"text": text, "progress": 50, "tags": [HOSTILE[0], HOSTILE[4]]})
    manager.entity({"name": HOSTILE[3], "type": "module", "path": HOSTILE[6], "description": HOSTILE[7]})
    manager.decide({"text": HOSTILE[2], "rationale": HOSTILE[5], "alternatives": [HOSTILE[8], HOSTILE[1]]})
    manager.block({"text": HOSTILE[4]})
    manager.resolve({"blocker": "ünïcødé", "solution": HOSTILE[8]})
    manager.end({"summary": HOSTILE[5]})


def test_hostile_text_round_trips_unchanged(tmp_path: Path, falkordb_server: Any, graph: Any,
                                            graph_name: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    planned = plan(root, "neo4j", None, record_hostile)
    report = drain(root)
    assert report["done"] == planned and report["dead"] == 0, report

    # Nothing was injected: exactly the nodes the session implies.
    assert node_counts(graph) == {"Project": 1, "Session": 1, "Progress": len(HOSTILE), "Decision": 1,
                                  "Alternative": 2, "Entity": 1, "Blocker": 1, "ProjectState": 1}
    assert sorted(p["text"] for p in props(graph, "Progress")) == sorted(HOSTILE)
    assert all(p["tags"] == [HOSTILE[0], HOSTILE[4]] for p in props(graph, "Progress"))
    (project,) = props(graph, "Project")
    assert project["id"] == HOSTILE[1] and project["name"] == HOSTILE[1]
    (session,) = props(graph, "Session")
    assert session["goal"] == HOSTILE[0] and session["summary"] == HOSTILE[5]
    (decision,) = props(graph, "Decision")
    assert decision["text"] == HOSTILE[2] and decision["rationale"] == HOSTILE[5]
    assert sorted(a["text"] for a in props(graph, "Alternative")) == sorted([HOSTILE[8], HOSTILE[1]])
    (entity,) = props(graph, "Entity")
    assert (entity["name"], entity["path"], entity["description"]) == (HOSTILE[3], HOSTILE[6], HOSTILE[7])
    (blocker,) = props(graph, "Blocker")
    assert blocker["text"] == HOSTILE[4] and blocker["solution"] == HOSTILE[8]
    assert len(blocker["solution"]) == 10_240
    # The statements never carried the text: it is only in the parameters.
    for row in stored_actions(root):
        statement = row["payload"]["statement"]
        assert not any(text[:20] in statement for text in HOSTILE)


def test_export_script_replayed_gives_the_same_graph(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                     graph_name: str) -> None:
    """The export's :param literals, evaluated by a Cypher server, feed its statements: the
    graph they build equals the one the dispatcher built."""
    import msp_neo4j
    from msp_neo4j._export import parse_script

    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))

    def both(manager: Any) -> None:
        record_both(manager)
        record_hostile(manager)

    plan(root, "neo4j", None, both)
    drain(root)
    expected = snapshot(graph)

    script = msp_neo4j.export_script(sessions_of(root), {"batch_rows": 4})
    steps = parse_script(script)
    assert len(steps) > 12  # small batches: several statements per kind
    replay = graph_name + "_export"
    with falkordb_graph(falkordb_server.port, replay) as g:
        try:
            for name, literal, statement in steps:
                # Evaluating the rendered literal is what `:param name => literal` does.
                (value,) = g.query("RETURN " + literal).result_set[0]
                g.query(statement, {name: value})
            assert snapshot(g) == expected
        finally:
            g.delete()


def test_export_of_an_active_session_and_twice(tmp_path: Path, falkordb_server: Any, graph: Any,
                                              graph_name: str) -> None:
    import msp_neo4j
    from msp_neo4j._export import parse_script

    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    plan(root, "neo4j", None, lambda m: (m.start({"project": "p"}), m.update({"text": "half way", "progress": 5})))
    script = msp_neo4j.export_script(sessions_of(root))
    for _ in range(2):
        for name, literal, statement in parse_script(script):
            (value,) = graph.query("RETURN " + literal).result_set[0]
            graph.query(statement, {name: value})
    assert node_counts(graph) == {"Project": 1, "Session": 1, "Progress": 1, "ProjectState": 1}
    (session,) = props(graph, "Session")
    assert session["status"] == "active"


# --- credentials --------------------------------------------------------------------------------

PASSWORD = "s3cr3t-Graph-pass-9f2"


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[int]:
    """A FalkorDB that requires a password (started here: the embedded one never has one)."""
    redis_server, module = _server.binaries()
    port = _server._free_port()
    folder = tmp_path / "authdb"
    folder.mkdir()
    proc = subprocess.Popen(
        [str(redis_server), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--loadmodule", str(module), "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1) as client:
                    client.ping()
                break
            except redis.AuthenticationError:  # NOAUTH: it is up, and wants the password
                break
            except (redis.ConnectionError, OSError):
                time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def test_password_from_the_environment_is_used_and_never_stored(tmp_path: Path, password_server: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(tmp_path / "proj", "neo4j",
                         section(password_server, "authgraph", password_env="MSP_TEST_GRAPH_PASSWORD"))
    planned = plan(root, "neo4j", None, record_both)

    # No password in the environment yet: everything waits, nothing is dead or burnt.
    monkeypatch.delenv("MSP_TEST_GRAPH_PASSWORD", raising=False)
    report = drain(root, wait=False)
    assert report["done"] == 0 and report["dead"] == 0 and report["waiting"] >= 1, report
    assert all(r["attempts"] == 0 for r in stored_actions(root))

    # A wrong password: refused, so the actions wait for it to be fixed.
    monkeypatch.setenv("MSP_TEST_GRAPH_PASSWORD", "wrong-password-123")
    report = drain(root, wait=False)
    assert report["done"] == 0 and report["dead"] == 0 and report["waiting"] >= 1, report
    waiting = [r for r in stored_actions(root) if r["last_error"]]
    assert waiting and "credentials" in waiting[0]["last_error"]

    monkeypatch.setenv("MSP_TEST_GRAPH_PASSWORD", PASSWORD)
    report = drain(root)
    assert report["done"] == planned and report["dead"] == 0, report
    from falkordb import FalkorDB

    db = FalkorDB(host="127.0.0.1", port=password_server, password=PASSWORD)
    try:
        g = db.select_graph("authgraph")
        assert node_counts(g) == EXPECTED_NODES
        assert relationship_counts(g) == EXPECTED_RELATIONSHIPS
    finally:
        db.connection.close()
    assert_no_secrets(root, [PASSWORD, "wrong-password-123"])
