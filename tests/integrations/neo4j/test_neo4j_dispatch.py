"""The neo4j integration end to end: sessions recorded through the plugin host (the integration
loaded from its entry point), delivered by the real dispatcher (``drain_project``, what
``msp dispatch`` runs) through the cypher executor to a real FalkorDB, native protocol."""

from __future__ import annotations

import itertools
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from msp_neo4j import _server
from msp_neo4j._executor import project_graph
from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import (
    EXPECTED_NODES,
    EXPECTED_RELATIONSHIPS,
    FIRST,
    SECOND,
    falkordb_graph,
    follows,
    node_counts,
    one_millisecond,
    props,
    record,
    record_both,
    relationship_counts,
    requeue_done,
    section,
    snapshot,
    stored_actions,
)

from msp.testing import drain, plan, write_project


def _project(tmp_path: Path, port: int, graph: str, **extra: Any) -> Path:
    return write_project(tmp_path / "proj", "neo4j", section(port, graph, **extra))


def test_scripted_sessions_build_exactly_the_expected_graph(tmp_path: Path, falkordb_server: Any,
                                                             graph: Any, graph_name: str) -> None:
    root = _project(tmp_path, falkordb_server.port, graph_name)
    planned = plan(root, "neo4j", None, record_both)
    assert planned > 0

    report = drain(root)

    assert report["done"] == planned and report["dead"] == 0 and report["retried"] == 0, report
    assert node_counts(graph) == EXPECTED_NODES
    assert relationship_counts(graph) == EXPECTED_RELATIONSHIPS
    first, second = sorted(props(graph, "Session"), key=lambda s: s["started_ms"])
    assert follows(graph) == [(second["id"], first["id"])]
    assert first["status"] == "closed" and first["progress"] == 70 and first["start_progress"] == 10
    assert second["start_progress"] == 70 and second["progress"] == 80
    (blocker,) = props(graph, "Blocker")
    assert blocker["status"] == "resolved" and blocker["solution"] == "Support enabled test cards"
    assert blocker["resolved_in"] == first["id"]
    (state,) = props(graph, "ProjectState")
    assert state["session_id"] == second["id"] and state["status"] == "idle" and state["progress"] == 80
    # Who RELATES_TO whom, by name.
    links = graph.ro_query(
        "MATCH (a)-[:RELATES_TO]->(b:Entity) RETURN labels(a)[0], coalesce(a.name, a.text), b.name "
        "ORDER BY labels(a)[0], b.name"
    ).result_set
    assert [tuple(r) for r in links] == [
        ("Decision", "Run the retryworker off an outbox table", "Outbox"),
        ("Decision", "Run the retryworker off an outbox table", "RetryWorker"),
        ("Entity", "RetryWorker", "Outbox"),
        ("Entity", "Outbox", "RetryWorker"),
    ]
    # Times: ISO-8601 UTC text and epoch milliseconds that agree.
    from datetime import UTC, datetime

    started = datetime.strptime(first["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert int(started.timestamp() * 1000) == first["started_ms"]


def test_delivering_everything_again_changes_nothing(tmp_path: Path, falkordb_server: Any,
                                                     graph: Any, graph_name: str) -> None:
    root = _project(tmp_path, falkordb_server.port, graph_name)
    planned = plan(root, "neo4j", None, record_both)
    drain(root)
    before = snapshot(graph)

    for _ in range(2):
        assert requeue_done(root) == planned
        report = drain(root)
        assert report["done"] == planned and report["dead"] == 0, report
        assert snapshot(graph) == before

    assert node_counts(graph) == EXPECTED_NODES
    assert relationship_counts(graph) == EXPECTED_RELATIONSHIPS


def test_any_action_delivered_again_later_changes_nothing(tmp_path: Path, falkordb_server: Any,
                                                         graph: Any, graph_name: str) -> None:
    """After everything is in, each action once more, latest first: a session's start after
    its close, a blocker's raise after its resolution, an old ProjectState after a newer one.
    Recorded within one millisecond, so only the store's order tells the states apart."""
    from msp._model.actions import action_from_dict

    root = _project(tmp_path, falkordb_server.port, graph_name)
    plan(root, "neo4j", None, one_millisecond(record_both))
    drain(root)
    before = snapshot(graph)
    actions = [action_from_dict(r["payload"]) for r in stored_actions(root)]
    for action in reversed(actions):
        (outcome,) = _deliver_directly([action], section(falkordb_server.port, graph_name), root)
        assert outcome.status == "done", outcome
    assert snapshot(graph) == before


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_sessions_delivered_in_any_order_converge(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                 graph_name: str, order: tuple[int, ...]) -> None:
    """Replay order across sessions must not matter: three sessions' actions, session by
    session in every order, build the graph the dispatcher built (FOLLOWS chain included).
    Recorded within one millisecond, so only the store's order tells the states apart."""
    from msp._model.actions import action_from_dict

    root = _project(tmp_path, falkordb_server.port, graph_name)
    plan(root, "neo4j", None, one_millisecond(lambda m: record(m, [*FIRST, *SECOND, *SECOND])))
    drain(root)
    expected = snapshot(graph)
    assert len(follows(graph)) == 2
    by_session: dict[str, list[Any]] = {}
    for row in stored_actions(root):
        by_session.setdefault(row["session_id"], []).append(action_from_dict(row["payload"]))
    sessions = list(by_session)  # in recording order
    shuffled = [a for i in order for a in by_session[sessions[i]]]

    other = graph_name + "_reordered"
    outcomes = _deliver_directly(shuffled, section(falkordb_server.port, other), root)
    assert [o.status for o in outcomes] == ["done"] * len(shuffled)
    with falkordb_graph(falkordb_server.port, other) as g:
        try:
            assert snapshot(g) == expected
        finally:
            g.delete()


def test_project_state_delivered_in_every_order_ends_at_the_latest(tmp_path: Path, falkordb_server: Any,
                                                                  graph: Any, graph_name: str) -> None:
    """Two sessions recorded within one millisecond: their four ProjectState writes (start and
    close of each), delivered again in every order after everything else, leave the state the
    last event made (the second session closed at 80%), never an older one."""
    from msp._model.actions import action_from_dict

    root = _project(tmp_path, falkordb_server.port, graph_name)
    plan(root, "neo4j", None, one_millisecond(record_both))
    drain(root)
    expected = snapshot(graph)
    (state,) = props(graph, "ProjectState")
    assert state["status"] == "idle" and state["progress"] == 80
    actions = [action_from_dict(r["payload"]) for r in stored_actions(root)]
    states = [a for a in actions if "ProjectState" in a.statement]
    assert len(states) == 4 and len({a.parameters["rows"][0]["props"]["as_of_ms"] for a in states}) == 1
    for order in itertools.permutations(states):
        (*_, last) = _deliver_directly(list(order), section(falkordb_server.port, graph_name), root)
        assert last.status == "done", last
        assert snapshot(graph) == expected, [a.parameters["rows"][0]["props"].get("as_of_seq") for a in order]


def _deliver_directly(actions: list[Any], config: dict[str, Any], root: Path) -> list[Any]:
    """Run actions straight through the cypher executor, in one batch (no outbox)."""
    import asyncio

    from msp_neo4j._executor import CypherExecutor

    from msp.executors import ExecutionContext

    async def go() -> list[Any]:
        executor = CypherExecutor()
        try:
            return await executor.execute_batch(actions, ExecutionContext("neo4j", config, root))
        finally:
            await executor.aclose()

    return asyncio.run(go())


def test_server_killed_mid_dispatch_and_restarted_loses_nothing(tmp_path: Path, own_server: Any,
                                                                falkordb_server: Any, graph: Any,
                                                                graph_name: str) -> None:
    from msp._config import open_project
    from msp._dispatch import drain_project
    from msp._model.actions import action_from_dict

    root = _project(tmp_path, own_server.port, "crashgraph")
    many = [*FIRST[:-1], *[("update", {"text": f"step {i}", "progress": 20 + i}) for i in range(40)], FIRST[-1]]
    planned = plan(root, "neo4j", None, lambda m: record(m, [*many, *SECOND]))
    project = open_project(root)
    assert project is not None
    killed: list[int] = []

    def kill_after_some(report: Any) -> None:
        if not killed and report.done >= 15:
            os.kill(own_server.pid, signal.SIGKILL)
            killed.append(report.done)

    first = drain_project(project, wait=False, timeout_s=30, progress=kill_after_some)
    assert killed, "the server was killed during the drain"
    assert first.done < planned and first.dead == 0, first.to_dict()
    assert _server.wait_dead(own_server.pid)

    restarted = _server.start(own_server.data_dir, port=own_server.port, require_password=False)
    try:
        second = drain(root, timeout_s=60)
        assert second["dead"] == 0, second
        rows = stored_actions(root)
        assert {row["status"] for row in rows} == {"done"}
        # The reference: the same actions delivered in one go, without a crash, to another graph.
        outcomes = _deliver_directly([action_from_dict(r["payload"]) for r in rows],
                                     section(falkordb_server.port, graph_name), root)
        assert {o.status for o in outcomes} == {"done"}
        with falkordb_graph(own_server.port, "crashgraph") as g:
            assert snapshot(g) == snapshot(graph)
            assert node_counts(g) == {**EXPECTED_NODES, "Progress": 43}
    finally:
        _server.stop(restarted.data_dir)


def test_embedded_default_graph_starts_itself_and_survives_a_kill(tmp_path: Path) -> None:
    """No uri configured: the integration's default is the project's embedded FalkorDB."""
    root = write_project(tmp_path / "proj", "neo4j", {})
    data_dir = _server.user_dir()
    assert _server.status(data_dir) is None
    try:
        plan(root, "neo4j", None, lambda m: record(m, FIRST))
        report = drain(root)
        assert report["dead"] == 0 and report["retried"] == 0, report
        server = _server.status(data_dir)
        assert server is not None and (data_dir / "server.json").is_file()
        with falkordb_graph(server.port, project_graph(root), server.password) as g:
            assert node_counts(g)["Session"] == 1
            indexed = {row[0] for row in g.ro_query("CALL db.indexes() YIELD label RETURN label").result_set}
        assert {"Session", "Progress", "Decision", "Entity", "Blocker"} <= indexed

        os.kill(server.pid, signal.SIGKILL)  # gone; the next drain brings it back
        assert _server.wait_dead(server.pid)
        plan(root, "neo4j", None, lambda m: record(m, SECOND))
        report = drain(root)
        assert report["dead"] == 0, report
        again = _server.status(data_dir)
        assert again is not None and again.pid != server.pid
        with falkordb_graph(again.port, project_graph(root), again.password) as g:
            assert node_counts(g) == EXPECTED_NODES
            assert relationship_counts(g) == EXPECTED_RELATIONSHIPS
    finally:
        running = _server.status(data_dir)
        if running is not None:
            _server.stop(data_dir)


def test_consecutive_progress_events_travel_as_one_unwind(tmp_path: Path, falkordb_server: Any,
                                                         graph: Any, graph_name: str) -> None:
    root = _project(tmp_path, falkordb_server.port, graph_name)
    updates = [("update", {"text": f"step {i}", "progress": i}) for i in range(12)]
    planned = plan(root, "neo4j", None, lambda m: record(m, [FIRST[0], *updates, FIRST[-1]]))
    report = drain(root)
    assert report["done"] == planned
    results = [row["result"] for row in stored_actions(root) if "Progress" in row["payload"]["statement"]]
    assert len(results) == 12
    assert all("one UNWIND statement with 11 other action(s)" in r for r in results), results
    assert node_counts(graph)["Progress"] == 12


@pytest.mark.parametrize("kind", ["nul"])
def test_a_value_the_server_cannot_store_is_dead_alone(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                      graph_name: str, kind: str) -> None:
    root = _project(tmp_path, falkordb_server.port, graph_name)
    updates = [("update", {"text": f"step {i}", "progress": i}) for i in range(6)]
    plan(root, "neo4j", None, lambda m: record(m, [FIRST[0], *updates]))
    # msp refuses a NUL at input now; an action planned from an event stored before that rule
    # may still carry one. Put it in the queued action, where the server meets it.
    import sqlite3

    target = [r["id"] for r in stored_actions(root)
              if "Progress" in r["payload"]["statement"] and '"step 3"' in json.dumps(r["payload"])]
    assert len(target) == 1
    with sqlite3.connect(root / ".msp" / "msp.db") as db:
        db.execute("UPDATE actions SET payload = replace(payload, '\"step 3\"', '\"step 3\\u0000\"') WHERE id = ?",
                   target)
    report = drain(root)
    rows = stored_actions(root)
    dead = [r for r in rows if r["status"] == "dead"]
    assert len(dead) == 1 and report["dead"] == 1
    assert "NUL" in dead[0]["last_error"] and "parameters.rows[0].props.text" in dead[0]["last_error"]
    assert node_counts(graph)["Progress"] == 5


def test_a_blocker_resolved_in_a_later_session_stays_with_the_session_that_raised_it(
        tmp_path: Path, falkordb_server: Any, graph: Any, graph_name: str) -> None:
    root = _project(tmp_path, falkordb_server.port, graph_name)
    plan(root, "neo4j", None, lambda m: record(m, [
        ("start", {"project": "p"}), ("block", {"text": "Waiting on the bank"}), ("end", {}),
        ("start", {"project": "p"}), ("resolve", {"blocker": "bank", "solution": "They answered"}), ("end", {}),
    ]))
    report = drain(root)
    assert report["dead"] == 0, report
    first, second = sorted(props(graph, "Session"), key=lambda s: s["started_ms"])
    (blocker,) = props(graph, "Blocker")
    assert blocker["status"] == "resolved" and blocker["solution"] == "They answered"
    assert blocker["session_id"] == first["id"] and blocker["resolved_in"] == second["id"]
    assert blocker["resolved_ms"] > blocker["raised_ms"]
    raised_by = graph.ro_query("MATCH (s:Session)-[:ENCOUNTERED_BLOCKER]->(:Blocker) RETURN s.id").result_set
    assert raised_by == [[first["id"]]]


def test_detected_items_and_a_retraction_reach_the_graph(tmp_path: Path, falkordb_server: Any,
                                                          graph: Any, graph_name: str) -> None:
    """Items detected in an update carry ``detected`` and ``from_update``; a retracted one keeps
    its node, marked ``retracted`` with the reason, after its session closed."""
    from msp._model.detect import DEFAULT_RULES

    root = _project(tmp_path, falkordb_server.port, graph_name)
    ids: dict[str, str] = {}

    def record_detected(manager: Any) -> None:
        manager.detect_rules = DEFAULT_RULES
        manager.start({"goal": "detect"})
        rec = manager.update({"text": "Decided to use an outbox. Blocked by the legal review; see `LedgerService`."})
        ids.update({e.type: e.data["id"] for e in rec.detected})
        ids["update"] = rec.event.id
        manager.end({})
        manager.retract({"item": ids["blocker_raised"], "reason": "legal was done"})

    assert plan(root, "neo4j", None, record_detected) > 0
    report = drain(root)
    assert report["dead"] == 0 and report["retried"] == 0, report
    (decision,) = props(graph, "Decision")
    assert decision["detected"] is True and decision["from_update"] == ids["update"]
    assert "retracted" not in decision
    (blocker,) = props(graph, "Blocker")
    assert blocker["id"] == ids["blocker_raised"] and blocker["retracted"] is True
    assert blocker["retraction"] == "legal was done" and blocker["retracted_ms"] > 0
    (entity,) = props(graph, "Entity")
    assert (entity["name"], entity["type"], entity["detected"]) == ("LedgerService", "class", True)


def test_a_changed_goal_reaches_the_session_node(tmp_path: Path, falkordb_server: Any,
                                                 graph: Any, graph_name: str) -> None:
    """`msp goal` mid-session sets the Session node's goal; the rest of the session stays."""
    root = _project(tmp_path, falkordb_server.port, graph_name)

    def record(manager: Any) -> None:
        manager.start({"goal": "first goal", "issue": "ENG-1"})
        manager.goal({"goal": "sharper goal"})
        manager.update({"text": "on it", "progress": 30})

    assert plan(root, "neo4j", None, record) > 0
    report = drain(root)
    assert report["dead"] == 0 and report["retried"] == 0, report
    (session,) = props(graph, "Session")
    assert (session["goal"], session["issue"]) == ("sharper goal", "ENG-1")
    assert len(props(graph, "Progress")) == 1
