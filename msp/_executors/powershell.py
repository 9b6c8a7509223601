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
    returned; files the script wrote itself and query text held back are named in the summary
    (its result). A function the module lacks is ``done`` with a note (skipped). Output of an
    unrecognised shape is named in the summary as a warning.
``retry``
    A terminating error, anything on the error stream, a command the script calls that is not
    defined (``CommandNotFoundException``, attributed to the script), ``Add-MSPRetryQueue``
    called by the script, a runspace that died or overran its time. The dispatcher's backoff
    policy decides when to try again.
``wait``
    Not possible yet, without burning an attempt: Initialize returned ``$false`` (the
    integration is disabled for this drain), a missing credential, a missing module or pwsh,
    or a returned request msp's config cannot deliver (no api_url, a webhook URL msp does not
    know...).
"""

from __future__ import annotations

from typing import Any

from msp._executors import BaseExecutor, ExecutionContext, Outcome
from msp._logging import get_log, redact

_MAX_SUMMARY = 2000
#: Write-MSPLog levels (msp-model uses Info, Warning, Error, Debug, Success, Header) -> msp's.
_LEVELS = {"debug": "debug", "verbose": "debug", "info": "info", "information": "info", "success": "info",
           "header": "info", "warning": "warning", "warn": "warning", "error": "error"}


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
            return Outcome("retry", _summary([f"PowerShell bridge error: {type(exc).__name__}: {text}"]))

    async def _execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        from msp._powershell._convert import follow_ups
        from msp._powershell._doctor import is_probe, query_kind_for

        function = str(action.function)
        result = await self.bridge.call(ctx.integration, ctx.config, ctx.project_root, function,
                                        dict(action.arguments))
        for level, message in result.logs:
            # Write-MSPLog: into msp's log, attributed to the integration, its function and the script.
            get_log().log(_LEVELS.get(level.lower(), "info"), str(redact(message)), integration=ctx.integration,
                          function=function, source="Write-MSPLog")
        ps_warnings = [f"Write-Warning: {w}" for w in result.warnings]
        if is_probe(function, action.arguments):
            edition, version = result.version or ("unknown edition", "unknown version")
            head = f"PowerShell {edition} {version}"
            if result.status in ("wait", "retry"):
                return Outcome("wait" if result.status == "wait" else "retry",
                               _summary([result.message, head, *ps_warnings]))
            from msp._powershell._runtime import ps7_hint
            from msp._powershell._settings import parse_settings

            hint = ps7_hint(parse_settings(ctx.integration, ctx.config), ctx.project_root, result.version)
            if hint:  # it may import today and break on the first PowerShell 7-only line it runs
                return Outcome("wait", _summary([head, hint]))
            return Outcome("done", _summary([head, "module imported, initialized", *ps_warnings]))
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

        converted = follow_ups(result.output, ctx.config, function=function, resolve=resolve,
                               project_root=ctx.project_root,
                               query_kind=query_kind_for(ctx.integration, ctx.config, ctx.project_root, function))
        for warning in converted.warnings:
            get_log().log("warning", warning, integration=ctx.integration)
        if converted.problems:
            summary = _summary([*converted.problems, *converted.warnings, *ps_warnings])
            get_log().log("warning", "powershell output cannot be delivered", integration=ctx.integration,
                          summary=summary)
            return Outcome("wait", summary)
        count = len(converted.actions)
        head = f"{function}: {count} follow-up action{'s' if count != 1 else ''}"
        return Outcome("done", _summary([head, *converted.results, *converted.warnings, *ps_warnings]),
                       follow_ups=converted.actions)

    async def aclose(self) -> None:
        await self.bridge.aclose()
