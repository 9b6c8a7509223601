"""Many engineers on many machines, one PostgreSQL team store.

Two simulated machines (each its own project folder, its own ``MSP_USER`` / ``MSP_HOST``) run
four processes each, every process recording 250 updates through the Python API (the
application layer a command uses) at the same time. Each machine's engineer records into their
own active session: the store ends with exactly 2,000 updates, none lost, none doubled, none in
the other engineer's session, and every session's events in one total order that keeps each
process's own order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

from msp._config import init_project
from msp._store import open_store
from tests.store.backends import URL_ENV, Backend
from tests.store.postgres_server import PostgresServer

MACHINES = {"laptop-a": "alice", "laptop-b": "bob"}
PROCESSES = 4
EACH = 250


def _as_engineer(folder: str, user: str, host: str, url: str) -> Any:
    """This process as the engineer of one machine: their folder, their names, the team store."""
    os.environ.update({"MSP_USER": user, "MSP_HOST": host, URL_ENV: url})
    os.chdir(folder)
    from msp._app.context import Context

    return Context(source="api")


def _start(folder: str, user: str, host: str, url: str, out: str) -> None:
    ctx = _as_engineer(folder, user, host, url)
    try:
        rec = ctx.manager.start({"goal": f"{user}'s work"})
        Path(out).write_text(json.dumps({"session": rec.event.session_id}))
    finally:
        ctx.close()


def _record(folder: str, user: str, host: str, url: str, tag: str, go: Any, out: str) -> None:
    ctx = _as_engineer(folder, user, host, url)
    try:
        manager = ctx.manager
        manager.active()  # the store opened before the start line, so the writes overlap
        go.wait(timeout=60)
        acknowledged = []
        for i in range(EACH):
            rec = manager.update({"text": f"{tag} update {i}", "tags": [tag]})
            acknowledged.append([rec.event.id, rec.event.session_id])
        Path(out).write_text(json.dumps(acknowledged))
    finally:
        ctx.close()


def _machine(root: Path, host: str) -> Path:
    folder = root / host
    folder.mkdir()
    init_project(folder)
    (folder / ".msp" / "config.toml").write_text(
        f'[project]\nname = "payments"\n[store]\nurl_env = "{URL_ENV}"\nsynchronous = "normal"\n'
        '[dispatch]\nmode = "manual"\n'
    )
    return folder


def _run(spawn: Any, target: Any, args: tuple[Any, ...]) -> Any:
    proc = spawn.Process(target=target, args=args)
    proc.start()
    return proc


def test_four_processes_on_each_of_two_machines_leave_exactly_2000_updates(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    url = pg_server.create_database()
    spawn = multiprocessing.get_context("spawn")  # no pool or connection crosses a fork
    folders = {host: _machine(tmp_path, host) for host in MACHINES}

    sessions: dict[str, str] = {}
    for host, user in MACHINES.items():
        out = tmp_path / f"start-{host}.json"
        proc = _run(spawn, _start, (str(folders[host]), user, host, url, str(out)))
        proc.join(120)
        assert proc.exitcode == 0
        sessions[user] = json.loads(out.read_text())["session"]
    assert len(set(sessions.values())) == 2  # one project, one active session per engineer

    go = spawn.Event()
    writers = []
    for host, user in MACHINES.items():
        for n in range(PROCESSES):
            tag = f"{user}-p{n}"
            out = tmp_path / f"{tag}.json"
            writers.append((user, tag, out, _run(spawn, _record, (str(folders[host]), user, host, url, tag, go,
                                                                   str(out)))))
    go.set()
    for _user, tag, _out, proc in writers:
        proc.join(300)
        assert proc.exitcode == 0, tag

    store = open_store(url)
    try:
        with store.read() as tx:
            events = tx.events_since(0, limit=1_000_000)
            rows = {r.id: r for r in tx.list_sessions()}
            per_session = {sid: tx.session_events(sid) for sid in sessions.values()}
    finally:
        store.close()
    updates = [e for e in events if e.type == "progress_updated"]
    assert len(updates) == PROCESSES * len(MACHINES) * EACH == 2000
    assert len(events) == 2000 + len(MACHINES)  # and the two session starts, nothing else
    assert len({e.id for e in updates}) == 2000 and len({e.data["text"] for e in updates}) == 2000

    for user, tag, out, _proc in writers:
        acknowledged = json.loads(out.read_text())
        # Every update a process was told was committed is stored, in its engineer's session.
        assert {sid for _id, sid in acknowledged} == {sessions[user]}
        mine = [e for e in per_session[sessions[user]] if e.type == "progress_updated" and e.data["tags"] == [tag]]
        assert [e.id for e in mine] == [event_id for event_id, _sid in acknowledged]
        # ... in the order the process recorded them.
        assert [e.data["text"] for e in mine] == [f"{tag} update {i}" for i in range(EACH)]

    for host, user in MACHINES.items():
        sid = sessions[user]
        row = rows[sid]
        assert (row.user, row.host, row.project, row.status) == (user, host, "payments", "active")
        assert row.event_count == PROCESSES * EACH + 1
        seqs = [e.seq for e in per_session[sid]]
        assert seqs == sorted(set(seqs))  # one total order per session
        assert {e.data["tags"][0].split("-")[0] for e in per_session[sid] if e.type == "progress_updated"} == {user}
    Backend("postgres", tmp_path, pg_server).check_sound(url)
