"""The recall view: what an AI assistant (or a person) needs to pick the work up again.

It reads only what it shows: the most recent sessions in the window, their decisions and the
last updates, the open blockers, each through an indexed query with a limit, so its cost does
not grow with the length of the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from msp._model.events import (
    DECISION_RECORDED,
    ITEM_RETRACTED,
    PROGRESS_UPDATED,
    SESSION_CLOSED,
    decision_view,
    update_view,
)
from msp._model.models import format_time
from msp._store.interface import SessionRow, Store

MAX_SESSIONS = 10
MAX_DECISIONS = 15
LAST_UPDATES = 5


def _minutes(row: SessionRow, now: datetime) -> int:
    end = row.ended_at or now
    return max(0, int((end - row.started_at).total_seconds() // 60))


def build_context(store: Store, project: str | None, days: int, now: datetime) -> dict[str, Any]:
    since = now - timedelta(days=days)
    with store.read() as tx:
        rows = tx.list_sessions(project, since, MAX_SESSIONS)
        sessions = []
        decisions: list[dict[str, Any]] = []
        for row in rows:
            span = [row.start_progress, row.progress]
            sessions.append({**row.to_dict(), "duration_minutes": _minutes(row, now), "progress": span})
            if len(decisions) < MAX_DECISIONS:
                wanted = MAX_DECISIONS - len(decisions)
                # Items taken back (`msp retract`) are not recalled.
                retracted = {e.data["item_id"] for e in tx.session_events(row.id, [ITEM_RETRACTED.name])}
                for ev in tx.session_events(row.id, [DECISION_RECORDED.name], wanted + len(retracted), True):
                    if ev.data["id"] in retracted or len(decisions) >= MAX_DECISIONS:
                        continue
                    d = decision_view(ev)
                    decisions.append(
                        {
                            "session": row.id,
                            "at": format_time(d.at),
                            "text": d.text,
                            "rationale": d.rationale,
                            "alternatives": d.alternatives,
                            "impact": d.impact,
                        }
                    )
        last: dict[str, Any] | None = None
        if rows:
            head = rows[0]
            closing = tx.session_events(head.id, [SESSION_CLOSED.name], 1, True)
            recent = tx.session_events(head.id, [PROGRESS_UPDATED.name], LAST_UPDATES, True)
            updates = [update_view(ev) for ev in recent]
            last = {
                "id": head.id,
                "status": head.status,
                "progress": head.progress,
                "summary": closing[0].data.get("summary") if closing else None,
                "last_updates": [
                    {"at": format_time(u.at), "text": u.text, "progress": u.progress}
                    for u in reversed(updates)
                ],
            }
        projects = {project} if project else {r.project for r in rows}
        blockers = [
            {"id": b.id, "session": b.session_id, "text": b.text, "project": p}
            for p in sorted(projects)
            for b in tx.open_blockers(p)
        ]
    trend = [s["progress"] for s in reversed(sessions)]
    return {
        "project": project,
        "generated_at": format_time(now),
        "window_days": days,
        "where_we_stopped": last,
        "sessions": sessions,
        "decisions": decisions,
        "open_blockers": blockers,
        "progress_trend": trend,
    }


def render_markdown(ctx: dict[str, Any]) -> str:
    lines = [f"# Work context: {ctx['project'] or 'all projects'}", ""]
    last = ctx["where_we_stopped"]
    lines.append("## Where the last session stopped")
    if last is None:
        lines.append(f"No sessions in the last {ctx['window_days']} days.")
    else:
        state = "still active" if last["status"] == "active" else "closed"
        lines.append(f"Session {last['id']} ({state}), progress {last['progress']}%.")
        if last["summary"]:
            lines.append(f"Summary: {last['summary']}")
        for u in last["last_updates"]:
            pct = f" [{u['progress']}%]" if u["progress"] is not None else ""
            lines.append(f"- {u['text']}{pct}")
    lines += ["", "## Open blockers"]
    lines += [f"- {b['text']} (id {b['id']})" for b in ctx["open_blockers"]] or ["None."]
    lines += ["", "## Decisions"]
    for d in ctx["decisions"]:
        lines.append(f"- {d['text']}")
        if d["rationale"]:
            lines.append(f"  - why: {d['rationale']}")
        if d["alternatives"]:
            lines.append(f"  - instead of: {'; '.join(d['alternatives'])}")
    if not ctx["decisions"]:
        lines.append("None recorded.")
    lines += ["", "## Recent sessions"]
    for s in ctx["sessions"]:
        goal = f" goal: {s['goal']}" if s["goal"] else ""
        lines.append(
            f"- {s['id']} {s['status']}, {s['duration_minutes']} min, "
            f"progress {s['progress'][0]}% -> {s['progress'][1]}%{goal}"
        )
    if ctx["progress_trend"]:
        trend = " -> ".join(str(end) for _, end in ctx["progress_trend"])
        lines += ["", f"Progress trend (oldest first): {trend}"]
    return "\n".join(lines) + "\n"


def render_ai(ctx: dict[str, Any]) -> str:
    preface = (
        "You are resuming work with an engineer. Below is the recorded history of their recent "
        "work sessions (from msp). Use it to continue where they stopped; respect the decisions "
        "and their rationale unless asked to revisit them, and mind the open blockers.\n\n"
    )
    return preface + render_markdown(ctx)
