"""What the daily commands give back: where the project stopped (``msp start``), where it stands
(``msp status``), what a session did (``msp end``), and which project ``msp context`` shows.

Each function reads the store through a handful of indexed, limited queries (never every
event of a session, let alone of the project), so ``msp start`` stays as quick with a year of
history as with none. Each returns a JSON-ready dict (the ``--json`` document's field) and the
lines its text shows; the front-ends only place them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from msp._app.screen import counted
from msp._model.durations import format_duration, seconds_between

if TYPE_CHECKING:
    from msp._app.context import Context
    from msp._store.interface import SessionRow, StoreReader

#: How many of the project's open blockers, latest decisions and latest updates a view shows.
SHOWN_BLOCKERS = 10
SHOWN_DECISIONS = 3
SHOWN_UPDATES = 3
#: How many earlier sessions the latest decisions are looked for in.
DECISION_SESSIONS = 5


def _time(at: datetime | None) -> str | None:
    from msp._model.models import format_time

    return format_time(at) if at is not None else None


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _open_blockers(tx: StoreReader, project: str) -> tuple[list[dict[str, Any]], int]:
    """The project's open blockers (the oldest first, at most :data:`SHOWN_BLOCKERS`) and how many are open."""
    rows = tx.open_blockers(project)
    shown = [{"id": b.id, "session": b.session_id, "text": b.text} for b in rows[:SHOWN_BLOCKERS]]
    return shown, len(rows)


def _blocker_lines(shown: list[dict[str, Any]], total: int) -> list[str]:
    if not total:
        return []
    lines = [f"Open blockers of the project ({total}):"]
    lines += [f"  {b['id']}  {_one_line(b['text'])}" for b in shown]
    if total > len(shown):
        lines.append(f"  ... and {total - len(shown)} more (`msp context` lists them)")
    return lines


def _latest_decisions(tx: StoreReader, rows: list[SessionRow]) -> list[dict[str, Any]]:
    """The latest decisions of these sessions (newest first), at most :data:`SHOWN_DECISIONS`."""
    from msp._model.events import DECISION_RECORDED

    found: list[dict[str, Any]] = []
    for row in rows:
        for event in tx.session_events(row.id, [DECISION_RECORDED.name], SHOWN_DECISIONS - len(found), True):
            found.append({"id": event.data["id"], "session": row.id, "at": _time(event.at),
                          "text": event.data["text"], "rationale": event.data.get("rationale")})
        if len(found) >= SHOWN_DECISIONS:
            break
    return found


def _latest_updates(tx: StoreReader, session_id: str, limit: int) -> list[dict[str, Any]]:
    """The session's latest updates, oldest of them first."""
    from msp._model.events import PROGRESS_UPDATED

    events = tx.session_events(session_id, [PROGRESS_UPDATED.name], limit, True)
    return [{"at": _time(e.at), "text": e.data["text"], "progress": e.data.get("progress")} for e in reversed(events)]


def _summary(tx: StoreReader, session_id: str) -> str | None:
    from msp._model.events import SESSION_CLOSED

    closing = tx.session_events(session_id, [SESSION_CLOSED.name], 1, True)
    return closing[0].data.get("summary") if closing else None


def _session_line(row: SessionRow, now: datetime) -> str:
    if row.status == "active":
        when = f"active, last activity {row.last_at:%Y-%m-%d %H:%M} UTC"
    else:
        ended = row.ended_at or row.last_at
        when = f"closed {ended:%Y-%m-%d %H:%M} UTC after {format_duration(seconds_between(row.started_at, ended))}"
    return f"{row.id} ({when}): progress {row.start_progress}% -> {row.progress}%"


# --- msp start -------------------------------------------------------------------------------


def last_stop(ctx: Context, project: str, *, before: str | None = None,
              now: datetime | None = None) -> tuple[dict[str, Any], list[str]]:
    """Where ``project``'s latest session (other than ``before``, the one just started)
    stopped: its summary, progress and last update, the project's open blockers and latest
    decisions. The dict is ``{"session": None, ...}`` for a project's first session."""
    from datetime import UTC

    now = now or datetime.now(UTC)
    with ctx.store.read() as tx:
        rows = [r for r in tx.list_sessions(project, None, DECISION_SESSIONS + 1) if r.id != before]
        rows = rows[:DECISION_SESSIONS]
        blockers, open_count = _open_blockers(tx, project)
        if not rows:
            return ({"project": project, "session": None, "open_blockers": blockers, "open_blocker_count": open_count,
                     "decisions": []},
                    [f"First session of project {project}.", *_blocker_lines(blockers, open_count)])
        last = rows[0]
        summary = _summary(tx, last.id)
        updates = _latest_updates(tx, last.id, 1)
        decisions = _latest_decisions(tx, rows)
    session = {**last.to_dict(), "summary": summary, "last_update": updates[-1] if updates else None}
    lines = [f"Last session of {project}: {_session_line(last, now)}"]
    if last.goal:
        lines.append(f"  Goal: {_one_line(last.goal)}")
    if summary:
        lines.append(f"  Summary: {_one_line(summary)}")
    if updates:
        lines.append(f"  Last update: {_one_line(updates[-1]['text'])}")
    lines += _blocker_lines(blockers, open_count)
    if decisions:
        lines.append("Latest decisions:")
        lines += [f"  {d['id']}  {_one_line(d['text'])}" for d in decisions]
    data = {"project": project, "session": session, "open_blockers": blockers, "open_blocker_count": open_count,
            "decisions": decisions}
    return data, lines


# --- msp status ------------------------------------------------------------------------------


def status(ctx: Context, now: datetime) -> tuple[dict[str, Any], list[str]]:
    """The active session (elapsed time, counts, latest updates), else the project's last one;
    the project's open blockers either way. Queue counts are the caller's."""
    last: SessionRow | None = None
    summary: str | None = None
    from msp._session.manager import pick_active

    with ctx.store.read() as tx:
        # The caller's own, as `msp update` would record into it (msp._session.manager).
        row = pick_active(tx.active_sessions(user=ctx.engineer.user), ctx.project.name)
        if row is not None:
            project = row.project
            # The whole session, as `msp status --json` has always given it.
            session = tx.load_session(row.id)
        else:
            newest = tx.list_sessions(None, None, 1)
            project = newest[0].project if newest else ctx.project.name
            last = tx.last_session(project)
        blockers, open_count = _open_blockers(tx, project)
        if row is None and last is not None:
            summary = _summary(tx, last.id)
    data: dict[str, Any] = {"project": project, "open_blockers": blockers, "open_blocker_count": open_count}
    if row is None:
        lines = ["No active session. Start one with `msp start`."]
        data["last_session"] = None
        if last is not None:
            data["last_session"] = {**last.to_dict(), "summary": summary}
            lines.append(f"Last session of {project}: {_session_line(last, now)}")
            if summary:
                lines.append(f"  Summary: {_one_line(summary)}")
        return data, [*lines, *_blocker_lines(blockers, open_count)]
    elapsed = session.duration_seconds(now)
    updates: list[dict[str, Any]] = [{"at": _time(u.at), "text": u.text, "progress": u.progress}
                                     for u in session.updates[-SHOWN_UPDATES:]]
    resolved = sum(1 for b in session.blockers if not b.is_open) + len(session.resolved_elsewhere)
    data.update({"session": session.model_dump(mode="json"), "duration_seconds": elapsed, "last_updates": updates})
    lines = [f"Session {session.id} ({session.project}), active for {format_duration(elapsed)}"]
    if session.user is not None and ctx.shows_engineers([(session.user, session.host)]):
        lines.append(f"Engineer: {session.user}@{session.host}")
    if session.goal:
        lines.append(f"Goal: {session.goal}")
    lines += [
        f"Progress {session.start_progress}% -> {session.progress}%",
        ", ".join([counted(session.update_count, "update"), counted(len(session.decisions), "decision"),
                   counted(len(session.entities), "entity", "entities"),
                   counted(len(session.open_blockers), "open blocker"), f"{resolved} resolved"]),
    ]
    if updates:
        lines.append("Latest updates:")
        for u in updates:
            pct = f" [{u['progress']}%]" if u["progress"] is not None else ""
            lines.append(f"  {u['at'][11:16]}  {_one_line(u['text'])}{pct}")
    return data, [*lines, *_blocker_lines(blockers, open_count)]


# --- msp end ---------------------------------------------------------------------------------


#: How the end summary words each outbox status (statuses not listed are shown by name).
_STATUS_WORDS = {"done": "delivered", "pending": "waiting", "in_flight": "being delivered",
                 "held": "held for approval", "dead": "failed", "dropped": "dropped", "superseded": "superseded"}
_STATUS_ORDER = ("done", "pending", "in_flight", "held", "dead", "dropped", "superseded")


@dataclass
class Closing:
    """What ``msp end`` reports about the session it closed."""

    data: dict[str, Any]
    lines: list[str]


def closing(ctx: Context, session_id: str, ended_at: datetime) -> Closing:
    """The closed session in short: time, progress, counts, and per integration how many of its
    actions were delivered, are waiting or are held, as the outbox stands now (a background
    drain may still be delivering)."""
    with ctx.store.read() as tx:
        session = tx.hook_session(session_id, 0)  # the counts and items, no updates read
        outbox = tx.outbox.counts_by_integration(session_id)
    seconds = seconds_between(session.started_at, ended_at)
    raised = len(session.blockers)
    resolved = sum(1 for b in session.blockers if not b.is_open) + len(session.resolved_elsewhere)
    counts = {"updates": session.update_count, "decisions": len(session.decisions),
              "entities": len(session.entities), "blockers_raised": raised, "blockers_resolved": resolved}
    lines = [
        f"Closed session {session.id} after {format_duration(seconds)}; progress {session.start_progress}% -> "
        f"{session.progress}% ({session.progress_delta:+d})",
        ", ".join([counted(counts["updates"], "update"), counted(counts["decisions"], "decision"),
                   counted(counts["entities"], "entity", "entities"),
                   f"{counted(raised, 'blocker')} raised", f"{resolved} resolved"]),
    ]
    for name in sorted(outbox):
        by_status = outbox[name]
        parts = [f"{by_status[s]} {_STATUS_WORDS.get(s, s)}" for s in _STATUS_ORDER if by_status.get(s)]
        parts += [f"{n} {s}" for s, n in sorted(by_status.items()) if s not in _STATUS_ORDER and n]
        lines.append(f"  {name}: {counted(sum(by_status.values()), 'action')}: {', '.join(parts)}")
    if session.open_blockers:
        lines.append(f"Still open: {counted(len(session.open_blockers), 'blocker')} of this session "
                     "(`msp resolve` works without a session too)")
    data = {"duration_seconds": seconds, "progress_delta": session.progress_delta, "counts": counts,
            "integrations": outbox}
    return Closing(data, lines)


# --- msp context -----------------------------------------------------------------------------


def context_project(ctx: Context, given: str | None) -> tuple[str, str]:
    """The project ``msp context`` shows and why: the one given, else the active session's,
    else the newest session's in the store, else the configured project."""
    if given:
        return given, "given"
    from msp._session.manager import pick_active

    with ctx.store.read() as tx:
        active = pick_active(tx.active_sessions(user=ctx.engineer.user), ctx.project.name)
        if active is not None:
            return active.project, "your active session's"
        newest = tx.list_sessions(None, None, 1)
    if newest:
        return newest[0].project, "the newest session's"
    return ctx.project.name, "the configured project"
