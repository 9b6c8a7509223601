"""Executors by action kind, imported lazily by dotted path.

A kind whose executor cannot be imported or built leaves its actions pending with a clear
``last_error``; the drain carries on with every other kind.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Mapping
from typing import Any

#: kind -> "module:Class". Other issues fill in file, cypher and powershell.
EXECUTORS: dict[str, str] = {
    "http": "msp._executors.http:HttpExecutor",
    "graphql": "msp._executors.http:GraphQLExecutor",
    "file": "msp._executors.file:FileExecutor",
    "cypher": "msp_neo4j._executor:CypherExecutor",  # TEMPORARY: until msp_register_executors (branch ext)
    "powershell": "msp._executors.powershell:PowerShellExecutor",
}


class ExecutorUnavailable(Exception):
    """No executor can be had for a kind right now."""


class Registry:
    """The executors of one drain, built on first use and closed together."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, paths: Mapping[str, str] | None = None) -> None:
        self._paths = dict(paths if paths is not None else EXECUTORS)
        self._made: dict[str, Any] = dict(overrides or {})
        self._failed: dict[str, str] = {}

    def get(self, kind: str) -> Any:
        if kind in self._made:
            return self._made[kind]
        if kind in self._failed:
            raise ExecutorUnavailable(self._failed[kind])
        target = self._paths.get(kind)
        try:
            if target is None:
                raise LookupError(f"no executor is registered for action kind {kind!r}")
            module_name, _, attr = target.partition(":")
            module = importlib.import_module(module_name)
            executor = getattr(module, attr)()
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            message = (
                f"no executor for {kind!r} actions ({target or 'unregistered'}): {detail}; "
                "the actions stay pending until it is installed"
            )
            self._failed[kind] = message
            raise ExecutorUnavailable(message) from None
        self._made[kind] = executor
        return executor

    async def aclose(self) -> None:
        for executor in self._made.values():
            with contextlib.suppress(Exception):  # closing must never hide what the drain did
                await executor.aclose()
