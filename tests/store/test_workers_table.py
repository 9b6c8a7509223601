"""Conformance: the workers table (heartbeats) and the waker a worker sleeps on, on each backend."""

from __future__ import annotations

import asyncio
import threading
import time

from msp._store.worker_records import WorkerRow
from tests.store.backends import Backend, planned


def _row(worker_id: str, beat: int, **extra: object) -> WorkerRow:
    return WorkerRow(id=worker_id, host="box", pid=42, started_ms=1_000, last_beat_ms=beat, **extra)  # type: ignore[arg-type]


def test_heartbeats_insert_then_update_one_row_per_worker(backend: Backend) -> None:
    store = backend.open(backend.spec())
    try:
        with store.write() as tx:
            tx.outbox.beat(_row("box:42:a", 2_000, integrations=["webhook", "linear"]))
            tx.outbox.beat(_row("box:43:b", 3_000))
        with store.write() as tx:
            tx.outbox.beat(_row("box:42:a", 5_000, integrations=["linear", "webhook"], delivered=7))
        with store.read() as tx:
            seen = tx.outbox.workers()
            recent = tx.outbox.workers(seen_since_ms=4_000)
        assert [(w.id, w.last_beat_ms, w.delivered, w.integrations) for w in seen] == [
            ("box:42:a", 5_000, 7, ["linear", "webhook"]),  # latest first, integrations sorted
            ("box:43:b", 3_000, 0, []),
        ]
        assert [w.id for w in recent] == ["box:42:a"]
        assert seen[0].started_ms == 1_000 and seen[0].host == "box" and seen[0].pid == 42
        with store.write() as tx:
            tx.outbox.beat(_row("box:42:a", 6_000, delivered=9, stopped_ms=6_000))
        with store.read() as tx:
            stopped = tx.outbox.workers(seen_since_ms=6_000)
        assert [(w.id, w.stopped_ms, w.delivered) for w in stopped] == [("box:42:a", 6_000, 9)]
    finally:
        store.close()


def test_the_waker_wakes_when_actions_are_queued_and_times_out_otherwise(backend: Backend) -> None:
    spec = backend.spec()
    store = backend.open(spec)
    writer = backend.open(spec)

    async def scenario() -> tuple[set[str] | None, set[str] | None, set[str]]:
        waker = store.waker()
        await waker.start()
        try:
            quiet = await waker.wait(0.3)

            def queue() -> None:
                time.sleep(0.2)
                with writer.write() as tx:
                    tx.add_actions([planned("k1", integration="hook")])

            thread = threading.Thread(target=queue)
            thread.start()
            woken = await waker.wait(60.0)  # returns as soon as the commit is seen
            thread.join()
            await asyncio.sleep(0.3)
            return quiet, woken, waker.take()
        finally:
            await waker.aclose()

    try:
        quiet, woken, later = asyncio.run(scenario())
    finally:
        writer.close()
        store.close()
    assert quiet is None, "nothing was queued: the wait times out"
    assert woken is not None, "the commit woke it"
    if store.waker().notified:
        assert woken == {"hook"}, "a notification names the integration"
    else:
        assert woken == set(), "a poll of the file cannot tell which integration"
    assert later == set()


def test_an_action_retried_by_hand_wakes_the_waker(backend: Backend) -> None:
    """`msp queue retry` / `approve` make an action due now: sleeping workers are told as when
    it was queued (PostgreSQL: a NOTIFY naming the integration; SQLite: the commit is seen)."""
    spec = backend.spec()
    store = backend.open(spec)
    writer = backend.open(spec)
    with writer.write() as tx:
        tx.add_actions([planned("k1", integration="hook")])
    with writer.read() as tx:
        (action_id,) = tx.outbox.ids_with_status("pending")
    with writer.write() as tx:
        assert tx.outbox.set_status([action_id], "drop", 1) == [action_id]

    async def scenario() -> tuple[set[str] | None, set[str] | None]:
        waker = store.waker()
        await waker.start()
        try:
            quiet = await waker.wait(0.3)

            def retry() -> None:
                time.sleep(0.2)
                with writer.write() as tx:
                    assert tx.outbox.set_status([action_id], "retry", 2) == [action_id]

            thread = threading.Thread(target=retry)
            thread.start()
            woken = await waker.wait(60.0)
            thread.join()
            return quiet, woken
        finally:
            await waker.aclose()

    try:
        quiet, woken = asyncio.run(scenario())
        notified = store.waker().notified
    finally:
        writer.close()
        store.close()
    assert quiet is None
    assert woken == ({"hook"} if notified else set()), "the retry woke it"
