"""What ``msp report`` costs against the size of the store (issue 16, speed).

    .venv/bin/python benchmarks/report.py [--small 5000] [--large 500000] [--runs 5]

Two SQLite stores with the same team and the same shape of work, side by side in one run:

- **large**: a ten-person team's year, 500,000 events: ten engineers, two sessions each per
  working day, 250 working days; each session 100 events (its start, 90 progress updates, 3
  decisions, 3 entities, a blocker raised, the previous blocker resolved, the close), in five
  projects with issue keys.
- **small**: 5,000 events, the same team's last few working days (50 sessions).

Events are written straight through the store interface in one transaction per store (the CLI
would take hours for 500,000; the store's projections are kept by ``append`` exactly as for a
command). Then the real ``msp report`` command runs ``--runs`` times per case, round-robin over
the stores, and the script prints the median wall time per store and case and the ratio
large/small. Target: at most 2x. What is measured, each as a full ``msp`` process:

- ``default``: ``msp report`` with no option: the last 7 calendar days, by day, as the table;
- ``year by project``: ``msp report --from FIRST --to LAST --by project``: everything the store
  holds (a year on the large store, its few days on the small one), grouped by project;
- ``year html``: the same window by day as the HTML page with its three charts.

Why it holds: the report never folds events. It reads one row per session (its span, progress
and list counts from the session projection, ``session_tallies``) and one row per blocker
(``blocker_spans``), plus the progress updates of the 12 sessions the HTML chart draws; so a
year costs 5,000 session rows and about as many blockers, not 500,000 events, and the time is
dominated by the process start both stores share.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from msp._config import init_project
from msp._model.ids import new_event_id
from msp._model.models import Event, EventType
from msp._store.sqlite import SqliteStore

TARGET = 2.0
CONFIG = '[store]\nsynchronous = "normal"\n[dispatch]\nmode = "manual"\n'
ENGINEERS = 10
SESSIONS_PER_DAY = 2  # per engineer
EVENTS_PER_SESSION = 100
PROJECTS = ("payments", "search", "mobile", "platform", "billing")


def _workdays(count: int, last: date) -> list[date]:
    """The ``count`` working days (Monday to Friday) up to ``last``, oldest first."""
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def build(root: Path, events: int) -> tuple[date, date]:
    """A project whose store holds ``events`` events of the team's work, ending yesterday;
    returns its first and last day."""
    root.mkdir(parents=True)
    init_project(root)
    (root / ".msp" / "config.toml").write_text(CONFIG, encoding="utf-8")
    sessions = events // EVENTS_PER_SESSION
    per_day = ENGINEERS * SESSIONS_PER_DAY
    days = _workdays(-(-sessions // per_day), datetime.now(UTC).date() - timedelta(days=1))
    store = SqliteStore(root / ".msp" / "msp.db", synchronous="off")
    open_blocker: dict[int, str] = {}
    try:
        with store.write() as tx:
            for k in range(sessions):
                day, slot = days[k // per_day], k % per_day
                engineer = slot % ENGINEERS
                previous = open_blocker.pop(engineer, None)
                open_blocker[engineer] = f"b-{k}"
                for event in _session(k, day, slot, previous):
                    tx.append(event)
        with store.read() as tx:
            assert tx.count_events() == sessions * EVENTS_PER_SESSION, tx.count_events()
    finally:
        store.close()
    return days[0], days[-1]


def _session(k: int, day: date, slot: int, previous_blocker: str | None) -> list[Event]:
    """Session ``k``'s 100 events: ``slot`` says whose and which half of the day; the engineer's
    blocker of their previous session is resolved in it."""
    engineer, half = slot % ENGINEERS, slot // ENGINEERS
    project = PROJECTS[engineer % len(PROJECTS)]
    start = datetime(day.year, day.month, day.day, 8 + 5 * half, engineer * 3, tzinfo=UTC)
    sid = f"s-{k:07d}"
    out: list[Event] = []

    def add(kind: EventType, data: dict[str, object], minutes: float) -> None:
        at = start + timedelta(minutes=minutes)
        out.append(Event(id=f"{new_event_id(int(at.timestamp() * 1000))}{k:07d}{len(out):03d}", type=kind,
                         session_id=sid, project=project, at=at, source="api", data=data))

    add("session_started", {"goal": f"work item {k}", "issue": f"ENG-{k // 7}", "progress": 0,
                            "user": f"engineer{engineer}", "host": "bench"}, 0)
    if previous_blocker is not None:
        add("blocker_resolved", {"blocker_id": previous_blocker, "solution": "done"}, 1)
    for i in range(90):
        add("progress_updated", {"text": f"step {i} of the work on item {k}", "progress": i + 1, "tags": []},
            2 + i * 2)
        if i % 30 == 0:
            add("decision_recorded", {"id": f"d-{k}-{i}", "text": f"chose option {i}", "alternatives": [],
                                      "category": None, "impact": None, "rationale": None}, 3 + i * 2)
            add("entity_recorded", {"id": f"e-{k}-{i}", "name": f"module_{i}", "type": "module", "path": None,
                                    "description": None}, 3 + i * 2)
    add("blocker_raised", {"id": f"b-{k}", "text": "waiting on review", "category": None, "severity": None}, 185)
    if previous_blocker is None:
        add("progress_updated", {"text": "one more", "progress": 91, "tags": []}, 186)
    add("session_closed", {"progress": 91, "reason": "ended", "summary": "done"}, 190)
    return out


def one_report(root: Path, msp: str, args: list[str]) -> float:
    """Runs ``msp report ARGS`` once: its wall time in seconds."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    begin = time.perf_counter()
    done = subprocess.run([msp, "report", "--tz", "UTC", *args], cwd=root, env=env, capture_output=True,
                          check=False)
    elapsed = time.perf_counter() - begin
    if done.returncode != 0:
        raise SystemExit(f"msp report {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    msp = str(Path(sys.executable).with_name("msp"))
    with tempfile.TemporaryDirectory(prefix="msp-report-bench-") as tmp:
        roots: dict[str, Path] = {}
        spans: dict[str, tuple[date, date]] = {}
        for name, n in (("small", args.small), ("large", args.large)):
            roots[name] = Path(tmp) / name
            began = time.perf_counter()
            spans[name] = build(roots[name], n)
            print(f"built the {name} store: {n:,} events, {spans[name][0]} .. {spans[name][1]} "
                  f"in {time.perf_counter() - began:.1f} s", flush=True)
        cases: dict[str, dict[str, list[str]]] = {
            "default": {name: [] for name in roots},
            "year by project": {name: ["--from", str(spans[name][0]), "--to", str(spans[name][1]), "--by", "project"]
                                for name in roots},
            "year html": {name: ["--from", str(spans[name][0]), "--to", str(spans[name][1]), "--format", "html",
                                 "--output", str(Path(tmp) / f"{name}.html")] for name in roots},
        }
        for per_store in cases.values():  # warm the file cache and the byte-code
            for name in roots:
                one_report(roots[name], msp, per_store[name])
        times: dict[str, dict[str, list[float]]] = {c: {name: [] for name in roots} for c in cases}
        # Round-robin, so a busy spell on a shared machine hits every store and case alike.
        for _ in range(args.runs):
            for case, per_store in cases.items():
                for name in roots:
                    times[case][name].append(one_report(roots[name], msp, per_store[name]))
    worst = 0.0
    for case in cases:
        small, large = (statistics.median(times[case][name]) for name in ("small", "large"))
        ratio = large / small
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET else f"over the target {TARGET:g}"
        print(f"{case:<16} {args.small:>9,} events {small * 1000:7.1f} ms   {args.large:>9,} events "
              f"{large * 1000:7.1f} ms   ratio {ratio:.2f}x ({verdict}; median of {args.runs})")
    print(f"worst ratio {worst:.2f}x (target <= {TARGET:g})")


if __name__ == "__main__":
    main()
