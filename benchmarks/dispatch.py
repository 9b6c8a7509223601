"""Dispatcher throughput against a bare httpx client, both at concurrency 16.

    .venv/bin/python benchmarks/dispatch.py [--actions 5000] [--sessions 500] [--concurrency 16]

Starts a minimal keep-alive HTTP server (asyncio, raw sockets) in its own process on 127.0.0.1,
queues N ``http`` actions in a real project's SQLite outbox (spread over S sessions, so
per-session order applies), drains them with the dispatcher (the code ``msp dispatch`` runs:
leases, ordering, outcome writes, policy), then POSTs the same N bodies with a bare
``httpx.AsyncClient`` at the same concurrency. Prints both throughputs, their ratio (target
>= 0.7), and the one-request-at-a-time figures for reference. Prints ratios, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


# --- the server (runs in a child process) ----------------------------------------------------


async def _serve(port_file: Path) -> None:
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET /__count"):
                    body = str(count).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    count += 1
                    writer.write(REPLY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, port_file)
    async with server:
        await server.serve_forever()


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    give_up = time.monotonic() + 20
    while not port_file.exists():
        if time.monotonic() > give_up or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the benchmark server did not start")
        time.sleep(0.02)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"


def server_count(url: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /__count HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
            data += sock.recv(4096)
    return int(data.split(b"\r\n\r\n", 1)[1])


# --- the two clients -------------------------------------------------------------------------


def body_for(i: int) -> dict[str, Any]:
    return {
        "schema": "msp.webhook.v1", "id": f"event-{i:06d}", "type": "progress_updated",
        "time": "2026-01-05T09:14:00.000000Z", "session_id": f"20260105-090000-{i % 997:06d}",
        "project": "bench", "source": "cli",
        "item": {"id": f"u-{i}", "text": "Worker retries with backoff " * 4, "progress": i % 100, "tags": ["bench"]},
        "session": {"id": "s", "project": "bench", "goal": "benchmark", "status": "active", "progress": 40},
    }


def make_project(root: Path, url: str, n: int, sessions: int, concurrency: int) -> Any:
    from msp._config import init_project, open_project
    from msp._model.actions import HttpRequest, action_to_dict, stamp
    from msp._store.interface import PlannedAction
    from msp._store.sqlite import SqliteStore

    root.mkdir(parents=True)
    msp_dir, _ = init_project(root)
    (msp_dir / "config.toml").write_text(
        f'[dispatch]\nmode = "manual"\n\n[integrations.bench]\nconcurrency = {concurrency}\n'
    )
    project = open_project(root)
    assert project is not None
    store = SqliteStore(project.db_path, synchronous=project.config.store.synchronous)
    planned = []
    for i in range(n):
        key = f"bench-{i:06d}"
        action = stamp(HttpRequest(path="/hook", json_body=body_for(i)), "bench", key)
        planned.append(PlannedAction(key, f"event-{i:06d}", "bench", 0, "http", f"session-{i % sessions:05d}",
                                     action_to_dict(action)))
    with store.write() as tx:
        tx.add_actions(planned)
    store.close()
    return project, url


def drain(project: Any, url: str, concurrency: int) -> tuple[float, float, dict[str, Any]]:
    """Wall time, CPU time of this process, and the drain's report."""
    from msp._dispatch import IntegrationInfo, drain_project

    infos = {"bench": IntegrationInfo("bench", {"base_url": url}, {"concurrency": concurrency})}
    cpu, start = time.process_time(), time.perf_counter()
    report = drain_project(project, wait=True, integrations=infos, timeout_s=600)
    return time.perf_counter() - start, time.process_time() - cpu, report.to_dict()


def drain_noop(project: Any, concurrency: int) -> float:
    """The dispatcher's own cost: the same drain with an executor that does nothing."""
    from msp._dispatch import IntegrationInfo, drain_project
    from msp._executors import HandlerExecutor, Outcome

    infos = {"bench": IntegrationInfo("bench", {"base_url": "http://unused"}, {"concurrency": concurrency})}
    start = time.perf_counter()
    report = drain_project(project, wait=True, integrations=infos, timeout_s=600,
                           executors={"http": HandlerExecutor(lambda action, ctx: Outcome("done", "HTTP 200"))})
    assert not report.remaining, report.remaining
    return time.perf_counter() - start


def bare(url: str, n: int, concurrency: int) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    asyncio.run(_bare(url, n, concurrency))
    return time.perf_counter() - start, time.process_time() - cpu


async def _bare(url: str, n: int, concurrency: int) -> None:
    import httpx

    from msp._executors.http import KEEPALIVE_S

    bodies = [json.dumps(body_for(i), ensure_ascii=False, separators=(",", ":")).encode() for i in range(n)]
    # The pool settings of the dispatcher's http executor, so both pay the same for the pool.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_S)
    async with httpx.AsyncClient(limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                resp = await client.post(url + "/hook", content=bodies[i],
                                         headers={"Content-Type": "application/json"}, timeout=10)
                resp.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=500, help="sessions (ordered lanes) the actions spread over")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternate both clients this often; best of each")
    parser.add_argument("--serial", type=int, default=500, help="requests for the one-at-a-time figures")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(Path(args.serve)))
        return

    n, c = args.actions, args.concurrency
    d_runs: list[tuple[float, float]] = []
    b_runs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="msp-bench-") as tmp:
        workdir = Path(tmp)
        proc, url = start_server(workdir)
        try:
            # Warm up the server, the imports and the pools of both clients.
            bare(url, 300, c)
            warm, _ = make_project(workdir / "warm", url, 300, 30, c)
            drain(warm, url, c)
            for r in range(args.rounds):
                project, _ = make_project(workdir / f"round{r}", url, n, args.sessions, c)
                before = server_count(url)
                d_wall, d_cpu, report = drain(project, url, c)
                delivered = server_count(url) - before
                assert delivered == n and report["done"] == n, (delivered, report)
                d_runs.append((d_wall, d_cpu))
                b_runs.append(bare(url, n, c))
            noop_project, _ = make_project(workdir / "noop", url, n, args.sessions, c)
            noop_wall = drain_noop(noop_project, c)
            serial_project, _ = make_project(workdir / "serial", url, args.serial, 1, 1)
            ds_wall, _, _ = drain(serial_project, url, 1)
            bs_wall, _ = bare(url, args.serial, 1)
        finally:
            proc.kill()
            proc.wait()

    d_wall, d_cpu = min(d_runs)
    b_wall, b_cpu = min(b_runs)
    d_rate, b_rate = n / d_wall, n / b_wall
    print(f"dispatch benchmark: {n} http actions over {args.sessions} sessions, concurrency {c}, "
          f"best of {args.rounds} round(s) each")
    print(f"  dispatcher : {d_wall:7.2f} s  {d_rate:8.0f} actions/s   cpu {d_cpu * 1000 / n:.2f} ms/action"
          f"  (all {[f'{w:.1f}' for w, _ in d_runs]} s)")
    print(f"  bare httpx : {b_wall:7.2f} s  {b_rate:8.0f} requests/s  cpu {b_cpu * 1000 / n:.2f} ms/request"
          f" (all {[f'{w:.1f}' for w, _ in b_runs]} s)")
    print(f"  throughput ratio dispatcher / bare httpx = {d_rate / b_rate:.2f}  (target >= 0.70)")
    print(f"  cpu ratio (bare cpu per request / dispatcher cpu per action) = {b_cpu / d_cpu:.2f}")
    print(f"  one at a time ({args.serial}, one session): dispatcher {args.serial / ds_wall:.0f} actions/s, "
          f"bare httpx {args.serial / bs_wall:.0f} requests/s")
    print(f"  dispatcher alone (no-op executor, same {n} actions): {n / noop_wall:.0f} actions/s, "
          f"{noop_wall * 1000 / n:.3f} ms of outbox work per action")


if __name__ == "__main__":
    main()
