"""Looking into a FalkorDB graph by hand: counts, the demo's summary, read-only queries."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from msp.errors import MspError


class GraphToolError(MspError):
    code = "GRAPH_TOOL"


@contextlib.contextmanager
def open_graph(project_root: Path, config: Mapping[str, Any]) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A synchronous FalkorDB graph handle for the config's target, and where it is."""
    from msp import _graph_server
    from msp._executors.cypher import parse_target
    from msp._secrets import is_configured, resolve_secret

    target = parse_target(config)
    if target.backend != "falkordb":
        raise GraphToolError(
            f"{target.uri} is a Neo4j server; use Neo4j Browser or cypher-shell to query it",
            "these tools read FalkorDB graphs (the embedded one, or falkordb://)",
        )
    where: dict[str, Any] = {"graph": target.graph, "uri": target.uri}
    password = None
    if target.embedded:
        data_dir = _graph_server.graph_dir(project_root)
        server = _graph_server.ensure(data_dir)
        host, port = server.host, server.port
        where.update(embedded=True, data_dir=str(data_dir), host=host, port=port, pid=server.pid)
    else:
        host, port = target.host, target.port
        where.update(embedded=False, host=host, port=port)
        if is_configured(config, "password"):
            password = resolve_secret(config, "password", integration="neo4j")
    from falkordb import FalkorDB

    db = FalkorDB(host=host, port=port, username=target.user, password=password, ssl=target.ssl,
                  socket_timeout=30, socket_connect_timeout=10)
    try:
        yield db.select_graph(target.graph), where
    finally:
        with contextlib.suppress(Exception):
            db.connection.close()


def _count(graph: Any, statement: str) -> dict[str, int]:
    try:
        rows = graph.ro_query(statement).result_set
    except Exception as exc:  # an empty, never-written graph does not exist yet
        if "empty key" in str(exc).lower() or "invalid graph" in str(exc).lower():
            return {}
        raise
    return {str(k): int(v) for k, v in rows if k is not None}


def counts(project_root: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    with open_graph(project_root, config) as (graph, where):
        nodes = _count(graph, "MATCH (n) RETURN labels(n)[0] AS label, count(n) AS n ORDER BY label")
        rels = _count(graph, "MATCH ()-[r]->() RETURN type(r) AS type, count(r) AS n ORDER BY type")
    return {**where, "nodes": nodes, "relationships": rels}


def summary(project_root: Path, config: Mapping[str, Any], query: str) -> str:
    info = counts(project_root, config)
    kind = "embedded FalkorDB" if info.get("embedded") else "FalkorDB"
    lines = [f"Knowledge graph ({kind}): graph {info['graph']!r} on {info['host']}:{info['port']}"]
    if info.get("data_dir"):
        lines.append(f"  data: {info['data_dir']} (server pid {info['pid']}; it keeps running for later commands)")
    nodes = ", ".join(f"{k} {v}" for k, v in info["nodes"].items()) or "none yet"
    rels = ", ".join(f"{k} {v}" for k, v in info["relationships"].items()) or "none yet"
    lines.append(f"  nodes: {nodes}")
    lines.append(f"  relationships: {rels}")
    lines.append("  try (from the project folder):")
    # The interpreter msp runs in, which has msp_neo4j; a bare `python` may be another one.
    lines.append(f"    {shlex.quote(sys.executable)} -m msp_neo4j query {_shell_quote(query)}")
    return "\n".join(lines)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def query(project_root: Path, config: Mapping[str, Any], statement: str,
          params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
    """Run a read-only query; (column names, rows)."""
    with open_graph(project_root, config) as (graph, _):
        result = graph.ro_query(statement, dict(params) if params else None)
        header = [h[1] if isinstance(h, list | tuple) else str(h) for h in (result.header or [])]
        return header, [list(row) for row in result.result_set]


def plain(value: Any) -> Any:
    """A query value as plain JSON data (nodes and edges as their properties)."""
    props = getattr(value, "properties", None)
    if isinstance(props, dict):
        labels = getattr(value, "labels", None) or getattr(value, "relation", None)
        return {"_": labels, **{k: plain(v) for k, v in props.items()}}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def format_rows(header: list[str], rows: list[list[Any]]) -> str:
    out = ["\t".join(header)]
    for row in rows:
        out.append("\t".join(v if isinstance(v, str) else json.dumps(plain(v), ensure_ascii=False) for v in row))
    return "\n".join(out)
