"""Commits recorded in a session (``msp git``) become Commit nodes linked to the session and to
the update that recorded them, delivered to a real FalkorDB; the values travel as parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import props, section

from msp.testing import drain, plan, write_project

HASH = "3f" * 20
SUBJECT = "Fix refunds'}) DETACH DELETE n //"


def _record(manager: Any) -> None:
    manager.start({"project": "payments", "goal": "Refunds"})
    manager.update({"text": "Committed 3f3f3f3f3f", "commit": {"hash": HASH, "subject": SUBJECT,
                                                                "files": ["billing/refunds.py", "tests/t.py"]}})
    manager.update({"text": "Committed again", "commit": {"hash": HASH, "subject": SUBJECT, "files": []}})
    manager.update({"text": "Plain update", "progress": 50})


def test_commits_link_to_their_session(tmp_path: Path, falkordb_server: Any, graph: Any, graph_name: str) -> None:
    root = write_project(tmp_path / "proj", "neo4j", section(falkordb_server.port, graph_name))
    planned = plan(root, "neo4j", None, _record)
    report = drain(root)
    assert report["done"] == planned and report["dead"] == 0, report
    (commit,) = props(graph, "Commit")  # one node per hash, however often recorded
    assert commit["hash"] == HASH and commit["subject"] == SUBJECT
    rows = graph.ro_query(
        "MATCH (s:Session)-[:HAS_COMMIT]->(c:Commit {id: $hash}) RETURN s.id", params={"hash": HASH}
    ).result_set
    assert len(rows) == 1
    recorded_by = graph.ro_query("MATCH (p:Progress)-[:RECORDS]->(:Commit) RETURN count(p)").result_set
    assert recorded_by[0][0] == 2
    assert len(props(graph, "Progress")) == 3
