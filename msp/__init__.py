"""msp: keep an engineer's work sessions and fan them out to the tools a team already uses.

The public surface is small and loaded lazily, so ``import msp`` costs almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from msp._model.actions import Action, CypherQuery, FileWrite, GraphQLRequest, HttpRequest, PowerShellCall
    from msp._model.findings import Finding
    from msp._model.models import Blocker, Decision, Entity, Event, Session, Update, format_time
    from msp._project import project
    from msp._session.manager import SessionManager
    from msp.errors import MspError
    from msp.hooks import hookimpl

_LAZY = {
    "hookimpl": "msp.hooks",
    "Action": "msp._model.actions",
    "CypherQuery": "msp._model.actions",
    "Finding": "msp._model.findings",
    "FileWrite": "msp._model.actions",
    "GraphQLRequest": "msp._model.actions",
    "HttpRequest": "msp._model.actions",
    "PowerShellCall": "msp._model.actions",
    "MspError": "msp.errors",
    "Blocker": "msp._model.models",
    "Decision": "msp._model.models",
    "Entity": "msp._model.models",
    "Event": "msp._model.models",
    "Session": "msp._model.models",
    "Update": "msp._model.models",
    "SessionManager": "msp._session.manager",
    "project": "msp._project",
    "format_time": "msp._model.models",  # also added on branch api
}

__all__ = [
    "Action",
    "Blocker",
    "CypherQuery",
    "Decision",
    "Entity",
    "Event",
    "FileWrite",
    "Finding",
    "GraphQLRequest",
    "HttpRequest",
    "MspError",
    "PowerShellCall",
    "Session",
    "SessionManager",
    "Update",
    "__version__",
    "format_time",
    "hookimpl",
    "project",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
