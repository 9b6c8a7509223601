"""The drain's policy with injectable executors over a real SQLite outbox."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Sequence
from typing import Any

from msp._dispatch.drain import IntegrationInfo
from msp._executors import BaseExecutor, ExecutionContext, ExecutorKind, HandlerExecutor, Outcome
from msp._model.actions import FileWrite, HttpRequest, action_to_dict, stamp


def _path(action: Any) -> str:
    return str(action.path)


def test_retry_then_done_counts_attempts(outbox: Any) -> None:
    (a,) = outbox.add()
    calls = {"n": 0}

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        calls["n"] += 1
        return Outcome("retry", "HTTP 503: busy", status_code=503) if calls["n"] < 3 else Outcome("done", "HTTP 200")

    report = outbox.drain({"http": HandlerExecutor(handler)})
    row = outbox.row(a)
    assert (row["status"], row["attempts"], row["result"], row["last_error"]) == ("done", 3, "HTTP 200", None)
    assert report.done == 1 and report.retried == 2


def test_max_attempts_then_dead_with_the_last_error(outbox: Any) -> None:
    (a,) = outbox.add()
    ex = HandlerExecutor(lambda action, ctx: Outcome("retry", "HTTP 502: bad gateway", status_code=502))
    report = outbox.drain({"http": ex}, max_attempts=3)
    row = outbox.row(a)
    assert row["status"] == "dead" and row["attempts"] == 3 and row["last_status"] == 502
    assert "gave up after 3 attempt(s)" in row["last_error"] and "bad gateway" in row["last_error"]
    assert len(ex.seen) == 3 and report.dead == 1


def test_max_age_makes_an_old_failing_action_dead(outbox: Any) -> None:
    (a,) = outbox.add()
    outbox.db.execute("UPDATE actions SET created_ms = created_ms - 7200000 WHERE id = ?", (a,))
    outbox.drain({"http": HandlerExecutor(lambda action, ctx: Outcome("retry", "timeout"))}, max_age_hours=1.0)
    row = outbox.row(a)
    assert row["status"] == "dead" and row["attempts"] == 1 and "still failing after 1 h" in row["last_error"]


def test_dead_outcome_is_dead_at_once_and_does_not_block_its_lane(outbox: Any) -> None:
    a, b = outbox.add(n=2)
    ex = HandlerExecutor(lambda action, ctx: Outcome("dead", "HTTP 400: no") if action.path.endswith(f"/{a}")
                         else Outcome("done", "ok"))
    outbox.drain({"http": ex})
    assert outbox.row(a)["status"] == "dead" and outbox.row(a)["attempts"] == 1
    assert outbox.row(a)["last_error"] == "HTTP 400: no"
    assert outbox.row(b)["status"] == "done"


def test_order_is_kept_per_integration_and_session(outbox: Any) -> None:
    a1, a2, a3 = outbox.add(session="A", n=3)
    b1, b2 = outbox.add(session="B", n=2)
    c1 = outbox.add(integration="other", session="A")[0]
    failed: set[str] = set()
    order: list[str] = []

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        order.append(f"{ctx.integration}{action.path}")
        # the first of each lane fails twice before it goes through
        if action.path in (f"/a/{a1}", f"/a/{b1}") and order.count(f"{ctx.integration}{action.path}") < 3:
            failed.add(action.path)
            return Outcome("retry", "HTTP 503")
        return Outcome("done", "ok")

    infos = {"hook": IntegrationInfo("hook", {}, {"concurrency": 4}), "other": IntegrationInfo("other", {}, {})}
    outbox.drain({"http": HandlerExecutor(handler)}, integrations=infos)
    assert all(r["status"] == "done" for r in outbox.rows())
    lane_a = [p for p in order if p.startswith("hook") and int(p.rsplit("/", 1)[1]) in (a1, a2, a3)]
    lane_b = [p for p in order if p.startswith("hook") and int(p.rsplit("/", 1)[1]) in (b1, b2)]
    assert lane_a == [f"hook/a/{a1}"] * 3 + [f"hook/a/{a2}", f"hook/a/{a3}"]
    assert lane_b == [f"hook/a/{b1}"] * 3 + [f"hook/a/{b2}"]
    # another integration's lane with the same session id is independent
    assert f"other/a/{c1}" in order


def test_wait_keeps_the_action_pending_without_an_attempt(outbox: Any) -> None:
    a1, a2 = outbox.add(session="A", n=2)
    (b1,) = outbox.add(session="B")
    ex = HandlerExecutor(lambda action, ctx: Outcome("wait", "waiting for a credential. set X")
                         if action.path == f"/a/{a1}" else Outcome("done", "ok"))
    report = outbox.drain({"http": ex})
    assert (outbox.row(a1)["status"], outbox.row(a1)["attempts"]) == ("pending", 0)
    assert "set X" in outbox.row(a1)["last_error"]
    assert outbox.row(a2)["status"] == "pending", "a later action never overtakes a waiting one"
    assert outbox.row(b1)["status"] == "done"
    assert report.waiting == 1
    # the waiting lane is tried once per drain, not in a loop
    assert [a.path for a in ex.seen].count(f"/a/{a1}") == 1


def test_missing_credential_raised_by_an_executor_waits(outbox: Any) -> None:
    (a,) = outbox.add()
    infos = {"hook": IntegrationInfo("hook", {"token_env": "MSP_TEST_UNSET_TOKEN"}, {})}

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        ctx.secret("token")
        return Outcome("done")

    outbox.drain({"http": HandlerExecutor(handler)}, integrations=infos)
    row = outbox.row(a)
    assert row["status"] == "pending" and row["attempts"] == 0
    assert "MSP_TEST_UNSET_TOKEN" in row["last_error"] and "export MSP_TEST_UNSET_TOKEN" in row["last_error"]


def test_follow_ups_go_right_after_their_parent(outbox: Any) -> None:
    p, later = outbox.add(session="A", n=2)
    order: list[str] = []

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        order.append(action.path)
        if action.path == f"/a/{p}":
            return Outcome("done", "ran", follow_ups=[
                HttpRequest(path="/follow/0", json_body={"i": 0}),
                {"kind": "http", "path": "/follow/1", "json": {"i": 1}},
            ])
        return Outcome("done", "ok")

    report = outbox.drain({"http": HandlerExecutor(handler)})
    assert order == [f"/a/{p}", "/follow/0", "/follow/1", f"/a/{later}"]
    assert report.follow_ups == 2
    rows = {r["id"]: r for r in outbox.rows()}
    children = [r for r in rows.values() if r["parent_id"] == p]
    assert len(children) == 2
    for child in children:
        assert child["integration"] == "hook" and child["session_id"] == "A" and child["status"] == "done"
        assert child["idempotency_key"] != rows[p]["idempotency_key"]
    # the keys derive from the parent's key and index: the same follow-ups are never inserted twice
    from msp._model.actions import idempotency_key

    assert {c["idempotency_key"] for c in children} == {
        idempotency_key(rows[p]["idempotency_key"], "hook", f"follow-up-{i}") for i in range(2)
    }


def test_an_invalid_follow_up_makes_the_parent_dead_with_a_reason(outbox: Any) -> None:
    (a,) = outbox.add()
    ex = HandlerExecutor(lambda action, ctx: Outcome("done", "ran", follow_ups=[{"not": "an action"}]))
    outbox.drain({"http": ex})
    row = outbox.row(a)
    assert row["status"] == "dead" and "invalid follow-up" in row["last_error"]


def test_a_missing_executor_leaves_its_actions_pending(outbox: Any) -> None:
    def file_payload(i: int) -> dict[str, Any]:
        return action_to_dict(stamp(FileWrite(path=f"n{i}.md", content="x"), "hook", f"file-{i}"))

    (f,) = outbox.add(session="F", kind="file", payload=file_payload)
    (h,) = outbox.add(session="H")
    report = outbox.drain(
        {"http": HandlerExecutor(lambda action, ctx: Outcome("done"))},
        executor_kinds={"file": ExecutorKind(FileWrite, lambda: importlib.import_module("msp_no_such_module"))},
        deadline_s=5,
    )
    assert outbox.row(h)["status"] == "done"
    row = outbox.row(f)
    assert row["status"] == "pending" and row["attempts"] == 0
    assert "no executor for 'file'" in row["last_error"] and "ModuleNotFoundError" in row["last_error"]
    assert report.stopped == "idle", "the drain ends instead of waiting for an executor that cannot load"


def test_actions_of_an_integration_not_enabled_wait_with_a_note(outbox: Any) -> None:
    (a,) = outbox.add(integration="gone")
    (b,) = outbox.add()
    report = outbox.drain({"http": HandlerExecutor(lambda action, ctx: Outcome("done"))})
    assert outbox.row(b)["status"] == "done"
    assert outbox.row(a)["status"] == "pending" and "not enabled" in outbox.row(a)["last_error"]
    assert report.notes


def test_held_actions_wait_for_approval(outbox: Any) -> None:
    from msp._store.interface import Outbox
    from msp._store.outbox_rules import now_ms

    (h,) = outbox.add(held=True)
    ex = HandlerExecutor(lambda action, ctx: Outcome("done"))
    outbox.drain({"http": ex})
    assert outbox.row(h)["status"] == "held" and not ex.seen
    with Outbox(outbox.store).write() as tx:
        assert tx.set_status([h], "approve", now_ms()) == [h]
    outbox.drain({"http": ex})
    assert outbox.row(h)["status"] == "done" and len(ex.seen) == 1


class _Gate(BaseExecutor):
    """Holds every call until ``expect`` calls are in flight at once (or 3 s pass)."""

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.now = 0
        self.peak = 0
        self.reached = asyncio.Event()

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= self.expect:
            self.reached.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.reached.wait(), 3)
        self.now -= 1
        return Outcome("done")


def test_per_integration_concurrency_is_a_ceiling(outbox: Any) -> None:
    for i in range(12):
        outbox.add(session=f"s{i}")
    gate = _Gate(3)
    infos = {"hook": IntegrationInfo("hook", {}, {"concurrency": 3})}
    outbox.drain({"http": gate}, integrations=infos)
    assert gate.peak == 3, f"in flight at once: {gate.peak}"
    assert all(r["status"] == "done" for r in outbox.rows())


def test_rate_per_second_spaces_the_calls(outbox: Any) -> None:
    for i in range(4):
        outbox.add(session=f"s{i}")
    stamps: list[float] = []

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        stamps.append(time.monotonic())
        return Outcome("done")

    infos = {"hook": IntegrationInfo("hook", {}, {"concurrency": 4, "rate_per_second": 10})}
    start = time.monotonic()
    outbox.drain({"http": HandlerExecutor(handler)}, integrations=infos)
    # The n-th call cannot start before its slot, n tenths of a second after the drain began.
    # (Gaps between neighbouring calls are not the measure: a busy machine may wake the first
    # call late and the second on time, which says nothing about the limiter.)
    assert len(stamps) == 4
    for n, called_at in enumerate(sorted(stamps)):
        assert called_at - start >= n * 0.1 - 1e-6, (n, called_at - start)


def test_retry_after_is_honoured(outbox: Any) -> None:
    (a,) = outbox.add()
    stamps: list[float] = []

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        stamps.append(time.monotonic())
        return Outcome("retry", "HTTP 429", retry_after_s=0.4, status_code=429) if len(stamps) == 1 \
            else Outcome("done")

    outbox.drain({"http": HandlerExecutor(handler)})
    assert outbox.row(a)["status"] == "done"
    assert stamps[1] - stamps[0] >= 0.39


def test_expired_leases_are_reclaimed_and_delivered(outbox: Any) -> None:
    a, b = outbox.add(session="A"), outbox.add(session="B")
    db = outbox.db
    db.execute("UPDATE actions SET status='in_flight', lease_owner='dead-host:1:x', lease_until_ms=1 WHERE id=?", a)
    db.execute("UPDATE actions SET status='in_flight', lease_owner='other:2:y', lease_until_ms=? WHERE id=?",
               (int(time.time() * 1000) + 600_000, b[0]))
    ex = HandlerExecutor(lambda action, ctx: Outcome("done"))
    # Without the one-drain lock only the expired lease is taken back...
    report = outbox.drain({"http": ex}, holds_lock=False, wait=False)
    assert report.reclaimed == 1 and outbox.row(a[0])["status"] == "done"
    assert outbox.row(a[0])["attempts"] == 2, "the unknown attempt counts"
    assert outbox.row(b[0])["status"] == "in_flight"
    # ...with it, no other drain can be alive, so every foreign lease is reclaimed.
    report = outbox.drain({"http": ex}, holds_lock=True)
    assert report.reclaimed == 1 and outbox.row(b[0])["status"] == "done"


def test_limit_attempts_at_most_n(outbox: Any) -> None:
    for i in range(5):
        outbox.add(session=f"s{i}")
    ex = HandlerExecutor(lambda action, ctx: Outcome("done"))
    report = outbox.drain({"http": ex}, limit=2)
    assert report.done == 2 and len(ex.seen) == 2
    assert sum(r["status"] == "pending" for r in outbox.rows()) == 3


def test_without_wait_a_drain_tries_each_lane_once(outbox: Any) -> None:
    (a,) = outbox.add()
    ex = HandlerExecutor(lambda action, ctx: Outcome("retry", "HTTP 500"))
    outbox.drain({"http": ex}, wait=False, backoff_base_s=0.0001, backoff_cap_s=0.0001)
    assert len(ex.seen) == 1 and outbox.row(a)["status"] == "pending"


def test_an_executor_bug_is_a_retry_not_a_crash(outbox: Any) -> None:
    (a,) = outbox.add()

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        raise KeyError("boom")

    outbox.drain({"http": HandlerExecutor(handler)}, max_attempts=2)
    row = outbox.row(a)
    assert row["status"] == "dead" and "executor error: KeyError" in row["last_error"]


def test_secrets_handed_to_an_executor_are_scrubbed_from_what_is_stored(outbox: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("MSP_TEST_TOKEN", "tok-9f8e7d6c5b4a")
    (a,) = outbox.add()
    infos = {"hook": IntegrationInfo("hook", {"token_env": "MSP_TEST_TOKEN"}, {})}

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        return Outcome("dead", f"HTTP 400: server echoed {ctx.secret('token')} and Bearer abcdefghijklmnop")

    outbox.drain({"http": HandlerExecutor(handler)}, integrations=infos)
    error = outbox.row(a)["last_error"]
    assert "tok-9f8e7d6c5b4a" not in error and "abcdefghijklmnop" not in error and "***" in error
    assert b"tok-9f8e7d6c5b4a" not in outbox.path.read_bytes()


class _Batch(BaseExecutor):
    """Batching executor: records the batches it is given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def execute_batch(self, actions: Sequence[Any], ctx: ExecutionContext) -> list[Outcome]:
        self.batches.append([a.path for a in actions])
        return [Outcome("done")] * len(actions)


def test_a_batching_executor_gets_consecutive_actions_of_a_lane(outbox: Any) -> None:
    ids = outbox.add(session="A", n=5)
    ex = _Batch()
    outbox.drain({"http": ex}, batch_size=3)
    assert [p for batch in ex.batches for p in batch] == [f"/a/{i}" for i in ids]
    assert max(len(b) for b in ex.batches) <= 3 and len(ex.batches) >= 2
