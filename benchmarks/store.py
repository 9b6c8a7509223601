"""The store's overhead, and the recall view's cost against the length of the history.

    .venv/bin/python benchmarks/store.py [--updates N] [--sync full|normal|both] [--skip-context]

1. N (10,000) updates through the session API (``SessionManager.update``, one process, no
   plugins) against raw ``sqlite3`` inserts of the same rows into a table of the same shape and
   indexes, with the same durability (WAL, the same ``synchronous``, one transaction per row).
   Prints raw_time / api_time. Target >= 0.5 (the API at most 2x slower than bare inserts).
   Run for msp's default durability (``full``: an fsync per commit) and for ``normal`` (no
   fsync, so the comparison is all CPU: the harder case for the API).
2. ``build_context`` (what ``msp context`` runs) on a project with 100,000 stored events
   against the same recent work with only 1,000 events of history, in two shapes: a long
   history of older sessions, and one session with a huge number of updates. Also times the
   real ``msp context`` command on both. Prints time(100k) / time(1k). Target <= 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from msp._model.ids import new_event_id, new_session_id
from msp._model.models import Event
from msp._session.context import build_context
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore

NOW = datetime.now(UTC)


def bench_api(folder: Path, n: int, sync: str) -> float:
    store = SqliteStore(folder / "api.db", synchronous=sync)
    manager = SessionManager(store, None, default_project="bench")
    manager.start({"goal": "benchmark"})
    start = time.perf_counter()
    for i in range(n):
        manager.update({"text": f"update number {i} with some words in it", "progress": i % 101, "tags": ["b"]})
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def bench_raw(folder: Path, n: int, sync: str) -> float:
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync.upper()}")
    db.executescript(
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
            session_id TEXT NOT NULL, project TEXT NOT NULL, at TEXT NOT NULL, at_ms INTEGER NOT NULL,
            source TEXT NOT NULL, data TEXT NOT NULL
        );
        CREATE INDEX events_by_session ON events(session_id, type, seq);
        CREATE INDEX events_by_time ON events(at_ms);
        """
    )
    session_id = new_session_id(NOW)
    start = time.perf_counter()
    for i in range(n):
        at = datetime.now(UTC)
        data = json.dumps({"text": f"update number {i} with some words in it", "progress": i % 101, "tags": ["b"]})
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO events (id, type, session_id, project, at, at_ms, source, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new_event_id(), "progress_updated", session_id, "bench", at.isoformat(), int(at.timestamp() * 1000),
             "api", data),
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


# --- context ---------------------------------------------------------------------------------


def _session_events(at: datetime, updates: int, decisions: int, closed: bool) -> list[Event]:
    sid = new_session_id(at)

    def ev(type_: str, offset_s: float, data: dict[str, object]) -> Event:
        when = at + timedelta(seconds=offset_s)
        return Event(new_event_id(int(when.timestamp() * 1000)), type_, sid, "bench", when, "api", data)  # type: ignore[arg-type]

    events = [ev("session_started", 0, {"goal": "work", "issue": None, "progress": 0, "user": "u", "host": "h"})]
    for d in range(decisions):
        events.append(ev("decision_recorded", 1 + d, {"id": f"d-{sid[-8:]}{d}", "text": f"decision {d}",
                                                      "rationale": "because", "alternatives": ["other"],
                                                      "impact": "low", "category": None}))
    step = 3000 / max(updates, 1)
    for u in range(updates):
        events.append(ev("progress_updated", 10 + u * step, {"text": f"update {u} of a long day", "progress": u % 101,
                                                             "tags": []}))
    if closed:
        events.append(ev("session_closed", 3600, {"summary": "done", "progress": None, "reason": "ended"}))
    return events


def _fill(path: Path, sessions: list[list[Event]]) -> int:
    store = SqliteStore(path, synchronous="off")  # filling a fixture: no fsync needed
    count = 0
    for events in sessions:
        with store.write() as tx:
            for event in events:
                tx.append(event)
                count += 1
    store.close()
    return count


def _recent() -> list[list[Event]]:
    """The last week: 9 closed sessions and the active one, ~1,000 events in all."""
    out = [_session_events(NOW - timedelta(hours=16 * (10 - k)), 95, 3, closed=True) for k in range(9)]
    out.append(_session_events(NOW - timedelta(hours=1), 95, 3, closed=False))
    return out


def _median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _in_process(path: Path, runs: int = 30) -> float:
    store = SqliteStore(path, synchronous="normal")
    build_context(store, "bench", 7, NOW)  # warm the page cache once
    t = _median_time(lambda: build_context(store, "bench", 7, NOW), runs)
    store.close()
    return t


def _cli_pair(small: Path, large: Path, runs: int = 9) -> tuple[float, float]:
    """Median wall time of the real ``msp context`` on each store, runs alternating."""
    msp = str(Path(sys.executable).with_name("msp"))

    def runner(path: Path) -> Callable[[], object]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
        env["MSP_DIR"] = str(path.parent)
        env["MSP_USER_CONFIG"] = str(path.parent / "user.toml")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        (path.parent / "config.toml").write_text('[project]\nname = "bench"\n[dispatch]\nmode = "manual"\n')
        return lambda: subprocess.run([msp, "context", "--format", "markdown"], env=env, check=True,
                                      capture_output=True)

    run_small, run_large = runner(small), runner(large)
    run_small()
    run_large()
    small_t, large_t = [], []
    for _ in range(runs):
        small_t.append(_median_time(run_small, 1))
        large_t.append(_median_time(run_large, 1))
    return statistics.median(small_t), statistics.median(large_t)


def bench_context(folder: Path) -> None:
    shapes: dict[str, dict[str, Path]] = {}
    recent = _recent()
    small_dir, long_dir, huge_dir = (folder / name / ".msp" for name in ("small", "long", "huge"))
    for d in (small_dir, long_dir, huge_dir):
        d.mkdir(parents=True)
    n_small = _fill(small_dir / "msp.db", recent)

    # A long history: the same last week, after ~1,000 older sessions of ~100 events each.
    old = [_session_events(NOW - timedelta(days=8 + k), 95, 2, closed=True) for k in range(1000)]
    n_long = _fill(long_dir / "msp.db", old[::-1] + recent)

    # One huge session: the same last week, but the active session holds ~99,000 updates.
    huge = [*recent[:-1], _session_events(NOW - timedelta(hours=1), 99_000, 3, closed=False)]
    n_huge = _fill(huge_dir / "msp.db", huge)
    shapes["long history"] = {"small": small_dir / "msp.db", "large": long_dir / "msp.db"}
    shapes["one huge session"] = {"small": small_dir / "msp.db", "large": huge_dir / "msp.db"}
    print(f"events stored: small {n_small:,}, long history {n_long:,}, one huge session {n_huge:,}")

    small_in = _in_process(small_dir / "msp.db")
    worst = 0.0
    for shape, paths in shapes.items():
        large_in = _in_process(paths["large"])
        small_cli, large_cli = _cli_pair(paths["small"], paths["large"])
        ratio_in, ratio_cli = large_in / small_in, large_cli / small_cli
        worst = max(worst, ratio_in, ratio_cli)
        print(f"context, {shape}: build_context {small_in * 1000:.2f} ms -> {large_in * 1000:.2f} ms, "
              f"ratio {ratio_in:.2f}; `msp context` {small_cli * 1000:.0f} ms -> {large_cli * 1000:.0f} ms, "
              f"ratio {ratio_cli:.2f}")
    print(f"context ratio time(100k)/time(1k), worst: {worst:.2f} (target <= 2) "
          + ("PASS" if worst <= 2 else "OVER TARGET"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--sync", choices=["full", "normal", "both"], default="both",
                        help="SQLite synchronous setting for both sides (default: both, in turn)")
    parser.add_argument("--skip-context", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msp-bench-") as tmp:
        folder = Path(tmp)
        for sync in (["full", "normal"] if args.sync == "both" else [args.sync]):
            # Alternate the two so machine noise hits both alike; keep the best of each.
            api_times, raw_times = [], []
            for round_ in range(2):
                sub = folder / f"{sync}{round_}"
                sub.mkdir()
                raw_times.append(bench_raw(sub, args.updates, sync))
                api_times.append(bench_api(sub, args.updates, sync))
            api, raw = min(api_times), min(raw_times)
            ratio = raw / api
            print(f"{args.updates:,} updates, WAL, synchronous={sync}, one transaction each")
            print(f"  raw sqlite3 inserts: {raw:.2f} s ({raw / args.updates * 1e6:.0f} us each)")
            print(f"  session API updates: {api:.2f} s ({api / args.updates * 1e6:.0f} us each)")
            print(f"  ratio raw_time/api_time: {ratio:.2f} (target >= 0.5) "
                  + ("PASS" if ratio >= 0.5 else "UNDER TARGET"))
        if not args.skip_context:
            bench_context(folder)


if __name__ == "__main__":
    main()
