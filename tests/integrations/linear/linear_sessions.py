"""Sessions for the Linear tests: scripts for msp.testing, and views built directly for big cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msp import Blocker, Decision, Session, Update
from msp.testing import SCRIPT

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def script_without_issue() -> list[tuple[str, dict[str, Any]]]:
    """The standard script, started without --issue."""
    start = {k: v for k, v in SCRIPT[0][1].items() if k != "issue"}
    return [("start", start), *SCRIPT[1:]]


def script_with_updates(progresses: list[int | None]) -> list[tuple[str, dict[str, Any]]]:
    steps: list[tuple[str, dict[str, Any]]] = [("start", {"project": "demo-project", "goal": "Throttle", "progress": 0,
                                                          "issue": "ENG-7"})]
    steps += [("update", {"text": f"step {i}", "progress": p, "tags": []}) for i, p in enumerate(progresses)]
    steps.append(("end", {"summary": "done"}))
    return steps


def big_session(updates: int = 1000, decision_chars: int = 10_240, issue: str | None = "ENG-123") -> Session:
    """A closed session with many updates, a 10 KB decision and an open and a resolved blocker."""
    ups = [Update(id=f"u{i}", at=T0 + timedelta(seconds=30 * (i + 1)), text=f"Update number {i} <&> *done*",
                  progress=min(100, i // 10), tags=["bulk"]) for i in range(updates)]
    end = T0 + timedelta(seconds=30 * (updates + 2))
    return Session(
        id="20260105-090000-bigbig", project="demo-project", status="closed", goal="A very long session",
        issue=issue, started_at=T0, ended_at=end, last_event_at=end, start_progress=0, progress=100,
        summary="Finished the long haul",
        updates=ups,
        decisions=[Decision(id="d-1", at=T0 + timedelta(minutes=1), text="D" * decision_chars,
                            rationale="R" * decision_chars, alternatives=["A" * decision_chars], impact="high")],
        blockers=[
            Blocker(id="b-1", at=T0, text="Still waiting on the vendor", severity="high", category="external",
                    session_id="20260105-090000-bigbig"),
            Blocker(id="b-2", at=T0, text="Flaky CI", session_id="20260105-090000-bigbig",
                    resolved_at=T0 + timedelta(minutes=3), solution="Pinned the runner image"),
        ],
    )
