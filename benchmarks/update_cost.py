"""What one ``msp update`` costs against the length of its session (issue 12, point 5).

    .venv/bin/python benchmarks/update_cost.py [--sizes 100,1000,10000,100000] [--runs 5]

For each size N, a fresh project with the obsidian and webhook integrations enabled (dispatch
``manual``, so nothing is delivered and every action stays queued) gets a session of N updates,
written straight through the store in one transaction (the CLI would take hours for 100,000).
Then the real ``msp update "…" 50`` command runs ``--runs`` times per size (round-robin over
the sizes), and for each run the script
records its wall time, its peak memory (the child's maximum resident set) and the bytes it
stored: the event row plus the payloads of the actions planned from it.

Prints a line per size (medians) and the ratio of the largest size to the smallest for time,
bytes and memory. Target: time and bytes <= 2 (the cost of an update is flat in the session's
length). Before the stored projection and the appending note, 100,000 updates cost 2.9 s,
360 MB and a 9.8 MB action per update.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from msp._config import init_project
from msp._model.ids import new_event_id
from msp._model.models import Event
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore

TARGET = 2.0
CONFIG = """\
[store]
synchronous = "normal"
[dispatch]
mode = "manual"
[integrations.obsidian]
vault = "vault"
[integrations.webhook]
url = "http://127.0.0.1:9/msp"
"""


def build(root: Path, n: int) -> None:
    """A project whose one active session already has ``n`` updates."""
    root.mkdir(parents=True)
    init_project(root)
    (root / ".msp" / "config.toml").write_text(CONFIG, encoding="utf-8")
    (root / "vault").mkdir()
    store = SqliteStore(root / ".msp" / "msp.db", synchronous="off")
    try:
        start = datetime.now(UTC) - timedelta(hours=1)
        recorded = SessionManager(store, None, default_project="bench", source="api", clock=lambda: start).start(
            {"goal": "measure an update", "progress": 0}
        )
        session = recorded.event.session_id
        with store.write() as tx:
            for i in range(n):
                at = start + timedelta(microseconds=(i + 1) * 30)
                tx.append(Event(
                    id=new_event_id(int(at.timestamp() * 1000)), type="progress_updated", session_id=session,
                    project="bench", at=at, source="api",
                    data={"text": f"update {i}: mapped another part of the flow", "progress": i % 101,
                          "tags": ["todo"] if i % 500 == 0 else []},
                ))
    finally:
        store.close()


def one_update(root: Path, msp: str, i: int) -> tuple[float, int, int]:
    """Runs ``msp update`` once: (seconds, bytes stored for it, peak resident KiB)."""
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as out:
        begin = time.perf_counter()
        child = subprocess.Popen([msp, "update", f"measured update {i}", "50", "--json"], cwd=root, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - begin
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise SystemExit(f"msp update failed ({child.returncode}):\n{text}")
    event_id = json.loads(text)["event"]["id"]
    db = sqlite3.connect(root / ".msp" / "msp.db")
    try:
        event_bytes = db.execute(
            "SELECT length(CAST(id || type || session_id || project || at || source || data AS BLOB)) + 16 "
            "FROM events WHERE id = ?", (event_id,)
        ).fetchone()[0]
        action_bytes = db.execute(
            "SELECT coalesce(sum(length(CAST(payload AS BLOB)) + length(idempotency_key)), 0) FROM actions "
            "WHERE event_id = ?", (event_id,)
        ).fetchone()[0]
    finally:
        db.close()
    return elapsed, int(event_bytes) + int(action_bytes), int(usage.ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    msp = str(Path(sys.executable).with_name("msp"))
    results: dict[int, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="msp-update-cost-") as tmp:
        roots: dict[int, Path] = {}
        for n in sizes:
            roots[n] = Path(tmp) / f"n{n}"
            began = time.perf_counter()
            build(roots[n], n)
            print(f"built a session of {n:,} updates in {time.perf_counter() - began:.1f} s", flush=True)
            one_update(roots[n], msp, -1)  # warm the file cache and the byte-code of this project
        # Round-robin over the sizes, so a busy spell on a shared machine hits every size alike.
        runs: dict[int, list[tuple[float, int, int]]] = {n: [] for n in sizes}
        for i in range(args.runs):
            for n in sizes:
                runs[n].append(one_update(roots[n], msp, i))
        for n in sizes:
            t, b, m = (statistics.median(r[k] for r in runs[n]) for k in range(3))
            results[n] = (t, b, m)
            print(f"{n:>7,} updates: msp update {t * 1000:7.1f} ms, stored {b:8,.0f} bytes, "
                  f"peak {m / 1024:6.1f} MiB (median of {args.runs})", flush=True)
    small, large = results[sizes[0]], results[sizes[-1]]
    names = ("time", "stored bytes", "peak memory")
    for k, name in enumerate(names):
        ratio = large[k] / small[k]
        verdict = "" if k == 2 else (" (ok)" if ratio <= TARGET else f" (over the target {TARGET:g})")
        print(f"{name}: {sizes[-1]:,} vs {sizes[0]:,} updates = {ratio:.2f}x{verdict}")


if __name__ == "__main__":
    main()
