"""The delivery policy on its own: backoff, status classes, Retry-After and reset headers."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from msp._dispatch.policy import (
    Limits,
    after_failure,
    backoff_s,
    classify_status,
    excerpt,
    parse_retry_after,
    rate_limited,
    retry_delay_from_headers,
)

NOW = 1_800_000_000.0
LIMITS = Limits(max_attempts=4, max_age_ms=3_600_000, backoff_base_s=1.0, backoff_cap_s=10.0)


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (40, 10.0), (200, 10.0)]:
        draws = [backoff_s(attempt, 1.0, 10.0, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # full jitter spreads over the whole range, not just near the ceiling
        assert min(draws) < ceiling * 0.2 and max(draws) > ceiling * 0.8


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, "done"), (201, "done"), (204, "done"), (408, "retry"), (425, "retry"), (429, "retry"),
     (500, "retry"), (502, "retry"), (503, "retry"), (599, "retry"), (400, "dead"), (401, "dead"),
     (403, "dead"), (404, "dead"), (409, "dead"), (422, "dead"), (301, "dead")],
)
def test_status_classes(status: int, verdict: str) -> None:
    assert classify_status(status) == verdict


def test_expected_statuses_replace_any_2xx() -> None:
    assert classify_status(202, [202]) == "done"
    assert classify_status(200, [202]) == "dead"
    assert classify_status(503, [202]) == "retry"


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 0 ", NOW) == 0.0
    when = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(90.0, abs=1.0)
    past = datetime.fromtimestamp(NOW - 90, UTC)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_rate_limit_reset_headers() -> None:
    # Linear: epoch milliseconds
    assert retry_delay_from_headers({"X-RateLimit-Requests-Reset": str(int((NOW + 30) * 1000))}, NOW) == \
        pytest.approx(30.0, abs=0.01)
    # GitHub: epoch seconds
    assert retry_delay_from_headers({"x-ratelimit-reset": str(int(NOW + 12))}, NOW) == pytest.approx(12.0)
    # IETF draft: seconds to wait
    assert retry_delay_from_headers({"RateLimit-Reset": "7"}, NOW) == 7.0
    # Retry-After wins over reset headers
    assert retry_delay_from_headers({"Retry-After": "3", "RateLimit-Reset": "7"}, NOW) == 3.0
    assert retry_delay_from_headers({"Content-Type": "text/plain"}, NOW) is None


def test_a_spent_quota_403_is_rate_limited() -> None:
    assert rate_limited(429, {})
    assert rate_limited(403, {"X-RateLimit-Remaining": "0"})
    assert not rate_limited(403, {"X-RateLimit-Remaining": "12"})
    assert not rate_limited(403, {})


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


def test_excerpt_keeps_the_start_of_the_body() -> None:
    assert excerpt(b'{"error":  "x"}\n') == '{"error": "x"}'
    long = excerpt("a" * 2000)
    assert len(long) == 500 and long.endswith("…")


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
