"""msp: keep an engineer's work sessions and fan them out to the tools a team already uses.

The public surface is small and loaded lazily, so ``import msp`` costs almost nothing:

- the models a hook receives (``Session``, ``Event``, ``Update``, ``Decision``, ``Entity``,
  ``Blocker``) and the actions it returns (``CypherQuery``, ``GraphQLRequest``,
  ``HttpRequest``, ``FileWrite``, ``PowerShellCall``);
- ``hookimpl``, the marker for hook implementations (the specs are in :mod:`msp.hooks`);
- ``SessionManager``, the Python API that records moments;
- helpers that take no clock: ``format_time`` / ``parse_time`` (the stored UTC text form),
  ``session_duration(session, until=None)`` (seconds, from the session's own times) and
  ``format_duration(seconds)`` (``1h 05m``);
- ``MspError``, the base of the error tree in :mod:`msp.errors`.

Executor authors find their interface in :mod:`msp.executors`; integration tests, in
:mod:`msp.testing`. Everything else (modules with a leading underscore) is private.
"""

# No ``from __future__ import annotations`` and only private helper names, so the namespace
# holds exactly what __all__ lists (tests/test_public_api.py checks it).
import typing as _typing

from msp._version import __version__

if _typing.TYPE_CHECKING:
    from msp._model.actions import Action, CypherQuery, FileWrite, GraphQLRequest, HttpRequest, PowerShellCall
    from msp._model.durations import format_duration, session_duration
    from msp._model.findings import Finding
    from msp._model.models import Blocker, Decision, Entity, Event, Session, Update, format_time, parse_time
    from msp._project import project
    from msp._session.manager import SessionManager
    from msp.errors import MspError
    from msp.hooks import hookimpl

_LAZY: dict[str, str] = {
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
    "format_time": "msp._model.models",
    "parse_time": "msp._model.models",
    "session_duration": "msp._model.durations",
    "format_duration": "msp._model.durations",
    "project": "msp._project",
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
    "format_duration",
    "format_time",
    "hookimpl",
    "parse_time",
    "project",
    "session_duration",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
