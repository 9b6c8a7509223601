"""The executor interface, for plugins that contribute an action kind (``msp_register_executors``).

An executor delivers actions of one kind: ``execute(action, ctx) -> Outcome`` (and optionally
``execute_batch`` for consecutive actions of one integration, and ``aclose``). It resolves
credentials at send time through ``ctx.secret(key)`` (or :func:`resolve_secret`); a missing one
raises :class:`MissingCredential`, which the dispatcher turns into an outcome of ``wait``.
Retries, rate limits and ordering belong to the dispatcher: an executor only says what happened.

    from msp import Action, hookimpl
    from msp.executors import BaseExecutor, ExecutorKind, Outcome

    class Todo(Action):
        kind: Literal["todo"] = "todo"
        title: str

    class TodoExecutor(BaseExecutor):
        async def execute(self, action, ctx):
            ...
            return Outcome("done", "created")

    @hookimpl
    def msp_register_executors():
        return ExecutorKind(Todo, TodoExecutor)
"""

# No ``from __future__ import annotations``: the namespace holds exactly what __all__ lists.
from msp._executors import BaseExecutor, ExecutionContext, Executor, ExecutorKind, Outcome, OutcomeStatus
from msp._secrets import is_configured, resolve_secret, secret_names
from msp.errors import MissingCredential

__all__ = [
    "BaseExecutor",
    "ExecutionContext",
    "Executor",
    "ExecutorKind",
    "MissingCredential",
    "Outcome",
    "OutcomeStatus",
    "is_configured",
    "resolve_secret",
    "secret_names",
]
