"""The executor for ``powershell`` actions: runs the integration module's function in its
runspace and turns the hashtables it returns into follow-up actions.

Loaded by the dispatcher as ``msp._executors.powershell:PowerShellExecutor``. One instance
serves one drain: one runspace per integration, reused for every action of the drain, the
module imported once and ``Initialize-<P>Integration`` run once per runspace.

No ``execute_batch``: calls go one at a time through the dispatcher, which stops a lane at a
call that failed (a failed ``New-<P>Session`` holds back the session's later calls) and
delivers a call's follow-ups before the next call of the lane runs.

Outcomes:

``done``
    The function ran; ``follow_ups`` holds the http/graphql/file actions built from what it
    returned. A function the module lacks is ``done`` with a note (skipped). Output of an
    unrecognised shape is named in the summary as a warning.
``retry``
    A terminating error, anything on the error stream, a runspace that died or overran its
    time. The dispatcher's backoff policy decides when to try again.
``wait``
    Not possible yet, without burning an attempt: Initialize returned ``$false`` (the
    integration is disabled for this drain), a missing credential, a missing module or pwsh,
    or a returned request msp's config cannot deliver (no api_url, a webhook URL msp does not
    know...).
"""

from __future__ import annotations

from typing import Any

from msp._executors import BaseExecutor, ExecutionContext, Outcome, unreachable
from msp._logging import get_log, redact

_MAX_SUMMARY = 2000


def _summary(parts: list[str]) -> str:
    text = "; ".join(p for p in parts if p)
    text = str(redact(text))
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 3] + "..."


class PowerShellExecutor(BaseExecutor):
    def __init__(self) -> None:
        from msp._powershell._runtime import Bridge

        self.bridge = Bridge()

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        try:
            return await self._execute(action, ctx)
        except Exception as exc:  # the core never crashes because of a script
            text = str(exc).strip()
            # A remote host (WinRM) that cannot be reached is offline: bounded by age, not attempts.
            return Outcome("retry", _summary([f"PowerShell bridge error: {type(exc).__name__}: {text}"]),
                           offline=unreachable(exc))

    async def _execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        from msp._powershell._convert import follow_ups

        function = str(action.function)
        result = await self.bridge.call(ctx.integration, ctx.config, ctx.project_root, function,
                                        dict(action.arguments))
        ps_warnings = [f"Write-Warning: {w}" for w in result.warnings]
        if result.status in ("wait", "retry"):
            summary = _summary([result.message, *ps_warnings])
            get_log().log("warning", "powershell call not delivered", integration=ctx.integration,
                          function=function, status=result.status, summary=summary)
            return Outcome(result.status, summary)
        if result.status == "skipped":
            return Outcome("done", _summary([result.message, *ps_warnings]))

        def resolve(key: str) -> str | None:
            try:
                return ctx.secret(key)
            except Exception:
                return None

        converted = follow_ups(result.output, ctx.config, function=function, resolve=resolve)
        for warning in converted.warnings:
            get_log().log("warning", warning, integration=ctx.integration)
        if converted.problems:
            summary = _summary([*converted.problems, *converted.warnings, *ps_warnings])
            get_log().log("warning", "powershell output cannot be delivered", integration=ctx.integration,
                          summary=summary)
            return Outcome("wait", summary)
        count = len(converted.actions)
        head = f"{function}: {count} follow-up action{'s' if count != 1 else ''}"
        return Outcome("done", _summary([head, *converted.warnings, *ps_warnings]),
                       follow_ups=converted.actions)

    async def aclose(self) -> None:
        await self.bridge.aclose()
