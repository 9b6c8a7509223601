"""A commit message from a session: what it was for, where it got, and what happened since the
session's last recorded commit.

::

    Make refunds idempotent (40% -> 65%)

    - Mapped the charge flow (40%)
    - Wrapped the refund call in a retry (65%)

    Decisions:
    - Going with idempotency keys on the gateway

    Refs: PAY-12
    MSP-Session: 20261205-091500-4k2m9x7q

The subject stays within :data:`SUBJECT_WIDTH` characters and the body wraps at
:data:`BODY_WIDTH`, as git's own tools expect; the last lines are git trailers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from msp._model.models import Session

SUBJECT_WIDTH = 72
BODY_WIDTH = 72


@dataclass(frozen=True)
class CommitMessage:
    subject: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.subject}\n\n{self.body}\n" if self.body else f"{self.subject}\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    cut = text[: width - 3]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip() + "..."


def _item(text: str) -> str:
    return textwrap.fill(_one_line(text), width=BODY_WIDTH, initial_indent="- ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


def compose(session: Session) -> CommitMessage:
    """The message for a commit made now in ``session``: the subject from its goal (else its
    latest update) and progress; the body from the updates and decisions recorded since its
    last recorded commit, and the issue key and session id as trailers."""
    committed = [u for u in session.updates if u.commit is not None]
    since = committed[-1].at if committed else None
    updates = [u for u in session.updates if u.commit is None and (since is None or u.at > since)]
    decisions = [d for d in session.decisions if since is None or d.at > since]

    progress = (f"{session.start_progress}% -> {session.progress}%" if session.progress != session.start_progress
                else f"{session.progress}%")
    latest = _one_line(updates[-1].text) if updates else ""
    topic = _one_line(session.goal or "") or latest or f"Work on {session.project}"
    suffix = f" ({progress})"
    subject = _fit(topic, SUBJECT_WIDTH - len(suffix)) + suffix

    parts: list[str] = []
    if updates:
        parts.append("\n".join(_item(u.text + ("" if u.progress is None else f" ({u.progress}%)")) for u in updates))
    if decisions:
        parts.append("Decisions:\n" + "\n".join(_item(d.text) for d in decisions))
    trailers = []
    if session.issue:
        trailers.append(f"Refs: {_one_line(session.issue)}")
    trailers.append(f"MSP-Session: {session.id}")
    parts.append("\n".join(trailers))
    return CommitMessage(subject, "\n\n".join(parts))
