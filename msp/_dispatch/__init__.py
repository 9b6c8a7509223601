"""The dispatcher: a durable outbox in the store, delivered by executors under one policy.

Kept light to import: the CLI's hot path reaches :mod:`msp._dispatch.kick` after a commit,
and nothing here imports asyncio or httpx until a drain actually runs. See docs/dispatch.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msp._dispatch.drain import Dispatcher, DrainOptions, DrainReport, IntegrationInfo
    from msp._dispatch.run import DispatchBusy, drain_project, integrations_for

__all__ = ["DispatchBusy", "Dispatcher", "DrainOptions", "DrainReport", "IntegrationInfo", "drain_project",
           "integrations_for"]

_LAZY = {
    "Dispatcher": ".drain", "DrainOptions": ".drain", "DrainReport": ".drain", "IntegrationInfo": ".drain",
    "DispatchBusy": ".run", "drain_project": ".run", "integrations_for": ".run",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msp._dispatch' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
