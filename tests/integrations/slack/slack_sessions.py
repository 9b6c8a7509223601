"""Session views built directly, for the big and awkward cases the Slack tests need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from msp import Blocker, Decision, Entity, Session, Update

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SID = "20260105-090000-slack1"


def make_session(*, updates: int = 3, update_chars: int = 30, decisions: int = 1, decision_chars: int = 40,
                 open_blockers: int = 1, resolved_blockers: int = 1, blocker_chars: int = 30,
                 goal: str | None = "Ship the retry worker", summary: str | None = "Retry worker behind a flag",
                 project: str = "demo-project", issue: str | None = "ENG-123", text: str | None = None) -> Session:
    """A closed session of the given shape; ``text`` (if given) is used for every item's text."""
    def body(kind: str, i: int, size: int) -> str:
        if text is not None:
            return text
        stem = f"{kind} {i} "
        return (stem * (size // len(stem) + 1))[:size]

    ups = [Update(id=f"u{i}", at=T0 + timedelta(seconds=20 * (i + 1)), text=body("update", i, update_chars),
                  progress=min(100, i % 101), tags=["t"] if i % 2 else []) for i in range(updates)]
    decs = [Decision(id=f"d-{i}", at=T0 + timedelta(minutes=1), text=body("decision", i, decision_chars),
                     rationale=body("because", i, decision_chars), alternatives=[body("other", i, decision_chars)],
                     impact="high") for i in range(decisions)]
    blockers = [Blocker(id=f"b-o{i}", at=T0, text=body("open", i, blocker_chars), severity="high",
                        category="external", session_id=SID) for i in range(open_blockers)]
    blockers += [Blocker(id=f"b-r{i}", at=T0, text=body("fixed", i, blocker_chars), session_id=SID,
                         resolved_at=T0 + timedelta(minutes=2), solution=body("solution", i, blocker_chars))
                 for i in range(resolved_blockers)]
    end = T0 + timedelta(hours=1, minutes=5)
    return Session(id=SID, project=project, status="closed", goal=goal, issue=issue, started_at=T0, ended_at=end,
                   last_event_at=end, start_progress=10, progress=70, summary=summary, updates=ups, decisions=decs,
                   entities=[Entity(id="e-1", at=T0, name="RetryWorker")], blockers=blockers)
