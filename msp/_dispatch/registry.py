"""Executors by action kind, built from the kinds the loaded plugins register.

Each plugin (the core's built-ins included) contributes ``ExecutorKind`` values through
``msp_register_executors``; an executor is built by its factory the first time a drain delivers
an action of its kind. A kind that no loaded plugin registers, or whose executor cannot be
built, leaves its actions pending with a clear ``last_error``; the drain carries on with every
other kind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msp._executors import ExecutorKind
    from msp._model.actions import Action
    from msp._model.findings import Finding
    from msp._plugins.host import PluginHost


class ExecutorUnavailable(Exception):
    """No executor can be had for a kind right now."""


def default_kinds() -> dict[str, ExecutorKind]:
    """The core's kinds, for a drain built without a plugin host."""
    from msp._executors import builtin

    return {entry.kind: entry for entry in builtin.msp_register_executors()}


class Registry:
    """The executors of one drain, built on first use and closed together.

    ``overrides`` maps kinds to ready-made executors (tests inject them); ``kinds`` is the
    table of registered kinds (default: the core's).
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None,
                 kinds: Mapping[str, ExecutorKind] | None = None) -> None:
        self.kinds = dict(kinds) if kinds is not None else default_kinds()
        self._made: dict[str, Any] = dict(overrides or {})
        self._failed: dict[str, str] = {}

    def models(self) -> dict[str, type[Action]]:
        """Action models by kind: the registered ones, and the built-in model of a kind served
        only by an injected executor."""
        from msp._model.actions import BUILTIN_ACTIONS

        models = {kind: entry.action for kind, entry in self.kinds.items()}
        for kind in self._made:
            if kind not in models and kind in BUILTIN_ACTIONS:
                models[kind] = BUILTIN_ACTIONS[kind]
        return models

    def parse(self, payload: Mapping[str, Any]) -> Any:
        """An action from its stored form, by the model its kind is registered with."""
        from msp._model.actions import action_from_dict

        return action_from_dict(payload, self.models())

    def get(self, kind: str) -> Any:
        if kind in self._made:
            return self._made[kind]
        if kind in self._failed:
            raise ExecutorUnavailable(self._failed[kind])
        entry = self.kinds.get(kind)
        if entry is None:
            message = (f"no executor for {kind!r} actions: no installed plugin registers it; "
                       "the actions stay pending until the integration that registers it is installed and enabled")
            self._failed[kind] = message
            raise ExecutorUnavailable(message)
        try:
            executor = entry.factory()
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            message = (
                f"no executor for {kind!r} actions ({getattr(entry.factory, '__qualname__', entry.factory)}): "
                f"{detail}; the actions stay pending until it is installed"
            )
            self._failed[kind] = message
            raise ExecutorUnavailable(message) from None
        self._made[kind] = executor
        return executor

    async def aclose(self) -> None:
        for executor in self._made.values():
            with contextlib.suppress(Exception):  # closing must never hide what the drain did
                await executor.aclose()


def run_probes(host: PluginHost, name: str, probes: Sequence[Action], project_root: Path,
               timeout_s: float) -> list[Finding]:
    """Deliver an integration's ``msp_doctor`` probe actions now, through their executors with
    credentials (not through the outbox: a probe is a question, not work to keep). Each outcome
    becomes a finding: ``done`` is ok, anything else a problem naming the outcome."""
    import asyncio

    from msp._dispatch.drain import _Context, scrub
    from msp._model.actions import stamp
    from msp._model.findings import Finding
    from msp._secrets import MissingCredential

    integration = host.integrations[name]
    registry = Registry(kinds=host.executor_kinds())
    ctx = _Context(integration=name, config=integration.config, project_root=project_root,
                   settings=integration.settings, timeout_s=timeout_s)

    async def probe(label: str, action: Action) -> Finding:
        try:
            executor = registry.get(action.kind)
            async with asyncio.timeout(max(30.0, timeout_s * 3)):
                outcome = await executor.execute(action, ctx)
        except ExecutorUnavailable as exc:
            return Finding(severity="problem", message=f"{label}: {exc}")
        except MissingCredential as exc:
            return Finding(severity="problem", message=f"{label}: wait: {scrub(exc.message, ctx.seen)}", fix=exc.hint)
        except TimeoutError:
            return Finding(severity="problem", message=f"{label}: no answer within {max(30.0, timeout_s * 3):g}s")
        except Exception as exc:
            detail = scrub(f"{type(exc).__name__}: {exc}", ctx.seen)
            return Finding(severity="problem", message=f"{label}: executor error: {detail}")
        summary = scrub(outcome.summary or "", ctx.seen)
        if outcome.status == "done":
            return Finding(severity="ok", message=f"{label}: done" + (f" ({summary})" if summary else ""))
        return Finding(severity="problem", message=f"{label}: {outcome.status}" + (f": {summary}" if summary else ""),
                       fix="check the integration's connection settings and credentials")

    async def run() -> list[Finding]:
        try:
            return [await probe(f"probe {i + 1} ({p.kind})", stamp(p, name, f"probe-{i}"))
                    for i, p in enumerate(probes)]
        finally:
            await registry.aclose()

    return asyncio.run(run())
