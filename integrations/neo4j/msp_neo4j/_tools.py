"""Looking into a FalkorDB graph by hand: status, counts, the demo's summary, read-only queries.

These back ``msp graph ...`` (:mod:`msp_neo4j._commands`) and :func:`msp_neo4j.demo_summary`.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from msp.errors import MspError


class GraphToolError(MspError):
    code = "GRAPH_TOOL"


#: A query parameter's name. The FalkorDB client writes names into its ``CYPHER name=value``
#: header as they are, so anything else could change the query.
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _falkordb_target(config: Mapping[str, Any], project_root: Path | None = None) -> Any:
    from ._executor import TargetError, parse_target

    try:
        target = parse_target(config, project_root)
    except TargetError as exc:
        raise GraphToolError(f"integrations.neo4j: {exc}", "fix uri in [integrations.neo4j]") from None
    if target.backend != "falkordb":
        raise GraphToolError(
            f"{target.uri} is a Neo4j server; use Neo4j Browser or cypher-shell to query it",
            "these tools read FalkorDB graphs (the embedded one, or falkordb://)",
        )
    return target


@contextlib.contextmanager
def _connect(host: str, port: int, target: Any, password: str | None) -> Iterator[Any]:
    from falkordb import FalkorDB

    db = FalkorDB(host=host, port=port, username=target.user, password=password, ssl=target.ssl,
                  socket_timeout=30, socket_connect_timeout=10)
    try:
        yield db
    finally:
        with contextlib.suppress(Exception):
            db.connection.close()


def _password(config: Mapping[str, Any]) -> str | None:
    from msp.executors import is_configured, resolve_secret

    return resolve_secret(config, "password", integration="neo4j") if is_configured(config, "password") else None


@contextlib.contextmanager
def open_graph(project_root: Path, config: Mapping[str, Any]) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A synchronous FalkorDB graph handle for the config's target, and where it is.

    The embedded server is started when it is not running (use :func:`status` to look
    without starting anything)."""
    from . import _server

    target = _falkordb_target(config, project_root)
    where: dict[str, Any] = {"graph": target.graph, "uri": target.uri}
    password = None
    if target.embedded:
        data_dir = _server.user_dir()
        server = _server.ensure(data_dir)
        host, port, password = server.host, server.port, server.password
        where.update(embedded=True, data_dir=str(data_dir), host=host, port=port, pid=server.pid)
    else:
        host, port = target.host, target.port
        where.update(embedded=False, host=host, port=port)
        password = _password(config)
    with _connect(host, port, target, password) as db:
        yield db.select_graph(target.graph), where


def status(project_root: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """Whether the configured graph server is running, where, and which graphs it holds.

    Only looks: an embedded server that is down stays down."""
    from . import _executor, _server

    try:
        target = _executor.parse_target(config, project_root)
    except _executor.TargetError as exc:
        raise GraphToolError(f"integrations.neo4j: {exc}", "fix uri in [integrations.neo4j]") from None
    info: dict[str, Any] = {"uri": target.uri, "embedded": target.embedded}
    if target.backend == "bolt":
        # A Neo4j server is the user's own; msp neither runs nor probes it here.
        return {**info, "backend": "neo4j", "running": None, "database": target.database}
    info.update(backend="falkordb", graph=target.graph)
    if target.embedded:
        data_dir = _server.user_dir()
        info["data_dir"] = str(data_dir)
        if _server.stop_if_idle(data_dir, _idle_limit(config)):
            info["stopped_idle"] = True
        server = _server.status(data_dir)
        if server is None:
            return {**info, "running": False, "host": None, "port": None, "pid": None, "graphs": []}
        host, port = server.host, server.port
        idle = _server.idle_minutes(data_dir)
        info.update(host=host, port=port, pid=server.pid, idle_minutes=None if idle is None else round(idle, 1))
        password = server.password
    else:
        host, port = target.host, target.port
        info.update(host=host, port=port, pid=None)
        password = _password(config)
    try:
        with _connect(host, port, target, password) as db:
            graphs = sorted(str(g) for g in db.list_graphs())
    except Exception as exc:  # an external server that is down or refuses us: that is the answer
        return {**info, "running": False, "graphs": [], "error": f"{type(exc).__name__}: {exc}"}
    return {**info, "running": True, "graphs": graphs}


def start(project_root: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """Start the project's embedded server (or find it running); where it is."""
    from . import _server
    from ._executor import DEFAULT_URI

    target = _falkordb_target(config, project_root)
    if not target.embedded:
        raise GraphToolError(
            f"{target.uri} is a server you run; msp starts only the embedded graph",
            f"remove uri from [integrations.neo4j] (the default is {DEFAULT_URI}) to use the embedded graph",
        )
    data_dir = _server.user_dir()
    server = _server.ensure(data_dir)
    return {"running": True, "embedded": True, "graph": target.graph, **server.to_dict()}


def stop(project_root: Path | None = None) -> bool:
    """Stop the user's embedded server (one for every project); True if one was running."""
    from . import _server

    return _server.stop(_server.user_dir())


def _idle_limit(config: Mapping[str, Any]) -> float:
    from ._server import DEFAULT_IDLE_STOP_MINUTES

    value = config.get("idle_stop_minutes", DEFAULT_IDLE_STOP_MINUTES)
    return float(value) if isinstance(value, int | float) else float(DEFAULT_IDLE_STOP_MINUTES)


def stop_if_idle(config: Mapping[str, Any]) -> bool:
    """Stop the user's embedded server when it has been idle longer than the config allows."""
    from . import _server

    return _server.stop_if_idle(_server.user_dir(), _idle_limit(config))


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
    lines.append(f"    {shlex.quote(sys.executable)} -m msp graph query {_shell_quote(query)}")
    return "\n".join(lines)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def query(project_root: Path, config: Mapping[str, Any], statement: str,
          params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
    """Run a read-only query, its values passed as parameters; (column names, rows)."""
    for key in params or {}:
        if not PARAMETER_NAME.fullmatch(key):
            raise GraphToolError(f"parameter name {key!r} is not a valid name",
                                 "use letters, digits and _ (not starting with a digit), e.g. --param name=value")
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


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(plain(value), ensure_ascii=False)
    return " ".join(text.split())  # one line per row, whatever the text holds


def format_rows(header: list[str], rows: list[list[Any]]) -> str:
    """A plain text table: the column names, a rule, one line per row, columns aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells if i < len(row))]) for i, name in enumerate(header)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out)
