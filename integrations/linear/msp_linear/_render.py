"""Markdown bodies for Linear comments and issues. Pure functions of the session they are given.

Times are shown relative to the session's start (``+1:05``), so nothing here reads a clock or
depends on the machine's time zone.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from msp import format_duration, session_duration

if TYPE_CHECKING:
    from msp import Blocker, Decision, Session, Update

ELLIPSIS = "…"


def client_id(anchor: str, label: str) -> str:
    """A UUID (v4 layout, as Linear's inputs ask) derived from an event or session id and a label.

    The same anchor and label always give the same id, so a retried or replayed create names the
    same object and Linear refuses to make a second one.
    """
    digest = hashlib.sha256(f"msp-linear\x1f{anchor}\x1f{label}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def offset(start: datetime, at: datetime) -> str:
    """``+H:MM`` since the session started."""
    minutes = max(0, int((at - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}:{minutes:02d}"


def progress_line(start: int, end: int) -> str:
    delta = end - start
    sign = "+" if delta >= 0 else "−"
    return f"{start}% → {end}% ({sign}{abs(delta)})"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, visibly."""
    if len(text) <= limit:
        return text
    marker = f" {ELLIPSIS} (truncated, {len(text):,} characters)"
    return text[: max(0, limit - len(marker))].rstrip() + marker


def _item(text: str, limit: int) -> str:
    """One list item's text: clipped, and continuation lines indented to stay in the item."""
    return clip(text.strip(), limit).replace("\r\n", "\n").replace("\n", "\n  ")


def _bullets(lines: Sequence[str], max_items: int, noun: str) -> list[str]:
    shown = [f"- {line}" for line in lines[:max_items]]
    if len(lines) > max_items:
        shown.append(f"- {ELLIPSIS} and {len(lines) - max_items:,} more {noun}")
    return shown


def _update_line(session: Session, update: Update, limit: int) -> str:
    progress = f" · {update.progress}%" if update.progress is not None else ""
    tags = f" · tags: {', '.join(update.tags)}" if update.tags else ""
    return f"`{offset(session.started_at, update.at)}`{progress} · {_item(update.text, limit)}{tags}"


def _decision_line(decision: Decision, limit: int) -> str:
    line = f"**{_item(decision.text, limit)}**"
    if decision.rationale:
        line += f"\n  Why: {_item(decision.rationale, limit)}"
    details = []
    if decision.alternatives:
        details.append("instead of " + "; ".join(_item(a, limit) for a in decision.alternatives))
    if decision.impact:
        details.append(f"impact {decision.impact}")
    if decision.category:
        details.append(decision.category)
    if details:
        line += f"\n  _{', '.join(details)}_"
    return line


def _blocker_line(blocker: Blocker, limit: int) -> str:
    tags = ", ".join(x for x in (blocker.severity, blocker.category) if x)
    line = _item(blocker.text, limit) + (f" _({tags})_" if tags else "")
    if blocker.resolved_at is not None:
        line += " — resolved" + (f": {_item(blocker.solution, limit)}" if blocker.solution else "")
    return line


def session_title(session: Session) -> str:
    return session.goal.strip().splitlines()[0] if session.goal and session.goal.strip() else (
        f"Work session on {session.project}")


def close_comment(session: Session, *, max_items: int, item_chars: int) -> str:
    """The session summary: summary, duration, progress, updates, decisions, blockers."""
    out = [f"### Session summary: {clip(session_title(session), 200)}", ""]
    if session.summary:
        out += [_item(session.summary, item_chars).replace("\n  ", "\n"), ""]
    out.append(
        f"**Project:** {session.project} · **Duration:** {format_duration(session_duration(session))}"
        f" · **Progress:** {progress_line(session.start_progress, session.progress)}"
    )
    out.append("")
    if session.updates:
        out.append(f"#### Updates ({len(session.updates):,})")
        out += _bullets([_update_line(session, u, item_chars) for u in session.updates], max_items, "updates")
        out.append("")
    decisions = [d for d in session.decisions if not d.is_retracted]  # taken back: not what it did
    if decisions:
        out.append(f"#### Decisions ({len(decisions):,})")
        out += _bullets([_decision_line(d, item_chars) for d in decisions], max_items, "decisions")
        out.append("")
    open_blockers = session.open_blockers
    resolved = [b for b in (*session.blockers, *session.resolved_elsewhere) if not b.is_open]
    if open_blockers:
        out.append(f"#### Open blockers ({len(open_blockers):,})")
        out += _bullets([_blocker_line(b, item_chars) for b in open_blockers], max_items, "open blockers")
        out.append("")
    if resolved:
        out.append(f"#### Resolved blockers ({len(resolved):,})")
        out += _bullets([_blocker_line(b, item_chars) for b in resolved], max_items, "resolved blockers")
        out.append("")
    out.append(f"_Recorded by msp, session {session.id}_")
    return "\n".join(out).strip() + "\n"


def progress_comment(session: Session, update: Update, since: int, *, item_chars: int) -> str:
    """A short comment for one update: the progress move since the last such comment, and the text."""
    now = update.progress if update.progress is not None else since
    # since < 0: the progress at the last comment is not known (a long session's early part).
    moved = progress_line(since, now) if since >= 0 else f"{update.progress if update.progress is not None else '?'}%"
    out = [
        f"**Progress {moved}** · `{offset(session.started_at, update.at)}` into the session"
        f" on {session.project}",
        "",
        clip(update.text.strip(), item_chars),
    ]
    if update.tags:
        out += ["", f"_tags: {', '.join(update.tags)}_"]
    return "\n".join(out) + "\n"


def issue_description(session: Session, *, item_chars: int) -> str:
    out = [f"Work session on **{session.project}**, tracked by msp."]
    if session.goal:
        out += ["", f"**Goal:** {clip(session.goal.strip(), item_chars)}"]
    out += ["", f"**Progress at start:** {session.start_progress}%", "", f"_Recorded by msp, session {session.id}_"]
    return "\n".join(out) + "\n"
