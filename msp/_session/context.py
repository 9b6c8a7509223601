"""The recall view: what an AI assistant (or a person) needs to pick the work up again.

It reads only what it shows: the most recent sessions in the window, their decisions and the
last updates, the open blockers, each through an indexed query with a limit, so its cost does
not grow with the length of the history.

By default it is the calling engineer's own work (``user``); the team view (``msp context
--team``) is every engineer's recent sessions on the project, with where each one stopped.
Open blockers are the project's, whoever raised them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from msp._model.events import (
    DECISION_RECORDED,
    ENTITY_RECORDED,
    ITEM_RETRACTED,
    PROGRESS_UPDATED,
    SESSION_CLOSED,
    decision_view,
    entity_view,
    update_view,
)
from msp._model.identity import label
from msp._model.models import format_time
from msp._store.interface import SessionRow, Store

MAX_SESSIONS = 10
#: The team view shows more: several engineers share the window.
MAX_TEAM_SESSIONS = 30
MAX_DECISIONS = 15
#: Entities shown, the latest first, one per name.
MAX_ENTITIES = 20
LAST_UPDATES = 5


def _minutes(row: SessionRow, now: datetime) -> int:
    end = row.ended_at or now
    return max(0, int((end - row.started_at).total_seconds() // 60))


def build_context(store: Store, project: str | None, days: int, now: datetime, *,
                  user: str | None = None, team: bool = False) -> dict[str, Any]:
    """The recall view of ``project`` (None: every project) over the last ``days``: the
    sessions of engineer ``user`` (None: everyone's), or with ``team`` every engineer's, with
    where each of them stopped."""
    since = now - timedelta(days=days)
    if team:
        user = None
    with store.read() as tx:
        rows = tx.list_sessions(project, since, MAX_TEAM_SESSIONS if team else MAX_SESSIONS, user=user)
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
        entities: list[dict[str, Any]] = []
        named: set[str] = set()
        for row in rows:
            if len(entities) >= MAX_ENTITIES:
                break
            # Bounded per session too: a session that recorded thousands costs one limited read.
            for ev in tx.session_events(row.id, [ENTITY_RECORDED.name], MAX_ENTITIES, True):
                e = entity_view(ev)
                if e.name in named or len(entities) >= MAX_ENTITIES:
                    continue
                named.add(e.name)
                entities.append({"session": row.id, "at": format_time(e.at), "name": e.name, "type": e.type,
                                 "path": e.path, "description": e.description})
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
    team_part = {"team": True, "engineers": _engineers(rows)} if team else {}
    return {
        **team_part,
        "project": project,
        "generated_at": format_time(now),
        "window_days": days,
        "where_we_stopped": last,
        "sessions": sessions,
        "decisions": decisions,
        "entities": entities,
        "open_blockers": blockers,
        "progress_trend": trend,
    }


def _engineers(rows: list[SessionRow]) -> list[dict[str, Any]]:
    """Each engineer in ``rows`` (newest first) with their session count and where their latest
    stands, the most recently started first. Sessions with no user are grouped as one."""
    out: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        entry = out.get(row.user)
        if entry is None:
            entry = out[row.user] = {
                "user": row.user,
                "host": row.host,
                "sessions": 0,
                "latest": {"id": row.id, "status": row.status, "progress": row.progress, "goal": row.goal,
                           "started_at": format_time(row.started_at)},
            }
        entry["sessions"] += 1
    return list(out.values())


def _who(entry: dict[str, Any]) -> str:
    return label(entry.get("user"), entry.get("host")) or "(no engineer recorded)"


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
    if ctx.get("team"):
        lines += ["", "## Engineers"]
        for e in ctx["engineers"]:
            latest = e["latest"]
            goal = f", goal: {latest['goal']}" if latest["goal"] else ""
            lines.append(f"- {_who(e)}: {e['sessions']} session(s); latest {latest['id']} "
                         f"{latest['status']} at {latest['progress']}%{goal}")
        if not ctx["engineers"]:
            lines.append("No one recorded a session in the window.")
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
    lines += ["", "## Entities"]
    for e in ctx.get("entities", []):
        kind = f" ({e['type']})" if e["type"] else ""
        where = f" at {e['path']}" if e["path"] else ""
        about = f": {e['description']}" if e["description"] else ""
        lines.append(f"- {e['name']}{kind}{where}{about}")
    if not ctx.get("entities"):
        lines.append("None recorded.")
    lines += ["", "## Recent sessions"]
    for s in ctx["sessions"]:
        goal = f" goal: {s['goal']}" if s["goal"] else ""
        by = f" by {_who(s)}" if ctx.get("team") else ""
        lines.append(
            f"- {s['id']} {s['status']}{by}, {s['duration_minutes']} min, "
            f"progress {s['progress'][0]}% -> {s['progress'][1]}%{goal}"
        )
    if ctx["progress_trend"]:
        trend = " -> ".join(str(end) for _, end in ctx["progress_trend"])
        lines += ["", f"Progress trend (oldest first): {trend}"]
    return "\n".join(lines) + "\n"


def render_ai(ctx: dict[str, Any]) -> str:
    if ctx.get("team"):
        return (
            "You are joining a team's work. Below is the recorded history of the recent work sessions "
            "of every engineer on the project (from msp), with where each of them stopped. Use it to see "
            "who works on what; respect the decisions and their rationale unless asked to revisit them, "
            "and mind the open blockers.\n\n"
        ) + render_markdown(ctx)
    preface = (
        "You are resuming work with an engineer. Below is the recorded history of their recent "
        "work sessions (from msp). Use it to continue where they stopped; respect the decisions "
        "and their rationale unless asked to revisit them, and mind the open blockers.\n\n"
    )
    return preface + render_markdown(ctx)
