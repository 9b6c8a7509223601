"""A report folded from session and blocker rows: pure, no store and no clock (``now`` is given).

What is counted where:

- **time worked** is the span of each session, from its start to its close; a session still
  active counts until ``now``, but never past its last event plus ``idle`` (the session timeout:
  a session left open overnight is not a night's work). The span is clipped to the window and,
  for days, split at local midnights of the report's zone.
- **sessions, progress moved, updates and decisions** come from each session's projection (its
  start and latest progress, its list counts), so they belong to the session as a whole: to its
  project, issue and engineer, and with ``--by day`` to the day it started (or the window's
  first day, for a session started before the window).
- **blockers raised and resolved** are counted at the moment each happened, from the blocker
  index: raised ones in the group of the session that raised them, resolved ones in the group
  of the session that resolved them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from msp._report.window import Window, split_by_day
from msp._store.interface import BlockerSpan, SessionRow, SessionTally

By = Literal["day", "project", "issue", "user"]
GROUPINGS: tuple[By, ...] = ("day", "project", "issue", "user")
NO_ISSUE = "(no issue)"
UNKNOWN_USER = "(unknown)"
#: How many sessions the progress chart draws: the latest in the window (more lines than this
#: are not legible on one chart).
SERIES_LIMIT = 12


@dataclass
class Group:
    """One row of the report."""

    key: str
    seconds: float = 0.0
    sessions: int = 0
    progress: int = 0
    updates: int = 0
    decisions: int = 0
    blockers_raised: int = 0
    blockers_resolved: int = 0

    def add(self, other: Group) -> None:
        self.seconds += other.seconds
        self.sessions += other.sessions
        self.progress += other.progress
        self.updates += other.updates
        self.decisions += other.decisions
        self.blockers_raised += other.blockers_raised
        self.blockers_resolved += other.blockers_resolved

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds)
        return data


@dataclass(frozen=True)
class ProgressSeries:
    """One session's progress over time: its start, each update that set progress, its end."""

    session_id: str
    project: str
    goal: str | None
    points: list[tuple[datetime, int]]


@dataclass
class Report:
    window: Window
    by: By
    groups: list[Group]
    total: Group
    #: Every project the report holds, sorted (the order colours are handed out in).
    projects: list[str]
    #: Seconds worked per local day and project: the stacked chart's bars.
    day_seconds: dict[date, dict[str, float]]
    #: The progress chart's lines, oldest session first.
    progress: list[ProgressSeries] = field(default_factory=list)
    #: How many blockers were open from each moment on, starting at the window's start.
    blockers_open: list[tuple[datetime, int]] = field(default_factory=list)


def group_key(row: SessionRow, by: By) -> str:
    """The group of a session for ``project``, ``issue`` or ``user``."""
    if by == "project":
        return row.project
    if by == "issue":
        return row.issue or NO_ISSUE
    # A session recorded before sessions had an engineer has none.
    return row.user or UNKNOWN_USER


def session_end(row: SessionRow, now: datetime, idle: timedelta) -> datetime:
    """Where a session's worked time ends (see the module docstring)."""
    end = row.ended_at if row.ended_at is not None else min(now, row.last_at + idle)
    return max(end, row.started_at)


def build(
    tallies: Sequence[SessionTally],
    blockers: Iterable[BlockerSpan],
    window: Window,
    by: By,
    now: datetime,
    idle: timedelta,
    points: Mapping[str, Sequence[tuple[datetime, int]]] | None = None,
    series_limit: int = SERIES_LIMIT,
) -> Report:
    """The report of ``tallies`` and ``blockers`` over ``window``, grouped ``by``.

    ``points`` holds the progress updates (time, percent) of the sessions the progress chart
    draws (:func:`series_sessions`); sessions without an entry are drawn from start to end.
    """
    since, until, zone = window.since, window.until, window.zone
    groups: dict[str, Group] = {}
    if by == "day":
        for day in window.days():
            groups[day.isoformat()] = Group(day.isoformat())

    def group(key: str) -> Group:
        found = groups.get(key)
        if found is None:
            found = groups[key] = Group(key)
        return found

    day_seconds: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows: dict[str, SessionRow] = {}
    projects: set[str] = set()
    for tally in tallies:
        row = tally.row
        rows[row.id] = row
        projects.add(row.project)
        start, end = max(row.started_at, since), min(session_end(row, now, idle), until)
        pieces = split_by_day(start, end, zone) if end > start else []
        for day, seconds in pieces:
            day_seconds[day][row.project] += seconds
        home = group(zone.day_of(start).isoformat() if by == "day" else group_key(row, by))
        if by == "day":
            for day, seconds in pieces:
                group(day.isoformat()).seconds += seconds
        else:
            home.seconds += sum(seconds for _, seconds in pieces)
        home.sessions += 1
        home.progress += row.progress - row.start_progress
        home.updates += tally.counts.get("updates", 0)
        home.decisions += tally.counts.get("decisions", 0)

    def blocker_group(session_id: str | None, project: str, at: datetime) -> Group:
        if by == "day":
            return group(zone.day_of(at).isoformat())
        row = rows.get(session_id or "")
        if row is not None:
            return group(group_key(row, by))
        return group(project if by == "project" else NO_ISSUE if by == "issue" else UNKNOWN_USER)

    open_at_start = 0
    steps: list[tuple[datetime, int]] = []
    for b in blockers:
        if b.raised_at < since and (b.resolved_at is None or b.resolved_at >= since):
            open_at_start += 1
        if since <= b.raised_at < until:
            blocker_group(b.session_id, b.project, b.raised_at).blockers_raised += 1
            steps.append((b.raised_at, 1))
            projects.add(b.project)
        if b.resolved_at is not None and since <= b.resolved_at < until:
            blocker_group(b.resolved_in, b.project, b.resolved_at).blockers_resolved += 1
            steps.append((b.resolved_at, -1))
    open_now = open_at_start
    blockers_open = [(since, open_now)]
    for at, change in sorted(steps, key=lambda s: (s[0], -s[1])):
        open_now += change
        blockers_open.append((at, open_now))

    ordered = list(groups.values())
    ordered.sort(key=(lambda g: g.key) if by == "day" else (lambda g: (-g.seconds, g.key)))
    total = Group("total")
    for g in ordered:
        total.add(g)
    return Report(
        window=window, by=by, groups=ordered, total=total, projects=sorted(projects),
        day_seconds={d: dict(p) for d, p in sorted(day_seconds.items())},
        progress=_series(tallies, window, now, idle, points or {}, series_limit),
        blockers_open=blockers_open,
    )


def series_sessions(tallies: Sequence[SessionTally], limit: int = SERIES_LIMIT) -> list[str]:
    """The sessions the progress chart draws: the latest ``limit`` started, by id."""
    latest = sorted(tallies, key=lambda t: (t.row.started_at, t.row.id))[-limit:] if limit > 0 else []
    return [t.row.id for t in latest]


def _series(tallies: Sequence[SessionTally], window: Window, now: datetime, idle: timedelta,
            points: Mapping[str, Sequence[tuple[datetime, int]]], limit: int) -> list[ProgressSeries]:
    chosen = set(series_sessions(tallies, limit))
    out = []
    for tally in tallies:
        row = tally.row
        if row.id not in chosen:
            continue
        end = session_end(row, now, idle)
        line = [(row.started_at, row.start_progress)]
        line += sorted((at, p) for at, p in points.get(row.id, ()) if row.started_at <= at <= end)
        line.append((end, row.progress))
        out.append(ProgressSeries(row.id, row.project, row.goal, line))
    return out
