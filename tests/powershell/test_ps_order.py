"""Order through the dispatcher with the real PowerShell executor against the stand-in pwsh: a
session's calls stop at a failed call, and each call's follow-ups are delivered before the
session's next call runs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ps_helpers import ps_project_fixture, standin_log_fixture, teamchat_config  # noqa: F401  (fixtures)

from msp._config import DispatchConfig
from msp._dispatch.drain import Dispatcher, DrainOptions, DrainReport, IntegrationInfo
from msp._executors import ExecutionContext, HandlerExecutor, Outcome
from msp._executors.powershell import PowerShellExecutor
from msp._model.actions import PowerShellCall, action_to_dict, stamp
from msp._store.interface import PlannedAction
from msp._store.sqlite import SqliteStore

FAST = {"backoff_base_s": 0.001, "backoff_cap_s": 0.005, "max_attempts": 5, "lease_s": 10.0, "timeout_s": 30.0}


def _session(sid: str, goal: str = "Ship retries") -> dict[str, Any]:
    return {"id": sid, "project": "payments", "user": "ada", "goal": goal, "startTime": "2026-01-05T09:00:00Z",
            "startProgress": 10, "endProgress": 70, "duration": 1.5,
            "updates": [{"description": "Half way", "progress": 50}], "decisions": []}


def _calls(sid: str, goal: str = "Ship retries") -> list[PowerShellCall]:
    return [
        PowerShellCall(function="New-TeamChatSession", arguments={"Session": _session(sid, goal)}),
        PowerShellCall(function="Update-TeamChatProgress",
                       arguments={"Update": {"description": "Half way", "progress": 50}, "SessionId": sid}),
        PowerShellCall(function="Close-TeamChatSession", arguments={"Session": _session(sid, goal)}),
    ]


class _Queue:
    def __init__(self, path: Path) -> None:
        self.store = SqliteStore(path, synchronous="normal")
        self.db = sqlite3.connect(path, isolation_level=None)  # to look at rows the way no store method does
        self.db.row_factory = sqlite3.Row
        self._n = 0

    def add(self, session: str, calls: list[PowerShellCall]) -> list[int]:
        planned = []
        for call in calls:
            self._n += 1
            key = f"key-{self._n:04d}"
            planned.append(PlannedAction(key, f"event-{self._n}", "teamchat", 0, "powershell", session,
                                         action_to_dict(stamp(call, "teamchat", key))))
        with self.store.write() as tx:
            tx.add_actions(planned)
        keys = [p.idempotency_key for p in planned]
        return [r[0] for r in self.db.execute(
            f"SELECT id FROM actions WHERE idempotency_key IN ({','.join('?' * len(keys))}) ORDER BY id", keys)]

    def close(self) -> None:
        self.db.close()
        self.store.close()

    def row(self, action_id: int) -> dict[str, Any]:
        return dict(self.db.execute("SELECT * FROM actions WHERE id = ?", (action_id,)).fetchone())

    def drain(self, project: Path, executors: dict[str, Any], *, wait: bool) -> DrainReport:
        infos = {"teamchat": IntegrationInfo("teamchat", teamchat_config(), {})}
        dispatcher = Dispatcher(self.store, infos, DispatchConfig(**FAST), project, executors=executors,
                                holds_lock=True)
        return asyncio.run(dispatcher.run(DrainOptions(wait=wait, deadline=time.monotonic() + 60)))


@pytest.fixture(name="queue")
def queue_fixture(tmp_path: Path) -> Iterator[_Queue]:
    queue = _Queue(tmp_path / "msp.db")
    yield queue
    queue.close()


class _RecordingPowerShell(PowerShellExecutor):
    """The real executor, noting each function it runs in a log shared with the other kinds."""

    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        args = action.arguments
        self.order.append(f"{action.function}({args.get('SessionId') or args['Session']['id']})")
        return await super().execute(action, ctx)


def _recorder(order: list[str], label: Callable[[Any], str]) -> HandlerExecutor:
    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        order.append(label(action))
        return Outcome("done", "ok")

    return HandlerExecutor(handler)


def test_a_failed_new_session_holds_back_the_sessions_later_calls(
        ps_project: Path, standin_log: Callable[[], list[dict[str, Any]]], queue: _Queue) -> None:
    new1, update1, close1 = queue.add("s-1", _calls("s-1", goal="knob:throw"))
    s2 = queue.add("s-2", _calls("s-2"))
    posted: list[str] = []
    report = queue.drain(ps_project, {"http": _recorder(posted, lambda a: a.json_body["text"]),
                                      "file": _recorder(posted, lambda a: a.path)}, wait=False)

    failed = queue.row(new1)
    assert (failed["status"], failed["attempts"]) == ("pending", 1)
    assert "TeamChat could not open the session thread" in failed["last_error"]
    for later in (update1, close1):  # never run, no attempt counted, will run after New- succeeds
        row = queue.row(later)
        assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 0, None)
    ran = [(e["command"], e["values"].get("SessionId") or e["values"].get("Session", {}).get("id"))
           for e in standin_log() if e["command"].endswith(("Session", "Progress"))]
    # the stand-in ran s-1's New- once and nothing after it; s-2 in full (lanes interleave freely)
    assert sorted(ran) == sorted([("New-TeamChatSession", "s-1"), ("New-TeamChatSession", "s-2"),
                                  ("Update-TeamChatProgress", "s-2"), ("Close-TeamChatSession", "s-2")])
    # the other session's lane was not held back
    assert all(queue.row(i)["status"] == "done" for i in s2)
    assert any(text.endswith("started a session on payments - Ship retries") for text in posted)
    assert report.retried == 1


def test_each_calls_follow_ups_are_delivered_before_the_next_call(ps_project: Path, queue: _Queue) -> None:
    ids = queue.add("s-1", _calls("s-1"))
    order: list[str] = []
    executors = {
        "powershell": _RecordingPowerShell(order),
        "http": _recorder(order, lambda a: "post: " + a.json_body["text"]),
        "file": _recorder(order, lambda a: "file: " + a.path),
    }
    report = queue.drain(ps_project, executors, wait=True)
    assert all(queue.row(i)["status"] == "done" for i in ids) and report.follow_ups == 4, report.to_dict()
    assert order == [
        "New-TeamChatSession(s-1)",
        "post: :arrow_forward: ada started a session on payments - Ship retries",
        "Update-TeamChatProgress(s-1)",
        "post: :bar_chart: s-1 reached 50%: Half way",
        "Close-TeamChatSession(s-1)",
        "post: Session s-1 complete",
        "file: sessions/s-1.md",
    ]
