"""The messages this integration posts: a session summary and a blocker alert.

Each is ``{"text": fallback, "blocks": [...]}``; the caller adds the channel for chat.postMessage.
Pure: durations come from the session's own times, never from a clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from msp import format_duration, session_duration

from . import _blocks as bk

if TYPE_CHECKING:
    from msp import Blocker, Decision, Session, Update

#: Sections per list at most: 4 + 4 + 2 + 2 list sections plus 5 fixed blocks stays far below 50.
_UPDATE_SECTIONS = 4
_DECISION_SECTIONS = 4
_BLOCKER_SECTIONS = 2


def _offset(start: datetime, at: datetime) -> str:
    minutes = max(0, int((at - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}:{minutes:02d}"


def progress_text(start: int, end: int) -> str:
    delta = end - start
    return f"{start}% → {end}% ({'+' if delta >= 0 else '−'}{abs(delta)})"


def title(session: Session) -> str:
    if session.goal and session.goal.strip():
        return session.goal.strip().splitlines()[0]
    return f"Work session on {session.project}"


def _update_line(session: Session, update: Update, limit: int) -> str:
    progress = f" {update.progress}%" if update.progress is not None else ""
    tags = f" _({bk.clip_mrkdwn(', '.join(update.tags), 200, one_line=True)})_" if update.tags else ""
    text = bk.clip_mrkdwn(update.text, limit, one_line=True)
    return f"• `{_offset(session.started_at, update.at)}`{progress} — {text}{tags}"


def _decision_line(decision: Decision, limit: int) -> str:
    line = f"• *{bk.clip_mrkdwn(decision.text, limit, one_line=True)}*"
    if decision.rationale:
        line += f"\n      _Why:_ {bk.clip_mrkdwn(decision.rationale, limit, one_line=True)}"
    if decision.alternatives:
        alternatives = bk.clip_mrkdwn("; ".join(decision.alternatives), limit, one_line=True)
        line += f"\n      _Instead of:_ {alternatives}"
    if decision.impact:
        line += f" _(impact {decision.impact})_"
    return line


def _blocker_line(blocker: Blocker, limit: int) -> str:
    tags = ", ".join(x for x in (blocker.severity, blocker.category) if x)
    line = f"• {bk.clip_mrkdwn(blocker.text, limit, one_line=True)}" + (f" _({bk.escape(tags)})_" if tags else "")
    if blocker.resolved_at is not None and blocker.solution:
        line += f"\n      _Solved:_ {bk.clip_mrkdwn(blocker.solution, limit, one_line=True)}"
    return line


def _meta(session: Session) -> list[str]:
    parts = [
        f"*Project:* {bk.clip_mrkdwn(session.project, 200, one_line=True)}",
        f"*Duration:* {format_duration(session_duration(session))}",
        f"*Progress:* {progress_text(session.start_progress, session.progress)}",
    ]
    if session.issue:
        parts.append(f"*Issue:* {bk.clip_mrkdwn(session.issue, 200, one_line=True)}")
    return parts


def session_summary(session: Session, *, max_items: int, item_chars: int) -> dict[str, Any]:
    """The close message: header, context, summary, counts, then updates, decisions, blockers."""
    resolved = [b for b in (*session.blockers, *session.resolved_elsewhere) if not b.is_open]
    open_blockers = session.open_blockers
    # Items taken back (`msp retract`) are not part of what the session did.
    decisions = [d for d in session.decisions if not d.is_retracted]
    entities = [e for e in session.entities if not e.is_retracted]
    blocks: list[bk.Block] = [bk.header(f"Session closed: {title(session)}"), bk.context(_meta(session))]
    if session.summary and session.summary.strip():
        blocks.append(bk.section(bk.clip_mrkdwn(session.summary, bk.SECTION_TEXT)))
    blocks.append(bk.fields([
        ("Updates", f"{len(session.updates):,}"),
        ("Decisions", f"{len(decisions):,}"),
        ("Entities", f"{len(entities):,}"),
        ("Blockers", f"{len(open_blockers):,} open, {len(resolved):,} resolved"),
    ]))
    lists = [
        bk.list_sections(f"Updates ({len(session.updates):,})",
                         [_update_line(session, u, item_chars) for u in session.updates], "updates",
                         max_items=max_items, max_sections=_UPDATE_SECTIONS),
        bk.list_sections(f"Decisions ({len(decisions):,})",
                         [_decision_line(d, item_chars) for d in decisions], "decisions",
                         max_items=max_items, max_sections=_DECISION_SECTIONS),
        bk.list_sections(f"Open blockers ({len(open_blockers):,})",
                         [_blocker_line(b, item_chars) for b in open_blockers], "open blockers",
                         max_items=max_items, max_sections=_BLOCKER_SECTIONS),
        bk.list_sections(f"Resolved blockers ({len(resolved):,})",
                         [_blocker_line(b, item_chars) for b in resolved], "resolved blockers",
                         max_items=max_items, max_sections=_BLOCKER_SECTIONS),
    ]
    if any(lists):
        blocks.append(bk.divider())
    for group in lists:
        blocks += group
    summary = f" {session.summary.strip()}" if session.summary and session.summary.strip() else ""
    text = (f"Session closed on {session.project}: {title(session)} "
            f"({format_duration(session_duration(session))}, progress "
            f"{progress_text(session.start_progress, session.progress)}).{summary}")
    return {"text": bk.fallback(text), "blocks": bk.fit(blocks)}


def blocker_alert(session: Session, blocker: Blocker) -> dict[str, Any]:
    """A short alert for a newly raised blocker."""
    parts = [f"*Project:* {bk.clip_mrkdwn(session.project, 200, one_line=True)}"]
    if blocker.severity:
        parts.append(f"*Severity:* {blocker.severity}")
    if blocker.category:
        parts.append(f"*Category:* {blocker.category}")
    if session.issue:
        parts.append(f"*Issue:* {bk.clip_mrkdwn(session.issue, 200, one_line=True)}")
    parts.append(f"*Session:* {bk.clip_mrkdwn(title(session), 200, one_line=True)}")
    blocks = [
        bk.header(f"Blocker raised: {blocker.text}"),
        bk.section(bk.clip_mrkdwn(blocker.text, bk.SECTION_TEXT)),
        bk.context(parts),
    ]
    severity = f" ({blocker.severity})" if blocker.severity else ""
    return {"text": bk.fallback(f"Blocker raised on {session.project}{severity}: {blocker.text}"),
            "blocks": blocks}
