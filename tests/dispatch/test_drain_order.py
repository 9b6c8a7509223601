"""Order within a lane holds for every executor: a run stops at its first action that stays in
the lane (retry, wait) and right after an action with follow-ups, whether the executor takes
actions one at a time or in batches. Injectable executors over a real SQLite outbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from msp._executors import BaseExecutor, ExecutionContext, HandlerExecutor, Outcome
from msp._model.actions import HttpRequest


class _Batching(BaseExecutor):
    """A batching executor that decides every action it is handed, as a careless one would:
    it never stops early, so the dispatcher alone has to keep the lane's order."""

    def __init__(self, decide: Callable[[str], Outcome]) -> None:
        self.decide = decide
        self.seen: list[str] = []
        self.batches: list[list[str]] = []

    async def execute_batch(self, actions: Sequence[Any], ctx: ExecutionContext) -> list[Outcome]:
        paths = [str(a.path) for a in actions]
        self.batches.append(paths)
        self.seen += paths
        return [self.decide(p) for p in paths]


class _Raising(BaseExecutor):
    async def execute_batch(self, actions: Sequence[Any], ctx: ExecutionContext) -> list[Outcome]:
        raise ConnectionResetError("peer went away")


def test_a_batch_is_not_applied_past_a_retry(outbox: Any) -> None:
    a1, a2, a3, a4 = outbox.add(session="A", n=4)
    ex = _Batching(lambda p: Outcome("retry", "HTTP 503") if p == f"/a/{a2}" else Outcome("done", "ok"))
    report = outbox.drain({"http": ex}, wait=False, batch_size=10)
    assert ex.batches == [[f"/a/{i}" for i in (a1, a2, a3, a4)]]
    assert (outbox.row(a1)["status"], outbox.row(a1)["attempts"]) == ("done", 1)
    assert (outbox.row(a2)["status"], outbox.row(a2)["attempts"]) == ("pending", 1)
    for later in (a3, a4):  # back in the queue as they were: not delivered, no attempt counted
        row = outbox.row(later)
        assert (row["status"], row["attempts"], row["result"], row["last_error"]) == ("pending", 0, None, None)
    assert report.done == 1 and report.retried == 1 and report.released == 2


def test_a_batch_is_not_applied_past_a_wait(outbox: Any) -> None:
    a1, a2 = outbox.add(session="A", n=2)
    ex = _Batching(lambda p: Outcome("wait", "waiting for a credential") if p == f"/a/{a1}" else Outcome("done"))
    outbox.drain({"http": ex}, wait=False, batch_size=10)
    assert (outbox.row(a1)["status"], outbox.row(a1)["attempts"]) == ("pending", 0)
    assert (outbox.row(a2)["status"], outbox.row(a2)["attempts"]) == ("pending", 0)


def test_a_retried_head_of_a_batch_comes_before_the_rest_until_it_goes_through(outbox: Any) -> None:
    a1, a2, a3 = outbox.add(session="A", n=3)
    tries = {"n": 0}

    def decide(path: str) -> Outcome:
        if path == f"/a/{a1}":
            tries["n"] += 1
            if tries["n"] < 3:
                return Outcome("retry", "HTTP 503")
        return Outcome("done", "ok")

    ex = _Batching(decide)
    outbox.drain({"http": ex}, batch_size=10)
    assert [outbox.row(i)["status"] for i in (a1, a2, a3)] == ["done"] * 3
    assert (outbox.row(a1)["attempts"], outbox.row(a2)["attempts"], outbox.row(a3)["attempts"]) == (3, 1, 1)
    # every batch starts at the lane's head: a2 and a3 are only taken as delivered with a1 before them
    assert all(batch[0] == f"/a/{a1}" for batch in ex.batches[:3])


def test_an_executor_error_counts_one_attempt_for_the_head_only(outbox: Any) -> None:
    a1, a2, a3 = outbox.add(session="A", n=3)
    outbox.drain({"http": _Raising()}, wait=False, batch_size=10)
    head = outbox.row(a1)
    assert (head["status"], head["attempts"]) == ("pending", 1)
    assert "ConnectionResetError: peer went away" in head["last_error"]
    assert [(outbox.row(i)["status"], outbox.row(i)["attempts"]) for i in (a2, a3)] == [("pending", 0)] * 2


def test_a_dead_action_does_not_stop_a_batch(outbox: Any) -> None:
    # dead actions leave their lane, so outcomes after one are in order (the cypher executor
    # re-runs a failed transaction's other statements one by one and reports them)
    a1, a2, a3 = outbox.add(session="A", n=3)
    ex = _Batching(lambda p: Outcome("dead", "syntax error") if p == f"/a/{a2}" else Outcome("done", "ok"))
    outbox.drain({"http": ex}, wait=False, batch_size=10)
    assert [outbox.row(i)["status"] for i in (a1, a2, a3)] == ["done", "dead", "done"]
    assert len(ex.batches) == 1


def test_follow_ups_go_before_the_rest_of_a_batch(outbox: Any) -> None:
    p, later = outbox.add(session="A", n=2)

    def decide(path: str) -> Outcome:
        if path == f"/a/{p}":
            return Outcome("done", "ran", follow_ups=[HttpRequest(path="/follow/0", json_body={"i": 0})])
        return Outcome("done", "ok")

    ex = _Batching(decide)
    report = outbox.drain({"http": ex}, batch_size=10)
    assert all(r["status"] == "done" for r in outbox.rows()) and report.follow_ups == 1
    # the executor also went on to `later` in the first batch; that was not taken as delivered:
    # `later` is delivered (again) after the follow-up, and counted once
    assert ex.batches[0] == [f"/a/{p}", f"/a/{later}"]
    assert ex.batches[1:] == [["/follow/0", f"/a/{later}"]]
    assert outbox.row(later)["attempts"] == 1


def test_one_at_a_time_a_run_stops_at_a_failure_and_after_follow_ups(outbox: Any) -> None:
    a1, a2, a3 = outbox.add(session="A", n=3)
    (b1,) = outbox.add(session="B")
    order: list[str] = []

    def handler(action: Any, ctx: ExecutionContext) -> Outcome:
        order.append(str(action.path))
        if action.path == f"/a/{a1}":
            return Outcome("done", "ran", follow_ups=[HttpRequest(path="/follow/a1", json_body={})])
        if action.path == f"/a/{a2}":
            return Outcome("retry", "HTTP 502")
        return Outcome("done", "ok")

    outbox.drain({"http": HandlerExecutor(handler)}, wait=False, batch_size=10)
    lane_a = [p for p in order if p != f"/a/{b1}"]
    assert lane_a == [f"/a/{a1}", "/follow/a1", f"/a/{a2}"]  # a3 never runs past the failed a2
    assert (outbox.row(a3)["status"], outbox.row(a3)["attempts"]) == ("pending", 0)
    assert outbox.row(b1)["status"] == "done"  # another session's lane goes on
