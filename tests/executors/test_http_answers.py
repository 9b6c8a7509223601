"""How the http and graphql executors read an answer: status classes, Retry-After and
rate-limit reset headers, body excerpts. The dispatcher's policy re-exports the same functions."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from msp._dispatch import policy
from msp._executors.http_answers import (
    classify_status,
    excerpt,
    parse_retry_after,
    rate_limited,
    retry_delay_from_headers,
)

NOW = 1_800_000_000.0


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


def test_excerpt_keeps_the_start_of_the_body() -> None:
    assert excerpt(b'{"error":  "x"}\n') == '{"error": "x"}'
    long = excerpt("a" * 2000)
    assert len(long) == 500 and long.endswith("…")


def test_the_dispatcher_policy_reads_answers_the_same_way() -> None:
    assert policy.classify_status is classify_status
    assert policy.retry_delay_from_headers is retry_delay_from_headers
