"""Executors deliver actions. One small interface; retry policy, rate limits and ordering live
in the dispatcher, so an executor only says what happened to each action it was given.

An executor is chosen by action ``kind``. ``execute_batch`` receives consecutive actions of one
integration and kind (an executor may deliver them together, say in one database transaction); the
default loops over ``execute``. A batch should stop at the first action that is not delivered
(retry or wait) or that returns follow-ups, returning outcomes for the actions it tried: the
dispatcher applies outcomes only up to that point and hands the rest back to be delivered again
in their turn.

Which executor serves which kind is contributed by plugins through ``msp_register_executors``
as :class:`ExecutorKind` values (the core's own through :mod:`msp._executors.builtin`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from msp._secrets import resolve_secret

if TYPE_CHECKING:
    from msp._model.actions import Action

OutcomeStatus = Literal["done", "retry", "dead", "wait"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one action.

    ``done``: delivered. ``retry``: a transient failure, try again under the backoff policy
    (``retry_after_s`` when the server said how long). ``dead``: will never succeed as it is.
    ``wait``: cannot be tried yet (a missing credential); stays pending without burning an
    attempt. ``follow_ups`` are actions produced by delivering this one (PowerShell output).
    """

    status: OutcomeStatus
    summary: str = ""
    retry_after_s: float | None = None
    status_code: int | None = None
    follow_ups: list[Any] = field(default_factory=list)


@dataclass
class ExecutionContext:
    """What an executor may know about the integration an action belongs to."""

    integration: str
    config: Mapping[str, Any]
    project_root: Path
    settings: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 10.0

    def secret(self, key: str) -> str:
        """Resolve a named secret now; raises MissingCredential (an Outcome of ``wait``)."""
        return resolve_secret(self.config, key, integration=self.integration)


class Executor(Protocol):
    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome: ...

    async def execute_batch(self, actions: Sequence[Any], ctx: ExecutionContext) -> list[Outcome]: ...

    async def aclose(self) -> None: ...


class BaseExecutor:
    """Convenience base: ``execute_batch`` runs ``execute`` one action at a time."""

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        raise NotImplementedError

    async def execute_batch(self, actions: Sequence[Any], ctx: ExecutionContext) -> list[Outcome]:
        return [await self.execute(a, ctx) for a in actions]

    async def aclose(self) -> None:
        return None


class HandlerExecutor(BaseExecutor):
    """A test executor: a plain function decides each action's outcome."""

    def __init__(self, handler: Callable[[Any, ExecutionContext], Outcome]) -> None:
        self.handler = handler
        self.seen: list[Any] = []

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        self.seen.append(action)
        return self.handler(action, ctx)


@dataclass(frozen=True)
class ExecutorKind:
    """One action kind a plugin contributes: its model and how to build its executor.

    ``factory`` is called (without arguments) only when a drain first delivers an action of
    this kind, so heavy drivers are imported inside it, not where the plugin is imported.
    """

    action: type[Action]
    factory: Callable[[], Executor]

    def __post_init__(self) -> None:
        from msp._model.actions import kind_of

        kind_of(self.action)  # raises TypeError naming the class when it is no action model
        if not callable(self.factory):
            raise TypeError(f"ExecutorKind({self.action.__name__}): factory must be callable, "
                            f"got {type(self.factory).__name__}")

    @property
    def kind(self) -> str:
        from msp._model.actions import kind_of

        return kind_of(self.action)
