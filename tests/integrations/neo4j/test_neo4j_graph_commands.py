"""``msp graph start|stop|status|query``: the commands msp-neo4j adds to ``msp``.

``status`` only looks (a stopped server stays stopped), ``query`` passes every value as a
parameter and refuses writes, and each command prints one JSON document with ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from msp_neo4j import _server
from msp_neo4j._executor import project_graph
from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import FIRST, HOSTILE, falkordb_graph, graph_cli, node_counts, record, section

from msp.testing import drain, plan, write_project


def redis_servers_serving(data_dir: Path) -> list[int]:
    """Process ids of every redis-server on this machine working in ``data_dir`` (redis-server
    rewrites its command line once it runs, but stays in the folder its ``--dir`` names)."""
    found = []
    target = data_dir.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            cwd = (entry / "cwd").resolve(strict=True)
        except OSError:
            continue
        if name.startswith("redis-server") and cwd == target:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_status_reports_and_never_starts_the_embedded_server(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "neo4j", {})
    data_dir = _server.user_dir()
    try:
        code, out, _ = graph_cli(root, "start", "--json")
        assert code == 0, out
        started = json.loads(out)
        assert started["ok"] and started["data_dir"] == str(data_dir)
        assert redis_servers_serving(data_dir) == [started["pid"]]

        code, out, _ = graph_cli(root, "status", "--json")
        assert code == 0, out
        running = json.loads(out)
        assert running["running"] is True and running["embedded"] is True
        assert (running["port"], running["pid"]) == (started["port"], started["pid"])
        assert running["graph"] == project_graph(root) and isinstance(running["graphs"], list)

        code, out, _ = graph_cli(root, "stop")
        assert code == 0 and out.strip() == "stopped", out
        assert _server.wait_dead(started["pid"])

        for _ in range(2):  # asking twice starts nothing either
            code, out, _ = graph_cli(root, "status", "--json")
            assert code == 0, out
            info = json.loads(out)
            assert info["running"] is False and info["pid"] is None and info["data_dir"] == str(data_dir)
        assert _server.status(data_dir) is None
        assert redis_servers_serving(data_dir) == []

        code, out, _ = graph_cli(root, "status")
        assert code == 0 and "not running" in out, out
        code, out, _ = graph_cli(root, "stop")
        assert code == 0 and "was not running" in out, out
    finally:
        _server.stop(data_dir)


def test_status_of_a_project_that_never_used_the_graph_creates_nothing(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "neo4j", {})
    code, out, _ = graph_cli(root, "status", "--json")
    assert code == 0, out
    assert json.loads(out)["running"] is False
    assert not _server.user_dir().exists()


def test_start_refuses_a_server_the_user_runs(tmp_path: Path, falkordb_server: Any, graph_name: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    code, out, err = graph_cli(root, "start", "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "GRAPH_TOOL"
    assert "msp starts only the embedded graph" in err
    code, out, _ = graph_cli(root, "status", "--json")  # an external server: reported, with its graphs
    assert code == 0, out
    info = json.loads(out)
    assert info["running"] is True and info["embedded"] is False and info["port"] == falkordb_server.port


def test_query_prints_a_table_and_json(tmp_path: Path, falkordb_server: Any, graph: Any, graph_name: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    plan(root, "neo4j", None, lambda m: record(m, FIRST))
    drain(root)
    statement = "MATCH (e:Entity) WHERE toLower(e.name) CONTAINS toLower($x) RETURN e.name AS name, e.type AS type"
    code, out, _ = graph_cli(root, "query", statement, "--param", "x=retry")
    assert code == 0, out
    assert out.splitlines() == ["name         type", "-----------  -------", "RetryWorker  service", "(1 row)"]
    code, out, _ = graph_cli(root, "query", statement, "--param", "x=o", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["columns"] == ["name", "type"]
    assert sorted(r["name"] for r in data["rows"]) == ["Outbox", "RetryWorker"]


@pytest.mark.parametrize("hostile", HOSTILE[:8])
def test_query_passes_a_hostile_string_as_a_parameter(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                      graph_name: str, hostile: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    plan(root, "neo4j", None, lambda m: record(m, FIRST))
    drain(root)
    before = node_counts(graph)
    # Echoed back unchanged: the value never became part of the query text.
    code, out, _ = graph_cli(root, "query", "RETURN $x AS x", "--param", f"x={hostile}", "--json")
    assert code == 0, out
    assert json.loads(out)["rows"] == [{"x": hostile}]
    code, out, _ = graph_cli(root, "query", "MATCH (e:Entity {name: $x}) RETURN e.name", "--param",
                             f"x={hostile}", "--json")
    assert code == 0, out
    assert json.loads(out)["rows"] == []
    assert node_counts(graph) == before


def test_query_refuses_writes_and_hostile_parameter_names(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                          graph_name: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    plan(root, "neo4j", None, lambda m: record(m, FIRST))
    drain(root)
    before = node_counts(graph)
    code, out, err = graph_cli(root, "query", "MATCH (n) DETACH DELETE n", "--json")
    assert code == 1 and json.loads(out)["ok"] is False and "error:" in err
    # The client writes parameter names into the query's header: a name must be a name.
    code, out, err = graph_cli(root, "query", "RETURN 1", "--param", "x) MATCH (n) DETACH DELETE n //=2", "--json")
    assert code == 1 and "is not a valid name" in json.loads(out)["error"]["message"], out
    code, out, err = graph_cli(root, "query", "RETURN 1", "--param", "novalue")
    assert code == 2 and "expected NAME=VALUE" in err
    assert node_counts(graph) == before


def test_query_on_the_embedded_graph_starts_it(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "neo4j", {})
    data_dir = _server.user_dir()
    try:
        plan(root, "neo4j", None, lambda m: record(m, FIRST))
        drain(root)
        server = _server.status(data_dir)
        assert server is not None
        assert _server.stop(data_dir)
        code, out, _ = graph_cli(root, "query", "MATCH (d:Decision) RETURN d.text", "--json")
        assert code == 0, out
        assert json.loads(out)["rows"] == [{"d.text": "Run the retryworker off an outbox table"}]
        again = _server.status(data_dir)
        assert again is not None
        with falkordb_graph(again.port, project_graph(root), again.password) as g:
            assert node_counts(g)["Decision"] == 1
    finally:
        _server.stop(data_dir)


def test_outside_a_project_the_commands_say_so(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    code, out, err = graph_cli(nowhere, "status", "--json")
    assert code == 1, err
    assert json.loads(out)["error"]["code"] == "PROJECT_NOT_FOUND"
    assert list(nowhere.iterdir()) == []
