"""The core's executors, contributed through ``msp_register_executors`` like any plugin's.

The host registers this module as its first plugin. Each factory imports its executor (and
httpx, the PowerShell bridge...) only when a drain first delivers an action of that kind.
"""

from __future__ import annotations

from msp._executors import Executor, ExecutorKind
from msp._model.actions import FileWrite, GraphQLRequest, HttpRequest, PowerShellCall
from msp.hooks import hookimpl

#: The name the host registers this plugin under.
NAME = "msp"


def _http() -> Executor:
    from msp._executors.http import HttpExecutor

    return HttpExecutor()


def _graphql() -> Executor:
    from msp._executors.http import GraphQLExecutor

    return GraphQLExecutor()


def _file() -> Executor:
    from msp._executors.file import FileExecutor

    return FileExecutor()


def _powershell() -> Executor:
    from msp._executors.powershell import PowerShellExecutor

    return PowerShellExecutor()


@hookimpl
def msp_register_executors() -> list[ExecutorKind]:
    return [
        ExecutorKind(HttpRequest, _http),
        ExecutorKind(GraphQLRequest, _graphql),
        ExecutorKind(FileWrite, _file),
        ExecutorKind(PowerShellCall, _powershell),
    ]


def _cypher() -> Executor:
    from msp._executors.cypher import CypherExecutor

    return CypherExecutor()


def transitional_kinds() -> list[ExecutorKind]:
    """Kinds the core still serves until their integration registers them itself.

    TEMPORARY: ``cypher`` belongs to msp-neo4j (which will register it through
    ``msp_register_executors`` with the executor it ships); until then the host falls back to
    this entry when no loaded plugin registers the kind.
    """
    from msp._model.actions import CypherQuery

    return [ExecutorKind(CypherQuery, _cypher)]
