"""The hashtables a PowerShell integration receives, shaped like the seed's session object.

Everything here is plain JSON data (strings, numbers, booleans, lists, dicts): it is stored in
the ``powershell`` action as its named arguments and only becomes PowerShell hashtables at
dispatch, as parameter values. Times are ISO-8601 UTC strings (``2026-01-05T09:00:00.000000Z``).
"""

from __future__ import annotations

from typing import Any

from msp._model.models import format_time


def _time(value: Any) -> str | None:
    return format_time(value) if value is not None else None


def _clock(value: Any) -> str | None:
    """``HH:MM`` (UTC): the short ``time`` msp-model's scripts print beside an update."""
    return value.strftime("%H:%M") if value is not None else None


def update_table(update: Any) -> dict[str, Any]:
    # Both names: the seed's scripts read `timestamp`, msp-model's read `time`.
    return {
        "id": update.id,
        "description": update.text,
        "progress": update.progress,
        "timestamp": _time(update.at),
        "time": _clock(update.at),
        "tags": list(update.tags),
    }


def decision_table(decision: Any) -> dict[str, Any]:
    return {
        "id": decision.id,
        "content": decision.text,
        "rationale": decision.rationale,
        "alternatives": list(decision.alternatives),
        "impact": decision.impact,
        "category": decision.category,
        "timestamp": _time(decision.at),
    }


def entity_table(entity: Any) -> dict[str, Any]:
    return {
        "id": entity.id,
        "name": entity.name,
        "type": entity.type,
        "path": entity.path,
        "description": entity.description,
        "timestamp": _time(entity.at),
    }


def blocker_table(blocker: Any) -> dict[str, Any]:
    return {
        "id": blocker.id,
        "description": blocker.text,
        "category": blocker.category,
        "severity": blocker.severity,
        "resolved": blocker.resolved_at is not None,
        "solution": blocker.solution,
        "timestamp": _time(blocker.at),
        "resolvedAt": _time(blocker.resolved_at),
    }


def session_table(session: Any, user: str | None) -> dict[str, Any]:
    """The seed's session object: id, project, user, startTime, startProgress, endProgress,
    duration (hours), updates, decisions... plus msp's own fields (goal, issue, status...)."""
    end = session.ended_at or session.last_event_at
    hours = max(0.0, (end - session.started_at).total_seconds() / 3600)
    return {
        "id": session.id,
        "project": session.project,
        "user": user,
        "goal": session.goal,
        "issue": session.issue,
        "status": session.status,
        "startTime": _time(session.started_at),
        "endTime": _time(session.ended_at),
        "startProgress": session.start_progress,
        "endProgress": session.progress,
        "progress": session.progress,
        "duration": round(hours, 2),
        "summary": session.summary,
        "updates": [update_table(u) for u in session.updates],
        "decisions": [decision_table(d) for d in session.decisions],
        "entities": [entity_table(e) for e in session.entities],
        "blockers": [blocker_table(b) for b in session.blockers],
    }
