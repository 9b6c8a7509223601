"""The report folded from rows: time split by day, counts per group, blockers at their moments.
Pure: rows are built here, the clock is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from msp._report.aggregate import NO_ISSUE, UNKNOWN_USER, build
from msp._report.window import Window, zone
from msp._store.interface import BlockerSpan, SessionRow, SessionTally

UTC_ZONE = zone("UTC")
D0 = datetime(2024, 5, 6, tzinfo=UTC)
WINDOW = Window(D0, D0 + timedelta(days=3), UTC_ZONE)
NOW = D0 + timedelta(days=3)
IDLE = timedelta(hours=12)


def row(sid: str, project: str, start: float, end: float | None, *, last: float | None = None,
        progress: tuple[int, int] = (0, 0), issue: str | None = None) -> SessionRow:
    """A session from hour ``start`` to hour ``end`` after D0 (None: still active)."""
    started = D0 + timedelta(hours=start)
    ended = D0 + timedelta(hours=end) if end is not None else None
    last_at = D0 + timedelta(hours=last if last is not None else (end if end is not None else start))
    return SessionRow(sid, project, "closed" if ended else "active", started, ended, progress[0], progress[1],
                      last_at, None, issue, 3)


@dataclass(frozen=True)
class TeamRow(SessionRow):
    """A session row as team mode records it: with its engineer."""

    user: str | None = None


def tally(r: SessionRow, decisions: int = 0, updates: int = 0) -> SessionTally:
    return SessionTally(r, {"updates": updates, "decisions": decisions, "entities": 0, "blockers": 0})


def test_time_is_split_across_midnight_into_each_day() -> None:
    late = tally(row("s1", "alpha", 22, 26, progress=(10, 40)), decisions=2, updates=5)
    report = build([late], [], WINDOW, "day", NOW, IDLE)
    by_day = {g.key: g for g in report.groups}
    assert [g.key for g in report.groups] == ["2024-05-06", "2024-05-07", "2024-05-08"]
    assert by_day["2024-05-06"].seconds == 2 * 3600 and by_day["2024-05-07"].seconds == 2 * 3600
    # The session's own counts belong to the day it started.
    assert (by_day["2024-05-06"].sessions, by_day["2024-05-06"].progress, by_day["2024-05-06"].decisions) == (1, 30, 2)
    assert by_day["2024-05-07"].sessions == 0
    assert report.total.seconds == 4 * 3600 and report.total.updates == 5
    assert report.day_seconds == {date(2024, 5, 6): {"alpha": 7200.0}, date(2024, 5, 7): {"alpha": 7200.0}}


def test_time_outside_the_window_is_not_counted() -> None:
    early = tally(row("s1", "alpha", -3, 2))
    report = build([early], [], WINDOW, "project", NOW, IDLE)
    assert report.groups[0].seconds == 2 * 3600 and report.groups[0].sessions == 1


def test_an_active_session_counts_until_now_but_not_past_its_idle_limit() -> None:
    now = D0 + timedelta(hours=5)
    running = tally(row("s1", "alpha", 1, None, last=4))
    assert build([running], [], WINDOW, "project", now, IDLE).total.seconds == 4 * 3600
    forgotten = tally(row("s2", "alpha", 1, None, last=2))
    much_later = D0 + timedelta(days=2)
    assert build([forgotten], [], WINDOW, "project", much_later, IDLE).total.seconds == 13 * 3600


def test_groups_by_project_issue_and_user() -> None:
    rows = [tally(row("s1", "alpha", 1, 3, issue="ENG-1")), tally(row("s2", "beta", 4, 5)),
            tally(TeamRow("s3", "alpha", "closed", D0 + timedelta(hours=6), D0 + timedelta(hours=10), 0, 5,
                          D0 + timedelta(hours=10), None, "ENG-1", 3, user="ada"))]
    by_project = build(rows, [], WINDOW, "project", NOW, IDLE)
    assert [(g.key, g.seconds / 3600, g.sessions) for g in by_project.groups] == [("alpha", 6, 2), ("beta", 1, 1)]
    by_issue = build(rows, [], WINDOW, "issue", NOW, IDLE)
    assert [(g.key, g.seconds / 3600) for g in by_issue.groups] == [("ENG-1", 6), (NO_ISSUE, 1)]
    by_user = build(rows, [], WINDOW, "user", NOW, IDLE)
    assert [(g.key, g.seconds / 3600) for g in by_user.groups] == [("ada", 4), (UNKNOWN_USER, 3)]
    assert by_project.total.seconds == by_issue.total.seconds == by_user.total.seconds == 7 * 3600


def test_blockers_count_where_and_when_they_happened() -> None:
    rows = [tally(row("s1", "alpha", 1, 3)), tally(row("s2", "beta", 30, 33))]
    spans = [
        BlockerSpan("b0", "alpha", "s0", D0 - timedelta(days=1), None, None),  # open since before
        BlockerSpan("b1", "alpha", "s1", D0 + timedelta(hours=2), D0 + timedelta(hours=31), "s2"),
        BlockerSpan("b2", "beta", "s2", D0 + timedelta(hours=32), None, None),
    ]
    by_day = {g.key: g for g in build(rows, spans, WINDOW, "day", NOW, IDLE).groups}
    assert (by_day["2024-05-06"].blockers_raised, by_day["2024-05-06"].blockers_resolved) == (1, 0)
    assert (by_day["2024-05-07"].blockers_raised, by_day["2024-05-07"].blockers_resolved) == (1, 1)
    by_project = {g.key: g for g in build(rows, spans, WINDOW, "project", NOW, IDLE).groups}
    # Resolved in a beta session: counted for beta, whose session did the work.
    assert (by_project["alpha"].blockers_raised, by_project["alpha"].blockers_resolved) == (1, 0)
    assert (by_project["beta"].blockers_raised, by_project["beta"].blockers_resolved) == (1, 1)
    steps = build(rows, spans, WINDOW, "day", NOW, IDLE).blockers_open
    assert [n for _, n in steps] == [1, 2, 1, 2]
    assert steps[0][0] == WINDOW.since


def test_progress_series_hold_the_latest_sessions_with_their_updates() -> None:
    rows = [tally(row(f"s{i}", "alpha", i, i + 0.5, progress=(i, i + 1))) for i in range(5)]
    points = {"s4": [(D0 + timedelta(hours=4.25), 50)], "s1": [(D0 - timedelta(days=9), 99)]}
    report = build(rows, [], WINDOW, "day", NOW, IDLE, points, series_limit=2)
    assert [s.session_id for s in report.progress] == ["s3", "s4"]
    assert [p for _, p in report.progress[1].points] == [4, 50, 5]
    assert report.progress[0].points[0] == (D0 + timedelta(hours=3), 3)
