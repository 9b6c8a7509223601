"""Offline is not failure (issue 12, point 10).

A service that cannot be reached at all (connection refused, DNS, unreachable, connect timeout)
backs off to the cap and is bounded by ``max_age_hours``, not ``max_attempts``; an answer from a
service that was reached (5xx, 429) counts as before. ``msp dispatch --wait`` does not sit out an
outage: it returns, says what waits and why, and exits 75 while anything is pending;
``--until-empty`` keeps retrying. Loopback only; the receiver is "down" because nothing listens
on its port.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from msp._cli.dispatch import EXIT_PENDING
from msp._executors import HandlerExecutor, Outcome
from msp.testing import Reply, ScriptedServer, free_port, plan, write_project

MSP_BIN = str(Path(sys.executable).with_name("msp"))
MAX_ATTEMPTS = 3
OFFLINE = {"backoff_base_s": 0.01, "backoff_cap_s": 0.1, "max_attempts": MAX_ATTEMPTS, "max_age_hours": 1.0,
           "timeout_s": 2.0}


def _record(manager: Any) -> None:
    for s in range(2):
        manager.start({"goal": f"train ride {s}"})
        manager.update({"text": "wrote the summary offline", "progress": 50})
        manager.end({"summary": "done offline"})


def _rows(root: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(root / ".msp" / "msp.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(
            "SELECT id, idempotency_key, status, attempts, offline_attempts, last_error FROM actions ORDER BY id")]
    finally:
        db.close()


def _project(tmp_path: Path, port: int) -> tuple[Path, int, dict[str, str]]:
    root = write_project(tmp_path / "p", "webhook", {"url": f"http://127.0.0.1:{port}/hook"}, dispatch=OFFLINE)
    total = plan(root, "webhook", None, _record)
    return root, total, {**os.environ, "MSP_DIR": str(root / ".msp")}


def test_an_outage_longer_than_max_attempts_then_everything_is_delivered_once(tmp_path: Path) -> None:
    port = free_port()
    root, total, env = _project(tmp_path, port)
    drain = subprocess.Popen([MSP_BIN, "dispatch", "--until-empty", "--json", "--timeout", "90"], cwd=root,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Down for well over max_attempts attempts' worth of backoff: a head tried 4x as often.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = _rows(root)
            if min(r["attempts"] for r in rows[:1]) >= 4 * MAX_ATTEMPTS:
                break
            time.sleep(0.1)
        down = _rows(root)
        assert down[0]["attempts"] >= 4 * MAX_ATTEMPTS, down[0]
        assert not [r for r in down if r["status"] == "dead"], "an unreachable service killed actions"
        assert down[0]["offline_attempts"] == down[0]["attempts"] and "cannot connect" in down[0]["last_error"]
        with ScriptedServer(Reply(200, json={"ok": True}), port=port) as server:
            out, err = drain.communicate(timeout=90)
            assert drain.returncode == 0, out + err
            report = json.loads(out)
    finally:
        if drain.poll() is None:
            drain.kill()
            drain.wait()
    after = _rows(root)
    assert [r["status"] for r in after] == ["done"] * total
    keys = [r.header("Idempotency-Key") for r in server.requests]
    assert sorted(keys) == sorted(r["idempotency_key"] for r in after), "each delivered exactly once"
    assert report["pending"] is False and report["dead"] == 0
    print(f"\n[offline] receiver down for {down[0]['attempts']} attempts of the first action "
          f"(max_attempts {MAX_ATTEMPTS}); then delivered {len(keys)}/{total}, each once, none dead")


def test_wait_returns_during_an_outage_saying_what_waits(tmp_path: Path) -> None:
    port = free_port()
    root, total, env = _project(tmp_path, port)
    started = time.monotonic()
    waited = subprocess.run([MSP_BIN, "dispatch", "--wait"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=60)
    took = time.monotonic() - started
    assert waited.returncode == EXIT_PENDING, waited.stdout + waited.stderr
    assert "waiting: webhook: " in waited.stdout and "cannot connect" in waited.stdout, waited.stdout
    rows = _rows(root)
    assert {r["status"] for r in rows} == {"pending"}
    heads = [r for r in rows if r["attempts"]]
    assert len(heads) == 2 and all(r["attempts"] == r["offline_attempts"] == 1 for r in heads), \
        "each session's lane tried once, then left for later"
    as_json = subprocess.run([MSP_BIN, "dispatch", "--wait", "--json"], cwd=root, env=env, capture_output=True,
                             text=True, timeout=60)
    assert as_json.returncode == EXIT_PENDING
    report = json.loads(as_json.stdout)
    assert report["pending"] is True and report["waits"][0]["integration"] == "webhook"
    with ScriptedServer(Reply(200, json={"ok": True}), port=port) as server:
        time.sleep(OFFLINE["backoff_cap_s"])  # the backoff of the last try runs out
        back = subprocess.run([MSP_BIN, "dispatch", "--wait"], cwd=root, env=env, capture_output=True, text=True,
                              timeout=60)
    assert back.returncode == 0, back.stdout + back.stderr
    assert [r["status"] for r in _rows(root)] == ["done"] * total and len(server.requests) == total
    print(f"\n[dispatch --wait offline] returned in {took:.1f}s with exit {waited.returncode}:\n"
          + "\n".join(line for line in waited.stdout.splitlines() if line.startswith("waiting")))


def test_answers_from_a_reached_service_still_count_after_an_outage(outbox: Any) -> None:
    """Five refused connections, then 503s: dead after max_attempts answers, not before."""
    (a,) = outbox.add()
    answers = iter([Outcome("retry", "cannot connect: refused", offline=True)] * 5
                   + [Outcome("retry", "HTTP 503", status_code=503)] * 10)
    report = outbox.drain({"http": HandlerExecutor(lambda action, ctx: next(answers))}, max_attempts=MAX_ATTEMPTS)
    row = outbox.row(a)
    assert (row["status"], row["attempts"], row["offline_attempts"]) == ("dead", 5 + MAX_ATTEMPTS, 5)
    assert row["last_error"].startswith(f"gave up after {MAX_ATTEMPTS} attempt(s)") and report.dead == 1


def test_an_outage_longer_than_max_age_ends_dead_by_age(outbox: Any) -> None:
    (a,) = outbox.add()
    offline = HandlerExecutor(lambda action, ctx: Outcome("retry", "cannot connect: refused", offline=True))
    outbox.drain({"http": offline}, max_attempts=2, max_age_hours=0.5 / 3600, backoff_cap_s=0.05)
    row = outbox.row(a)
    assert row["status"] == "dead" and row["attempts"] > 2 and "still failing after" in row["last_error"]
