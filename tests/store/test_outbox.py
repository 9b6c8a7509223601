"""The store contract for the outbox, on every backend: lane order, leases, outcomes, manual
operations, listing, and claims that never hand one action out twice.

Times are plain integers (milliseconds) passed in, so nothing here waits on a clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from msp._store.interface import STATUSES, ActionRow, FollowUp, Store, Update
from msp._store.outbox_rules import QUEUE_OPS, RECLAIMED_NOTE, now_ms
from msp.errors import ActionNotFound, InvalidInput
from tests.store.backends import Backend, planned

#: "Now" for the tests: an hour ahead of the clock, so every action added during a test is due.
T = now_ms() + 3_600_000
LEASE = T + 60_000


@pytest.fixture
def box(backend: Backend) -> Iterator[Store]:
    store = backend.open(backend.spec("outbox"))
    yield store
    store.close()


def _add(store: Store, *keys: str, **kw: object) -> list[int]:
    with store.write() as tx:
        tx.outbox.add_actions([planned(k, **kw) for k in keys])  # type: ignore[arg-type]
        return [a.id for a in tx.outbox.by_keys(keys)]


def _claim(store: Store, integration: str = "hook", lanes: int = 10, now: int = T, owner: str = "me",
           **kw: object) -> list[list[ActionRow]]:
    with store.write() as tx:
        return tx.outbox.claim(integration, owner, now, LEASE, lanes, **kw)  # type: ignore[arg-type]


def _keys(runs: list[list[ActionRow]]) -> list[list[str]]:
    return [[a.idempotency_key for a in run] for run in runs]


def _apply(store: Store, *updates: Update, parents: dict[int, ActionRow] | None = None, now: int = T) -> None:
    with store.write() as tx:
        tx.outbox.apply(updates, now, parents)


def _get(store: Store, ref: str | int) -> ActionRow:
    with store.read() as tx:
        return tx.outbox.get(ref)


# --- adding ------------------------------------------------------------------------------


def test_adding_the_same_key_again_changes_nothing(box: Store) -> None:
    with box.write() as tx:
        assert tx.outbox.add_actions([planned("k1"), planned("k2")]) == 2
        assert tx.outbox.add_actions([planned("k1", payload={"other": 1}), planned("k3")]) == 1
        assert tx.add_actions([planned("k2")]) == 0  # the writer's own entry point: the same rule
    with box.read() as tx:
        rows = tx.outbox.by_keys(["k1", "k2", "k3"])
    assert [r.idempotency_key for r in rows] == ["k1", "k2", "k3"]
    assert rows[0].payload == {"key": "k1"}
    assert all(r.status == "pending" and r.attempts == 0 and r.lease_owner is None for r in rows)
    # Not even a dropped action comes back when its event is planned again.
    with box.write() as tx:
        assert tx.outbox.set_status([rows[0].id], "drop", T) == [rows[0].id]
        assert tx.outbox.add_actions([planned("k1")]) == 0
    assert _get(box, rows[0].id).status == "dropped"


def test_held_actions_wait_for_approval(box: Store) -> None:
    held, free = _add(box, "h1", held=True)[0], _add(box, "f1", session="s2")[0]
    assert _get(box, held).status == "held"
    assert _keys(_claim(box)) == [["f1"]]
    with box.write() as tx:
        assert tx.outbox.set_status([held, free], "approve", T) == [held]  # free is not held
    assert _keys(_claim(box)) == [["h1"]]


# --- order per lane ------------------------------------------------------------------------


def test_only_the_head_of_each_lane_is_claimed(box: Store) -> None:
    _add(box, "a1", "a2", "a3", session="A")
    _add(box, "b1", session="B")
    _add(box, "n1", session=None)
    _add(box, "o1", integration="other", session="A")  # another integration is another lane
    assert _keys(_claim(box)) == [["a1"], ["b1"], ["n1"]]
    # Earlier actions in flight block their lanes.
    assert _claim(box) == []
    assert _keys(_claim(box, "other")) == [["o1"]]


def test_a_lane_goes_on_only_after_its_head_is_done(box: Store) -> None:
    a1, _a2 = _add(box, "a1", "a2", session="A")
    (run,) = _claim(box)
    assert run[0].status == "in_flight" and run[0].lease_owner == "me" and run[0].lease_until_ms == LEASE
    _apply(box, Update(a1, "done", attempts=1, result="HTTP 200", status_code=200))
    row = _get(box, a1)
    assert (row.status, row.attempts, row.result, row.last_status, row.lease_owner) == (
        "done", 1, "HTTP 200", 200, None)
    assert _keys(_claim(box)) == [["a2"]]


def test_a_head_waiting_for_a_retry_blocks_its_lane(box: Store) -> None:
    a1, _ = _add(box, "a1", "a2", session="A")
    _add(box, "b1", session="B")
    _claim(box, lanes=1)
    _apply(box, Update(a1, "pending", attempts=1, next_attempt_ms=T + 5_000, error="HTTP 503"))
    assert _keys(_claim(box)) == [["b1"]]
    with box.read() as tx:
        assert tx.outbox.next_due_ms() == T + 5_000
        # A hint of where to look, heads or not: a2 is due though its lane is blocked.
        assert tx.outbox.integrations_due(T) == ["hook"]
        assert tx.outbox.integrations_due(T - 7_200_000) == []
    assert _keys(_claim(box, now=T + 5_000)) == [["a1"]]
    row = _get(box, a1)
    assert row.attempts == 1 and row.last_error == "HTTP 503"


@pytest.mark.parametrize("status", ["held", "dead", "done", "dropped"])
def test_held_dead_done_and_dropped_actions_do_not_block_their_lane(box: Store, status: str) -> None:
    first = _add(box, "a1", session="A", held=status == "held")[0]
    _add(box, "a2", session="A")
    if status != "held":
        _claim(box, lanes=1)
        if status == "dropped":
            _apply(box, Update(first, "released", keep_error=True))
            with box.write() as tx:
                tx.outbox.set_status([first], "drop", T)
        else:
            _apply(box, Update(first, status, attempts=1))  # type: ignore[arg-type]
    assert _get(box, first).status == status
    assert _keys(_claim(box)) == [["a2"]]


def test_a_run_is_the_head_and_the_due_actions_of_its_kind_after_it(box: Store) -> None:
    _add(box, "a1", "a2", "a3", session="A")
    _add(box, "a4", session="A", kind="file")
    _add(box, "a5", session="A")
    _add(box, "b1", "b2", session="B")
    assert _keys(_claim(box, run_max=2)) == [["a1", "a2"], ["b1", "b2"]]


def test_claim_limits_lanes_and_skips_sessions_and_kinds(box: Store) -> None:
    _add(box, "a1", session="A")
    _add(box, "b1", session="B")
    _add(box, "c1", session="C", kind="cypher")
    assert _keys(_claim(box, lanes=1)) == [["a1"]]
    assert _keys(_claim(box, skip_lanes={"B"}, skip_kinds={"cypher"})) == []
    assert _keys(_claim(box, skip_kinds={"cypher"})) == [["b1"]]
    assert _claim(box, lanes=0) == []
    assert _keys(_claim(box)) == [["c1"]]


def test_follow_ups_go_right_after_their_parent(box: Store) -> None:
    p1, _p2 = _add(box, "p1", "p2", session="A")
    ((parent,),) = _claim(box, lanes=1)
    follow = [FollowUp("p1-f0", "http", {"n": 0}), FollowUp("p1-f1", "http", {"n": 1}, held=True),
              FollowUp("p1-f2", "file", {"n": 2})]
    update = Update(p1, "done", attempts=1, result="ok", follow_ups=follow)
    _apply(box, update, parents={p1: parent})
    _apply(box, update, parents={p1: parent})  # written twice (a retried flush): inserted once
    with box.read() as tx:
        rows = tx.outbox.by_keys(["p1-f0", "p1-f1", "p1-f2"])
        counts = tx.outbox.counts()
    assert [(r.status, r.parent_id, r.session_id, r.integration, r.event_id) for r in rows] == [
        ("pending", p1, "A", "hook", "e1"), ("held", p1, "A", "hook", "e1"), ("pending", p1, "A", "hook", "e1")]
    assert counts == {"done": 1, "pending": 3, "held": 1}
    assert [r.payload for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
    # Lane order: f0, (f1 held: skipped, not blocking), f2, then p2.
    for expected in ("p1-f0", "p1-f2", "p2"):
        ((row,),) = _claim(box)
        assert row.idempotency_key == expected
        _apply(box, Update(row.id, "done", attempts=1))
    with pytest.raises(ValueError):
        _apply(box, Update(p1, "done", follow_ups=[FollowUp("orphan", "http", {})]))


# --- leases ----------------------------------------------------------------------------------


def test_expired_leases_are_reclaimed_with_the_attempt_counted(box: Store) -> None:
    (first,) = _add(box, "a1", session="A")
    (second,) = _add(box, "b1", session="B")
    with box.write() as tx:
        (gone,) = tx.outbox.claim("hook", "gone", T, T + 1_000, 1)
        tx.outbox.claim("hook", "alive", T, T + 60_000, 1)
        tx.outbox.mark_started([gone[0].id], "gone", T)  # its request went out: outcome unknown
    with box.write() as tx:
        assert tx.outbox.reclaim("me", T + 500) == 0  # nothing expired yet
        assert tx.outbox.reclaim("me", T + 1_001) == 1
    a1, b1 = _get(box, first), _get(box, second)
    assert (a1.status, a1.attempts, a1.lease_owner, a1.lease_until_ms, a1.last_error) == (
        "pending", 1, None, None, RECLAIMED_NOTE)
    assert a1.next_attempt_ms == T + 1_001
    assert b1.status == "in_flight" and b1.lease_owner == "alive"
    # Holding the one-drain lock, every other owner's lease is reclaimed; one's own is kept.
    _claim(box, owner="me", now=T + 1_001)
    with box.write() as tx:
        assert tx.outbox.reclaim("me", T + 2_000, other_owners=True) == 1
    assert _get(box, b1.id).status == "pending" and _get(box, a1.id).status == "in_flight"


def test_a_reclaimed_action_never_started_comes_back_exactly_as_claimed(box: Store) -> None:
    """Issue 12, point 2: an attempt counts only when a request was started. A drain that died
    holding a run of three, having started only the first, costs the other two nothing."""
    ids = _add(box, "a1", "a2", "a3", session="A")
    # a1 failed once before (a 500, retry due at T); a2 and a3 were never tried.
    _claim(box, run_max=1)
    _apply(box, Update(ids[0], "pending", attempts=1, next_attempt_ms=T, error="HTTP 500: boom", status_code=500))
    before = [_get(box, i) for i in ids]
    ((head, *rest),) = _claim(box, owner="gone", run_max=3, now=T)
    assert [a.id for a in (head, *rest)] == ids
    with box.write() as tx:
        tx.outbox.mark_started([head.id], "gone", T)
        tx.outbox.mark_started([rest[0].id], "someone-else", T)  # not its lease: ignored
    with box.write() as tx:
        assert tx.outbox.reclaim("me", T + 5, other_owners=True) == 3
    after = [_get(box, i) for i in ids]
    assert (after[0].attempts, after[0].last_error, after[0].next_attempt_ms) == (2, RECLAIMED_NOTE, T + 5)
    for old, new in zip(before[1:], after[1:], strict=True):
        assert (new.status, new.attempts, new.last_error, new.next_attempt_ms, new.started_ms) == (
            "pending", old.attempts, old.last_error, old.next_attempt_ms, None)
        assert new.attempts == 0


def test_an_outcome_clears_the_started_mark(box: Store) -> None:
    (a,) = _add(box, "a1")
    ((row,),) = _claim(box, owner="d1")
    with box.write() as tx:
        tx.outbox.mark_started([row.id], "d1", T)
    assert _get(box, a).started_ms == T
    _apply(box, Update(a, "pending", attempts=1, next_attempt_ms=T, error="HTTP 503"))
    assert _get(box, a).started_ms is None
    _claim(box, owner="d2")  # claimed again, never sent, then its drain dies
    with box.write() as tx:
        assert tx.outbox.reclaim("me", T, other_owners=True) == 1
    back = _get(box, a)
    assert (back.attempts, back.last_error) == (1, "HTTP 503")


def test_offline_attempts_are_kept_and_reset_by_a_manual_retry(box: Store) -> None:
    (a,) = _add(box, "a1")
    _claim(box)
    _apply(box, Update(a, "pending", attempts=3, next_attempt_ms=T, error="cannot connect", offline_attempts=3))
    assert (_get(box, a).attempts, _get(box, a).offline_attempts) == (3, 3)
    _claim(box)
    _apply(box, Update(a, "dead", attempts=4, error="HTTP 400"))
    assert _get(box, a).offline_attempts == 3, "an update that does not say leaves it"
    with box.write() as tx:
        assert tx.outbox.set_status([a], "retry", T) == [a]
    assert (_get(box, a).attempts, _get(box, a).offline_attempts) == (0, 0)


def test_a_renewed_lease_is_not_reclaimed(box: Store) -> None:
    (a,) = _add(box, "a1")
    with box.write() as tx:
        tx.outbox.claim("hook", "me", T, T + 1_000, 1)
        tx.outbox.renew("me", T + 10_000)
        tx.outbox.renew("someone-else", T + 99_000)
    assert _get(box, a).lease_until_ms == T + 10_000
    with box.write() as tx:
        assert tx.outbox.reclaim("other", T + 5_000) == 0
        assert tx.outbox.next_due_ms() == T + 10_000  # an in-flight head is due when its lease ends


def test_released_actions_keep_or_replace_their_error(box: Store) -> None:
    a, b = _add(box, "a1", session="A")[0], _add(box, "b1", session="B")[0]
    _claim(box)
    _apply(box, Update(a, "pending", attempts=1, next_attempt_ms=T, error="first failure"))
    _claim(box)
    _apply(box, Update(a, "released", keep_error=True), Update(b, "released", error="no executor for 'http'"))
    ra, rb = _get(box, a), _get(box, b)
    assert (ra.status, ra.attempts, ra.last_error) == ("pending", 1, "first failure")
    assert (rb.status, rb.attempts, rb.last_error, rb.lease_owner) == ("pending", 0, "no executor for 'http'", None)


def test_a_dead_outcome_keeps_its_reason(box: Store) -> None:
    (a,) = _add(box, "a1")
    _claim(box)
    _apply(box, Update(a, "dead", attempts=3, error="HTTP 400: bad", status_code=400))
    row = _get(box, a)
    assert (row.status, row.attempts, row.last_error, row.last_status) == ("dead", 3, "HTTP 400: bad", 400)


def test_waiting_leaves_attempts_alone(box: Store) -> None:
    (a,) = _add(box, "a1")
    _claim(box)
    _apply(box, Update(a, "pending", error="waiting for a credential"))
    row = _get(box, a)
    assert (row.status, row.attempts, row.last_error, row.next_attempt_ms) == (
        "pending", 0, "waiting for a credential", row.created_ms)


# --- the queue commands ----------------------------------------------------------------------


def test_manual_operations_follow_the_rules(box: Store) -> None:
    dead, done, pending, held, flying = (_add(box, k, session=k)[0] for k in ("d", "o", "p", "h", "f"))
    with box.write() as tx:
        tx.outbox.claim("hook", "me", T, LEASE, 10)
        tx.outbox.apply([Update(dead, "dead", attempts=4, error="gave up"), Update(done, "done", attempts=1),
                         Update(pending, "released", keep_error=True), Update(held, "released", keep_error=True)], T)
        assert tx.outbox.set_status([held], "hold", T) == [held]
    everything = [dead, done, pending, held, flying]
    with box.write() as tx:
        assert tx.outbox.set_status(everything, "retry", T + 1) == [dead, pending]
    row = _get(box, dead)
    assert (row.status, row.attempts, row.window_ms, row.next_attempt_ms) == ("pending", 0, T + 1, T + 1)
    with box.write() as tx:
        assert tx.outbox.set_status(everything, "drop", T + 2) == [dead, pending, held]
        assert tx.outbox.set_status(everything, "rerun", T + 3) == [dead, done, pending, held]
        assert tx.outbox.set_status([], "retry", T) == []
    assert _get(box, flying).status == "in_flight"  # no manual operation touches a leased action
    assert _get(box, done).status == "pending" and _get(box, done).attempts == 0
    assert all("in_flight" not in rule.sources for rule in QUEUE_OPS.values())


def test_counts_listing_and_lookups(box: Store) -> None:
    ids = _add(box, "key-aaaaaa-1", "key-aaaaaa-2", "key-bbbbbb-1")
    other = _add(box, "key-cccccc-1", integration="other", held=True)
    with box.write() as tx:
        tx.outbox.note_error(ids[:1], "integration 'hook' is not enabled", T)
    with box.read() as tx:
        ob = tx.outbox
        assert ob.counts() == {"pending": 3, "held": 1}
        assert ob.counts_by_integration() == {"hook": {"pending": 3}, "other": {"held": 1}}
        assert ob.pending_due(T) == 3 and ob.pending_due(T, "other") == 0
        assert ob.pending_due(T, created_since=T + 3_600_000) == 0
        assert [a.id for a in ob.select(("pending",))] == ids
        assert [a.id for a in ob.select(STATUSES, limit=2)] == ids[:2]
        assert [a.id for a in ob.select(STATUSES, "other")] == other
        assert ob.ids_with_status("held") == other and ob.ids_with_status("held", "hook") == []
        assert ob.pending_ids_of("hook") == ids and ob.pending_ids_of("hook", limit=1) == ids[:1]
        assert ob.get(ids[0]).last_error == "integration 'hook' is not enabled"
        assert ob.get(f"#{ids[1]}").idempotency_key == "key-aaaaaa-2"
        assert ob.get("key-bbbbbb").id == ids[2]
        assert ob.integrations_due(T) == ["hook"]
        with pytest.raises(InvalidInput, match="more than one"):
            ob.get("key-aaaaaa")
        for missing in ("999999", "key-zzzzzz", "key-%%%%%%", "abc"):
            with pytest.raises(ActionNotFound):
                ob.get(missing)


def test_next_due_skips_what_this_drain_cannot_deliver(box: Store) -> None:
    a1 = _add(box, "a1", session="A")[0]
    (c1,) = _add(box, "c1", session="C", kind="cypher")
    _add(box, "o1", integration="other", session="A")
    _claim(box, lanes=1)
    _apply(box, Update(a1, "pending", attempts=1, next_attempt_ms=T + 9_000))
    with box.read() as tx:
        ob = tx.outbox
        created = ob.get(c1).next_attempt_ms
        assert ob.next_due_ms() == created
        assert ob.next_due_ms("hook", skip_kinds={"cypher"}) == T + 9_000
        assert ob.next_due_ms(skip_integrations={"other"}, skip_kinds={"cypher"}) == T + 9_000
        assert ob.next_due_ms(skip_lanes={("hook", "A"), ("other", "A")}, skip_kinds={"cypher"}) is None


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_claimers_never_take_one_action_twice(backend: Backend) -> None:
    """Four store connections claim and finish at once until nothing is left: every action is
    claimed exactly once, and each lane's actions in order."""
    spec = backend.spec("claims")
    setup = backend.open(spec)
    for lane in range(8):
        _add(setup, *(f"l{lane}-{i:03d}" for i in range(25)), session=f"lane-{lane}")
    setup.close()
    claimed: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        store = backend.open(spec)
        try:
            idle = 0
            while idle < 3:
                now = now_ms()
                with store.write() as tx:
                    runs = tx.outbox.claim("hook", f"w{n}", now, now + 60_000, 2, run_max=3)
                if not runs:
                    idle += 1
                    continue
                idle = 0
                with lock:
                    claimed.extend((a.idempotency_key, f"w{n}") for run in runs for a in run)
                with store.write() as tx:
                    tx.outbox.apply([Update(a.id, "done", attempts=1) for run in runs for a in run], now)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    keys = [k for k, _ in claimed]
    assert Counter(keys).most_common(1)[0][1] == 1
    assert len(keys) == 200
    for lane in range(8):
        mine = [k for k in keys if k.startswith(f"l{lane}-")]
        assert mine == sorted(mine)
    check = backend.open(spec)
    try:
        with check.read() as tx:
            assert tx.outbox.counts() == {"done": 200}
    finally:
        check.close()


def test_counts_by_integration_of_one_session(box: Store) -> None:
    _add(box, "key-s1-1", "key-s1-2")
    _add(box, "key-s1-3", integration="other", held=True)
    _add(box, "key-s2-1", session="s2")
    _add(box, "key-none-1", session=None)
    with box.read() as tx:
        assert tx.outbox.counts_by_integration("s1") == {"hook": {"pending": 2}, "other": {"held": 1}}
        assert tx.outbox.counts_by_integration("s2") == {"hook": {"pending": 1}}
        assert tx.outbox.counts_by_integration("s3") == {}
        assert tx.outbox.counts_by_integration() == {"hook": {"pending": 4}, "other": {"held": 1}}
