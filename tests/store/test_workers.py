"""Delivery workers (``msp dispatch --worker``) on the real PostgreSQL the suite starts.

Three workers drain 3,000 actions to a loopback receiver while one of them is SIGKILLed: every
action is delivered, each lane in order, and only actions the killed worker held at the kill
are delivered twice. A worker sleeps on NOTIFY (an update recorded through the CLI is delivered
long before its poll interval), stops cleanly on SIGTERM, and leaves to others the integrations
it has no credential for, without marking their actions dead.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from msp.testing import Reply, ScriptedServer
from tests.store.postgres_server import PostgresServer
from tests.store.workers_kit import MSP_BIN, URL_ENV, queue_lanes, start_worker, team_project

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _statuses(url: str) -> dict[str, int]:
    with psycopg.connect(url) as db:
        return dict(db.execute("SELECT status, count(*) FROM actions GROUP BY status").fetchall())  # type: ignore[arg-type]


def _wait_until(check: Any, timeout_s: float, what: str, procs: list[subprocess.Popen[str]] = ()) -> None:  # type: ignore[assignment]
    give_up = time.monotonic() + timeout_s
    while not check():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a worker exited early ({p.returncode}): {p.stderr.read() if p.stderr else ''}")
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _lanes(requests: list[Any]) -> tuple[dict[int, list[int]], dict[str, int]]:
    """Complete requests: each lane's places in arrival order, and deliveries per key."""
    lanes: dict[int, list[int]] = {}
    counts: dict[str, int] = {}
    for req in requests:
        try:
            body = req.json()
        except ValueError:
            continue  # cut off by the kill
        lanes.setdefault(body["lane"], []).append(body["n"])
        key = req.header("Idempotency-Key") or ""
        counts[key] = counts.get(key, 0) + 1
    return lanes, counts


def test_three_workers_one_sigkilled_deliver_everything_in_lane_order(
        pg_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sessions, per_session = 60, 50
    total = sessions * per_session
    url = pg_server.create_database()
    with ScriptedServer(Reply(200, json={"ok": True}, delay_s=0.005)) as server:
        root = team_project(tmp_path / "proj", url, server.url + "/hook",
                            section={"url": server.url + "/hook", "concurrency": 8},
                            dispatch={"lease_s": 3.0, "batch_size": 10})
        keys = queue_lanes(url, sessions, per_session)
        assert len(keys) == total
        workers = [start_worker(root, url, f"worker-{k}", "--poll", "1") for k in range(3)]
        try:
            _wait_until(lambda: len(server.requests) >= total // 3, 180, "a third delivered", workers)
            victim = workers[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            with psycopg.connect(url) as db:
                held = {r[0] for r in db.execute(
                    "SELECT idempotency_key FROM actions WHERE status = 'in_flight' AND lease_owner LIKE 'worker-0:%'")}
                done_at_kill = db.execute("SELECT count(*) FROM actions WHERE status = 'done'").fetchone()
            assert held, "the kill must land while the worker holds actions"
            _wait_until(lambda: _statuses(url) == {"done": total}, 240, "every action done", workers[1:])
            stopped = [_stop(w) for w in workers[1:]]
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
                    w.wait()
        assert victim.returncode == -signal.SIGKILL
        for code, _out, err in stopped:
            assert code == 0, err

        lanes, counts = _lanes(server.requests)
    assert set(counts) == set(keys), "every action reached the receiver"
    twice = {k for k, n in counts.items() if n > 1}
    assert twice <= held, f"only actions the killed worker held may repeat; also repeated: {twice - held}"
    for lane, places in lanes.items():
        # A repeat comes right after its first delivery (the lane waits for it); nothing overtakes.
        assert places == sorted(places), f"lane {lane} out of order: {places}"
        assert sorted(set(places)) == list(range(per_session))
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT host, delivered, stopped_ms FROM workers ORDER BY host").fetchall()
    assert [r[0] for r in rows] == ["worker-0", "worker-1", "worker-2"]
    assert rows[0][2] is None, "a killed worker never says it stopped"
    assert all(r[2] is not None and r[1] > 0 for r in rows[1:])
    with capsys.disabled():
        print(f"\n[3 workers, 1 SIGKILLed] {total} actions over {sessions} lanes; done at the kill: "
              f"{done_at_kill[0] if done_at_kill else '?'}; held by the killed worker: {len(held)}; "
              f"delivered twice: {len(twice)}; delivered per worker: {[r[1] for r in rows]}")


def test_worker_is_woken_by_notify_and_stops_cleanly(pg_server: PostgresServer, tmp_path: Path) -> None:
    """With a 10-minute poll, an update recorded through the CLI is delivered at once: the worker
    sleeps on LISTEN, not on its poll. SIGTERM while a request is in flight: the worker finishes
    it, says it stopped, and leaves nothing leased."""
    url = pg_server.create_database()
    answered: list[int] = []

    def answer(_request: Any) -> Reply:
        answered.append(1)  # the first at once; later ones slowly, to be in flight at the SIGTERM
        return Reply(200, json={"ok": True}, delay_s=0.0 if len(answered) == 1 else 4.0)

    with ScriptedServer(answer) as server:
        root = team_project(tmp_path / "proj", url, server.url + "/hook", dispatch={"timeout_s": 15.0})
        env = {**_env(root, url), "MSP_HOST": "laptop"}
        worker = start_worker(root, url, "notified", "--poll", "600")
        try:
            _wait_until(lambda: _workers(url) == 1, 60, "the worker's first heartbeat", [worker])
            assert subprocess.run([MSP_BIN, "start", "--goal", "woken"], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=60).returncode == 0
            assert sum(_statuses(url).values()) >= 1, "the start queued a webhook post"
            # Far sooner than the 600 s poll: only a NOTIFY can have woken it.
            assert server.wait_for(1, timeout_s=60), "the worker was not woken by the queued action"
            assert subprocess.run([MSP_BIN, "update", "halfway", "50"], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=60).returncode == 0
            _wait_until(lambda: _statuses(url).get("in_flight", 0) > 0, 60, "a request in flight", [worker])
            code, _out, err = _stop(worker)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert code == 0, err
        assert "woken by NOTIFY" in err and "stopping (SIGTERM)" in err
        statuses = _statuses(url)
        assert "in_flight" not in statuses, statuses
        assert statuses.get("done", 0) == len(server.requests), "what it held was finished, not dropped"
        status = subprocess.run([MSP_BIN, "store", "status", "--json"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        seen = json.loads(status.stdout)["workers"]
        assert [(w["host"], w["stopped"], w["integrations"]) for w in seen] == [("notified", True, ["webhook"])]
        assert seen[0]["delivered"] == statuses["done"]
        text = subprocess.run([MSP_BIN, "store", "status"], cwd=root, env=env, capture_output=True, text=True,
                              timeout=60).stdout
        assert "workers:  1 seen" in text and "host notified" in text and "s ago" in text


def test_a_worker_without_the_credential_leaves_the_actions_to_one_that_has_it(
        pg_server: PostgresServer, tmp_path: Path) -> None:
    url = pg_server.create_database()
    with ScriptedServer(Reply(200, json={"ok": True})) as server:
        # The URL is a secret named by a variable: set on one machine, not on the other.
        root = team_project(tmp_path / "proj", url, "", section={"url_env": "TEAM_HOOK_URL"})
        keys = queue_lanes(url, 3, 4)
        lacking = start_worker(root, url, "no-secret", "--poll", "0.2", env={"TEAM_HOOK_URL": ""})
        try:
            _wait_until(lambda: _workers(url) == 1, 60, "the first worker's heartbeat", [lacking])
            time.sleep(1.0)  # several of its polls: it must still leave everything alone
            assert _statuses(url) == {"pending": len(keys)}, "nothing claimed, nothing dead"
            assert not server.requests
            able = start_worker(root, url, "has-secret", "--poll", "0.2",
                                env={"TEAM_HOOK_URL": server.url + "/hook"})
            try:
                _wait_until(lambda: _statuses(url) == {"done": len(keys)}, 120, "delivery by the able worker",
                            [lacking, able])
            finally:
                code_able, _o, err_able = _stop(able)
            code, _out, err = _stop(lacking)
        finally:
            for w in (lacking,):
                if w.poll() is None:
                    w.kill()
                    w.wait()
    assert code == 0 and code_able == 0, err + err_able
    assert err.count("leaving the actions of 'webhook' to a worker that can deliver them") == 1, err
    assert "TEAM_HOOK_URL" in err
    assert "leaving" not in err_able
    with psycopg.connect(url) as db:
        served = dict(db.execute("SELECT host, integrations FROM workers").fetchall())  # type: ignore[arg-type]
    assert served == {"no-secret": [], "has-secret": ["webhook"]}


def _env(root: Path, url: str) -> dict[str, str]:
    import os

    return {**os.environ, URL_ENV: url, "MSP_DIR": str(root / ".msp")}


def _workers(url: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM workers").fetchone()
    return int(row[0]) if row else 0


def test_a_worker_delivers_with_the_team_config_its_own_folder_lacks(
        pg_server: PostgresServer, tmp_path: Path) -> None:
    """Machine A pushes its webhook section to the team store; a worker on machine B, whose folder
    names only the store, serves the webhook with the team's settings (the URL its actions read)."""
    url = pg_server.create_database()
    with ScriptedServer(Reply(200, json={"ok": True})) as server:
        a = team_project(tmp_path / "a", url, server.url + "/hook")
        pushed = subprocess.run([MSP_BIN, "config", "push", "webhook"], cwd=a, env=_env(a, url),
                                capture_output=True, text=True, timeout=60)
        assert pushed.returncode == 0, pushed.stderr
        b = tmp_path / "b"
        b.mkdir()
        for args in (["init"], ["config", "set", "store.url_env", URL_ENV],
                     ["config", "set", "dispatch.mode", "manual"]):
            done = subprocess.run([MSP_BIN, *args], cwd=b, env=_env(b, url), capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr
        own = tomllib.loads((b / ".msp" / "config.toml").read_text())
        assert "webhook" not in own.get("integrations", {}), "machine B's folder has no webhook section"
        keys = queue_lanes(url, 2, 3)
        worker = start_worker(b, url, "machine-b", "--poll", "0.2")
        try:
            _wait_until(lambda: _statuses(url) == {"done": len(keys)}, 120, "delivery by machine B's worker",
                        [worker])
        finally:
            code, _out, err = _stop(worker)
    assert code == 0, err
    assert "leaving" not in err
    assert len(server.requests) == len(keys) and {r.path for r in server.requests} == {"/hook"}
