"""What the example scripts' functions return, as PSRP objects (psrpcore types).

The stand-in peers (out-of-process and WSMan) dispatch on the command name and parameters they
receive through PSRP and answer from here. Each fixture mirrors the PowerShell function of the
same name in examples/powershell/teamchat-integration.ps1 or tests/powershell/data/
yourtool-integration.ps1: hashtables, an ordered dictionary, a PSCustomObject, error records.

Test knobs ride in the update text (``knob:...``) so a test can steer one call:
``knob:error-stream`` (a non-terminating error record), ``knob:throw`` (a terminating error),
``knob:big`` (a 50 KB answer), ``knob:odd`` (output of unrecognised shapes), ``knob:die`` (the
process exits mid-call), ``knob:hang`` (never answers), ``knob:missing-command`` (calls a command
nobody defined), ``knob:log`` (Write-MSPLog), ``knob:retry-queue`` (Add-MSPRetryQueue).
``knob:throw`` in a session's goal makes ``New-TeamChatSession`` fail with a terminating error.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSCustomObject,
    PSDict,
)

FUNCTION_RE = re.compile(r"^[ \t]*function[ \t]+([A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9]*)", re.I | re.M)


@dataclass
class Answer:
    output: list[Any] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (message, FullyQualifiedErrorId)
    warnings: list[str] = field(default_factory=list)
    terminating: ErrorRecord | None = None
    information: list[tuple[str, list[str]]] = field(default_factory=list)  # (message data, tags)
    die: bool = False
    hang: bool = False


def error_record(message: str, error_id: str, *,
                 exception_type: str = "System.Management.Automation.RuntimeException",
                 category: ErrorCategory = ErrorCategory.NotSpecified, reason: str = "",
                 target: str = "") -> ErrorRecord:
    exc = NETException(Message=message)
    exc.PSObject.type_names = [exception_type, "System.SystemException", "System.Exception", "System.Object"]
    return ErrorRecord(
        Exception=exc,
        CategoryInfo=ErrorCategoryInfo(Category=category, Reason=reason or exception_type.rsplit(".", 1)[-1],
                                       TargetName=target),
        FullyQualifiedErrorId=error_id,
    )


def command_not_found(name: str) -> ErrorRecord:
    return error_record(
        f"The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program.",
        "CommandNotFoundException",
        exception_type="System.Management.Automation.CommandNotFoundException",
        category=ErrorCategory.ObjectNotFound,
        reason="CommandNotFoundException",
        target=name,
    )


def ordered(items: dict[str, Any]) -> PSDict:
    value = PSDict(items)
    value.PSObject.type_names = ["System.Collections.Specialized.OrderedDictionary", "System.Object"]
    return value


def ht(**items: Any) -> PSDict:
    return PSDict(items)


class ModuleState:
    """One runspace's view of the module: what is defined and what Initialize stored."""

    def __init__(self) -> None:
        self.functions: dict[str, str] = {}  # lower name -> name
        self.config: dict[str, Any] = {}
        self.host_config: dict[str, Any] = {}  # what Get-MSPConfig would return
        self.enabled = True

    def load(self, source: str) -> None:
        for name in FUNCTION_RE.findall(source):
            self.functions[name.lower()] = name


def _knobs(text: str) -> set[str]:
    return set(re.findall(r"knob:([a-z-]+)", text or ""))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- teamchat-integration.ps1 --------------------------------------------------------------------

def _teamchat_initialize(state: ModuleState, params: dict[str, Any]) -> Answer:
    config = dict(params.get("Config") or {})
    state.config = {"webhookUrl": os.environ.get("TEAMCHAT_WEBHOOK_URL"), "username": "msp",
                    "milestones": [25, 50, 75, 100], "logFolder": "sessions", **config}
    if not state.config.get("webhookUrl"):
        state.enabled = False
        return Answer(output=[False], warnings=["TeamChat webhook URL not configured (set TEAMCHAT_WEBHOOK_URL)"])
    state.enabled = True
    return Answer(output=[True])


def _message(state: ModuleState, text: str, blocks: list[Any] | None = None) -> PSDict:
    payload = ht(text=text, username=state.config.get("username"))
    if state.config.get("channel"):
        payload["channel"] = state.config["channel"]
    if blocks:
        payload["blocks"] = blocks
    return payload


def _teamchat_new_session(state: ModuleState, params: dict[str, Any]) -> Answer:
    if not state.enabled:
        return Answer()
    s = params["Session"]
    if "throw" in _knobs(_text(s.get("goal"))):
        return Answer(terminating=error_record("TeamChat could not open the session thread", "ThreadFailed"))
    goal = f" - {s['goal']}" if s.get("goal") else ""
    text = f":arrow_forward: {_text(s.get('user'))} started a session on {s['project']}{goal}"
    return Answer(output=[ht(webhook=state.config["webhookUrl"], payload=_message(state, text))])


def _teamchat_update(state: ModuleState, params: dict[str, Any]) -> Answer:
    if not state.enabled:
        return Answer()
    update, session_id = params["Update"], params["SessionId"]
    description = _text(update.get("description"))
    knobs = _knobs(description)
    if "die" in knobs:
        return Answer(die=True)
    if "hang" in knobs:
        return Answer(hang=True)
    if "throw" in knobs:
        return Answer(terminating=error_record("TeamChat could not format the update", "FormatFailed"))
    out = Answer()
    if "missing-command" in knobs:  # the script calls a command nobody defined
        return Answer(terminating=command_not_found("Send-TeamChatTyping"))
    if "log" in knobs:  # Write-MSPLog "..." -Level Warning, as the host function emits it
        out.information.append((f"TeamChat skipped a milestone for {session_id}", ["msp:log", "level:Warning"]))
    if "retry-queue" in knobs:  # Add-MSPRetryQueue -Action UpdateProgress
        out.information.append(("UpdateProgress", ["msp:retry"]))
        return out
    if "error-stream" in knobs:
        out.errors.append(("Progress milestone table is corrupt", "MilestoneTable"))
    if "odd" in knobs:
        out.output += ["just a string", 42, ht(unexpected="shape")]
    if "big" in knobs:
        out.output.append(ordered({"webhook": state.config["webhookUrl"],
                                   "payload": ordered({"text": "x" * 50_000, "username": "msp"})}))
        return out
    progress = update.get("progress")
    if progress is None or int(progress) not in state.config["milestones"]:
        return out
    out.output.append(ordered({
        "webhook": state.config["webhookUrl"],
        "payload": ordered({"text": f":bar_chart: {session_id} reached {progress}%: {description}",
                            "username": state.config.get("username")}),
    }))
    return out


def _teamchat_decision(state: ModuleState, params: dict[str, Any]) -> Answer:
    if not state.enabled:
        return Answer()
    d = params["Decision"]
    why = f"\n_Why:_ {d['rationale']}" if d.get("rationale") else ""
    obj = PSCustomObject(webhook=state.config["webhookUrl"],
                         payload=_message(state, f":memo: Decision: {d['content']}{why}"))
    return Answer(output=[obj])


def _teamchat_close(state: ModuleState, params: dict[str, Any]) -> Answer:
    if not state.enabled:
        return Answer()
    s = params["Session"]
    blocks = [
        ht(type="header", text=ht(type="plain_text", text="MSP Session Complete")),
        ht(type="section", fields=[
            ht(type="mrkdwn", text=f"*Duration:*\n{s['duration']} hours"),
            ht(type="mrkdwn", text=f"*Progress:*\n{s['startProgress']}% -> {s['endProgress']}%"),
        ]),
    ]
    lines = [f"# Session {s['id']}", "", f"Project: {s['project']}", "", "## Updates"]
    lines += [f"- {u['description']}" for u in s.get("updates") or []]
    lines += ["", "## Decisions"]
    lines += [f"- {d['content']}" for d in s.get("decisions") or []]
    return Answer(output=[
        ht(webhook=state.config["webhookUrl"],
           payload=_message(state, f"Session {s['id']} complete", blocks)),
        ht(path=f"{state.config['logFolder']}/{s['id']}.md", content="\n".join(lines) + "\n", action="replace"),
    ])


def _teamchat_export(state: ModuleState, params: dict[str, Any]) -> Answer:
    s = params["Session"]
    export = {
        "version": "1.0",
        "session": {"id": s["id"], "duration": s["duration"],
                    "progress": {"start": s["startProgress"], "end": s["endProgress"]}},
        "updates": [{"time": u["timestamp"], "text": u["description"], "progress": u["progress"]}
                    for u in s.get("updates") or []],
    }
    return Answer(output=[json.dumps(export, indent=2)])


# --- yourtool-integration.ps1 ---------------------------------------------------------------------

def _yourtool_initialize(state: ModuleState, params: dict[str, Any]) -> Answer:
    state.config = {"apiKey": os.environ.get("YOURTOOL_API_KEY"), **dict(params.get("Config") or {})}
    if not state.config.get("apiKey"):
        state.enabled = False
        return Answer(output=[False], warnings=["YourTool API key not configured"])
    return Answer(output=[True])


def _yourtool_new_session(state: ModuleState, params: dict[str, Any]) -> Answer:
    s = params["Session"]
    return Answer(output=[ht(action="create_session", endpoint="/api/sessions", method="POST",
                             payload=ht(name=f"MSP Session {s['id']}", startTime=s["startTime"],
                                        project=s["project"]))])


def _yourtool_update(state: ModuleState, params: dict[str, Any]) -> Answer:
    u, sid = params["Update"], params["SessionId"]
    return Answer(output=[ht(action="update_progress", endpoint=f"/api/sessions/{sid}/progress", method="PUT",
                             payload=ht(progress=u["progress"], message=u["description"],
                                        timestamp=u["timestamp"]))])


def _yourtool_decision(state: ModuleState, params: dict[str, Any]) -> Answer:
    d, sid = params["Decision"], params["SessionId"]
    query = ("mutation AddDecision($session: ID!, $text: String!) "
             "{ addDecision(session: $session, text: $text) { id } }")
    return Answer(output=[ht(query=query, variables=ht(session=sid, text=d["content"]))])


FIXTURES = {
    "initialize-teamchatintegration": _teamchat_initialize,
    "new-teamchatsession": _teamchat_new_session,
    "update-teamchatprogress": _teamchat_update,
    "add-teamchatdecision": _teamchat_decision,
    "close-teamchatsession": _teamchat_close,
    "export-teamchatcontext": _teamchat_export,
    "initialize-yourtoolintegration": _yourtool_initialize,
    "new-yourtoolsession": _yourtool_new_session,
    "update-yourtoolprogress": _yourtool_update,
    "add-yourtooldecision": _yourtool_decision,
}
