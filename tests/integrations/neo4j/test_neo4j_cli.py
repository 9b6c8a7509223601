"""The integration through msp's own commands: ``msp integrations setup neo4j``,
``msp export --integration neo4j`` and ``msp replay --integration neo4j`` then ``msp dispatch``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import EXPECTED_NODES, FIRST, SECOND, record, record_both, section, snapshot

from msp.testing import cli_json, drain, plan, write_project


def test_integrations_setup_indexes_the_configured_graph(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                         graph_name: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    for _ in range(2):  # a second run is fine too
        code, out = cli_json(root, "integrations", "setup", "neo4j", "--json")
        assert code == 0, out
        assert json.loads(out)["actions"] == 9
    rows = graph.ro_query("CALL db.indexes() YIELD label RETURN label ORDER BY label").result_set
    assert [r[0] for r in rows] == sorted(["Project", "Session", "Progress", "Decision", "Alternative", "Entity",
                                           "Blocker", "ProjectState", "Commit"])


def test_export_prints_a_script_for_the_latest_session(tmp_path: Path, falkordb_server: Any,
                                                       graph_name: str) -> None:
    from msp_neo4j._export import parse_script

    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    plan(root, "neo4j", None, lambda m: record(m, FIRST))
    code, out = cli_json(root, "export", "--integration", "neo4j", "--json")
    assert code == 0, out
    script = json.loads(out)["export"]
    assert script.startswith("// msp knowledge graph export: 1 session(s)")
    assert len(parse_script(script)) >= 8
    assert "Run the retryworker off an outbox table" in script


def test_replay_backfills_a_newly_enabled_graph(tmp_path: Path, falkordb_server: Any, graph: Any,
                                                graph_name: str) -> None:
    """A second graph enabled after the sessions were recorded (``use = "neo4j"``): ``msp
    replay`` plans the stored events through it, ``msp dispatch`` delivers them, and it ends up
    equal to the graph that saw them live. Replaying again plans nothing new."""
    from neo4j_graph import falkordb_graph, node_counts

    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    plan(root, "neo4j", None, record_both)
    drain(root)
    live = snapshot(graph)

    backfill = graph_name + "_backfill"
    write_project(root, "neo4j", section(falkordb_server.port, graph_name))
    config = root / ".msp" / "config.toml"
    config.write_text(config.read_text() + f'''
[integrations.later]
use = "neo4j"
uri = "falkordb://127.0.0.1:{falkordb_server.port}/{backfill}"
''')
    code, out = cli_json(root, "replay", "--integration", "later", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["events"] == len(FIRST) + len(SECOND) and result["new_actions"] > 0
    code, out = cli_json(root, "dispatch", "--json")
    assert code == 0, out
    with falkordb_graph(falkordb_server.port, backfill) as g:
        try:
            assert node_counts(g) == EXPECTED_NODES
            assert snapshot(g) == live
        finally:
            g.delete()
    code, out = cli_json(root, "replay", "--integration", "later", "--json")
    assert code == 0 and json.loads(out)["new_actions"] == 0, out
