"""``msp dispatch --worker`` on a SQLite store: one machine, one drain. The worker holds the
drain lock, notices commits by polling the store file, delivers what recording commands queue
(their background drains find the lock held and leave it to the worker), and stops on SIGINT."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msp.testing import Reply, ScriptedServer, write_project

MSP_BIN = str(Path(sys.executable).with_name("msp"))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sqlite_worker_delivers_what_commands_queue_and_stops_on_sigint(tmp_path: Path) -> None:
    with ScriptedServer(Reply(200, json={"ok": True})) as server:
        # background mode: each command tries to start a drain of its own, and finds the worker.
        root = write_project(tmp_path / "proj", "webhook", {"url": server.url + "/hook"},
                             dispatch={"mode": "background"})
        env = {**os.environ, "MSP_DIR": str(root / ".msp"), "MSP_HOST": "solo"}
        worker = subprocess.Popen([MSP_BIN, "dispatch", "--worker", "--poll", "600"], cwd=root, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            db = root / ".msp" / "msp.db"
            give_up = time.monotonic() + 60
            while not _workers(db):
                assert time.monotonic() < give_up and worker.poll() is None, "the worker never beat"
                time.sleep(0.1)
            for args in (["start", "--goal", "solo"], ["update", "one", "10"], ["end", "--summary", "x"]):
                done = subprocess.run([MSP_BIN, *args], cwd=root, env=env, capture_output=True, text=True,
                                      timeout=60)
                assert done.returncode == 0, done.stderr
            # Long before the 600 s poll: the file poll saw the commits.
            assert server.wait_for(3, timeout_s=60), f"delivered {len(server.requests)} of 3"
            give_up = time.monotonic() + 30
            while _statuses(db) != {"done": 3}:
                assert time.monotonic() < give_up, _statuses(db)
                time.sleep(0.1)
            worker.send_signal(signal.SIGINT)
            out, err = worker.communicate(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert worker.returncode == 0, err
    assert "polling the store file" in err and "Worker stopped. Delivered 3." in out
    assert len(server.requests) == 3, "each action once: the background drains left them to the worker"
    con = sqlite3.connect(db)
    rows = con.execute("SELECT host, delivered, stopped_ms FROM workers").fetchall()
    con.close()
    assert len(rows) == 1 and rows[0][0] == "solo" and rows[0][1] == 3 and rows[0][2] is not None


def _workers(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM workers").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet
    finally:
        con.close()


def _statuses(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT status, count(*) FROM actions GROUP BY status").fetchall())
    finally:
        con.close()


def test_a_worker_serves_only_integrations_whose_credentials_resolve_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from msp._dispatch.drain import IntegrationInfo
    from msp._dispatch.worker import deliverable, leave_note

    monkeypatch.setenv("HOOK_URL_HERE", "http://127.0.0.1:9/hook")
    monkeypatch.delenv("HOOK_URL_ELSEWHERE", raising=False)
    monkeypatch.delenv("API_KEY_ELSEWHERE", raising=False)
    infos = deliverable({
        "here": IntegrationInfo("here", {"url_env": "HOOK_URL_HERE"}),
        "elsewhere": IntegrationInfo("elsewhere", {"url_env": "HOOK_URL_ELSEWHERE"}),
        "header": IntegrationInfo("header", {"url": "http://x", "secret_headers": {"X-Api-Key": "API_KEY_ELSEWHERE"}}),
        "broken": IntegrationInfo("broken", error="failed to load"),
    })
    assert infos["here"].error is None
    assert infos["elsewhere"].error is not None and "HOOK_URL_ELSEWHERE" in infos["elsewhere"].error
    assert infos["header"].error is not None and "API_KEY_ELSEWHERE" in infos["header"].error
    assert infos["broken"].error == "failed to load"
    assert "[integrations.jira] is not configured" in leave_note("jira", "not configured")
