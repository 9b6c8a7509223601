"""The delivery policy on its own: backoff, retry or give up. (How an HTTP answer is read is
tested with the executors, in tests/executors/test_http_answers.py.)"""

from __future__ import annotations

import random

from msp._dispatch.policy import Limits, after_failure, backoff_s

LIMITS = Limits(max_attempts=4, max_age_ms=3_600_000, backoff_base_s=1.0, backoff_cap_s=10.0)


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (40, 10.0), (200, 10.0)]:
        draws = [backoff_s(attempt, 1.0, 10.0, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # full jitter spreads over the whole range, not just near the ceiling
        assert min(draws) < ceiling * 0.2 and max(draws) > ceiling * 0.8


def test_after_failure_retries_then_gives_up() -> None:
    now = 10_000_000
    move = after_failure(retryable=True, summary="HTTP 503", attempts_before=0, window_start_ms=now,
                         now_ms=now, limits=LIMITS, rng=random.Random(1))
    assert move.status == "pending" and move.attempts == 1
    assert now <= move.next_attempt_ms <= now + 1000
    last = after_failure(retryable=True, summary="HTTP 503", attempts_before=3, window_start_ms=now,
                         now_ms=now, limits=LIMITS)
    assert last.status == "dead" and last.attempts == 4
    assert last.error is not None and "gave up after 4 attempt(s)" in last.error and "HTTP 503" in last.error


def test_after_failure_honours_retry_after_beyond_the_cap() -> None:
    now = 10_000_000
    move = after_failure(retryable=True, summary="429", attempts_before=0, window_start_ms=now, now_ms=now,
                         limits=LIMITS, retry_after_s=42.0)
    assert move.next_attempt_ms == now + 42_000


def test_after_failure_max_age_and_dead_at_once() -> None:
    now = 10_000_000
    old = after_failure(retryable=True, summary="timeout", attempts_before=1, window_start_ms=now - 3_600_001,
                        now_ms=now, limits=LIMITS)
    assert old.status == "dead" and old.error is not None and "still failing after 1 h" in old.error
    dead = after_failure(retryable=False, summary="HTTP 400: bad", attempts_before=0, window_start_ms=now,
                         now_ms=now, limits=LIMITS)
    assert dead.status == "dead" and dead.attempts == 1 and dead.error == "HTTP 400: bad"


def test_an_offline_failure_is_bounded_by_age_not_attempts() -> None:
    """The hook issue 12 uses for connection-level failures: attempts alone never kill it."""
    now = 1_000_000_000
    many = after_failure(retryable=True, summary="connection refused", attempts_before=40, window_start_ms=now,
                         now_ms=now, limits=LIMITS, rng=random.Random(1), offline=True)
    assert many.status == "pending" and many.attempts == 41
    old = after_failure(retryable=True, summary="connection refused", attempts_before=40,
                        window_start_ms=now - 3_600_000, now_ms=now, limits=LIMITS, offline=True)
    assert old.status == "dead" and "still failing after 1 h" in (old.error or "")


def test_an_action_handed_back_uses_an_attempt_unless_it_never_started() -> None:
    from msp._store.outbox_rules import counts_attempt

    assert counts_attempt(True) and counts_attempt(None)  # started, or unknown (a reclaimed lease)
    assert not counts_attempt(False)
