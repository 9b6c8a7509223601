"""An external msp integration, published the way any third party would publish one.

For every session it keeps ``<root>/<session id>.todo.txt`` in the todo.txt format
(http://todotxt.org): one task per blocker, priority from its severity, completed (``x``) once
resolved, and the session's goal as a task until the session closes. The file is rewritten from
the session's state on each event, so delivering an action twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from msp import FileWrite, hookimpl

name = "todotxt"
config_schema: dict[str, Any] = {
    "type": "object",
    "properties": {
        "root": {"type": "string", "minLength": 1, "description": "Folder for the .todo.txt files."},
        "context": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "description": "@context on every task."},
    },
    "required": ["root"],
    "additionalProperties": False,
}
defaults: dict[str, Any] = {"context": "msp"}
_PRIORITY = {"high": "(A) ", "medium": "(B) ", "low": "(C) "}


def _one_line(text: str) -> str:
    # todo.txt is line based: a task is one line whatever the user typed.
    return " ".join(text.split())


def _tag(project: str) -> str:
    return "+" + ("".join(c if c.isalnum() or c in "-_" else "-" for c in project) or "project")


def render(session: Any, config: dict[str, Any]) -> str:
    """The session's todo.txt, from its state alone."""
    context = f"@{config.get('context', 'msp')}"
    project = _tag(session.project)
    lines = []
    if session.goal:
        day = session.started_at.strftime("%Y-%m-%d")
        if session.status == "closed" and session.ended_at is not None:
            lines.append(f"x {session.ended_at:%Y-%m-%d} {day} {_one_line(session.goal)} {project} {context}")
        else:
            lines.append(f"{day} {_one_line(session.goal)} {project} {context}")
    for blocker in [*session.blockers, *session.resolved_elsewhere]:
        raised = blocker.at.strftime("%Y-%m-%d")
        text = f"{_one_line(blocker.text)} {project} {context} blocker:{blocker.id}"
        if blocker.resolved_at is not None:
            lines.append(f"x {blocker.resolved_at:%Y-%m-%d} {raised} {text}")
        else:
            lines.append(f"{_PRIORITY.get(blocker.severity or '', '')}{raised} {text}")
    return "".join(f"{line}\n" for line in lines)


def _write(session: Any, config: dict[str, Any]) -> FileWrite:
    return FileWrite(path=f"{session.id}.todo.txt", content=render(session, config), mode="replace")


@hookimpl
def msp_session_start(session: Any, config: dict[str, Any]) -> Any:
    return _write(session, config) if session.goal else None


@hookimpl
def msp_blocker(session: Any, config: dict[str, Any]) -> Any:
    return _write(session, config)


@hookimpl
def msp_session_close(session: Any, config: dict[str, Any]) -> Any:
    return _write(session, config)


@hookimpl
def msp_export(sessions: list[Any], config: dict[str, Any]) -> str:
    return "".join(render(s, config) for s in sessions)
