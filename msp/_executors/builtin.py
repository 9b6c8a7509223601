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
