"""msp: keep an engineer's work sessions and fan them out to the tools a team already uses.

The public surface is small and loaded lazily, so ``import msp`` costs almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ._actions import CypherQuery, FileWrite, GraphQLRequest, HttpRequest, PowerShellCall
    from ._errors import MspError
    from ._models import Blocker, Decision, Entity, Event, Session, Update
    from ._session import SessionManager
    from .hooks import hookimpl

_LAZY = {
    "hookimpl": "msp.hooks",
    "CypherQuery": "msp._actions",
    "FileWrite": "msp._actions",
    "GraphQLRequest": "msp._actions",
    "HttpRequest": "msp._actions",
    "PowerShellCall": "msp._actions",
    "MspError": "msp._errors",
    "Blocker": "msp._models",
    "Decision": "msp._models",
    "Entity": "msp._models",
    "Event": "msp._models",
    "Session": "msp._models",
    "Update": "msp._models",
    "SessionManager": "msp._session",
}

__all__ = [
    "Blocker",
    "CypherQuery",
    "Decision",
    "Entity",
    "Event",
    "FileWrite",
    "GraphQLRequest",
    "HttpRequest",
    "MspError",
    "PowerShellCall",
    "Session",
    "SessionManager",
    "Update",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
