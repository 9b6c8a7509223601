"""Whatever a server sends as a delay, the policy schedules a finite next attempt within its cap
(issue 12, point 1).

Hypothesis drives the whole path a delay takes: header or GraphQL-extension text and numbers,
through :mod:`msp._executors.http_answers` (and the executors' ``server_delay``), into
:func:`msp._store.outbox_rules.after_failure`, and asserts ``now <= next_attempt <= now + cap``
with a next attempt that fits a 64-bit integer column.
"""

from __future__ import annotations

import math
import random
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from msp._executors import ExecutionContext
from msp._executors.http import graphql_outcome, http_outcome, server_delay
from msp._executors.http_answers import (
    RESET_HEADERS,
    delay_from_extensions,
    parse_retry_after,
    read_retry_delay,
    reset_delay,
)
from msp._store.outbox_rules import MAX_DELAY_S, Limits, after_failure, backoff_s, clamp_delay_s, delay_cap_s

NOW_S = 1_750_000_000.0
NOW_MS = int(NOW_S * 1000)
INT64 = 2**63 - 1

#: Text a hostile or broken server might put where a delay belongs.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["inf", "-inf", "Infinity", "nan", "NaN", "1e16", "1e308", "1e309", "-1", "-0", "0x10",
                     "1_000", " 12 ", "", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
                     "Mon, 32 Foo 2024 99:99:99 GMT", "\x00", "1.5", "120", "٣", "1e-400"]),
    st.text(max_size=80),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
#: JSON values a GraphQL error's extensions might carry.
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
              st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)
LIMITS = st.builds(
    Limits,
    max_attempts=st.integers(min_value=1, max_value=50),
    max_age_ms=st.integers(min_value=1, max_value=10 * 365 * 86_400_000),
    backoff_base_s=st.floats(min_value=1e-3, max_value=1e6),
    backoff_cap_s=st.one_of(st.floats(min_value=1e-3, max_value=1e9), st.just(math.inf)),
)


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, level: str, event: str, **fields: Any) -> None:
        self.lines.append(f"{level} {event} {fields}")


@pytest.fixture
def caplog_lines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the http executors log, line by line."""
    import msp._executors.http as http

    recorder = _Recorder()
    monkeypatch.setattr(http, "get_log", lambda: recorder)
    return recorder.lines


def _check_next(limits: Limits, retry_after: float | None, attempts_before: int, offline: bool) -> None:
    move = after_failure(retryable=True, summary="HTTP 429", attempts_before=attempts_before,
                         window_start_ms=NOW_MS, now_ms=NOW_MS, limits=limits, retry_after_s=retry_after,
                         rng=random.Random(attempts_before), offline=offline)
    assert isinstance(move.next_attempt_ms, int)
    if move.status == "dead":
        assert move.next_attempt_ms == NOW_MS
        return
    cap_ms = delay_cap_s(limits) * 1000
    assert math.isfinite(cap_ms) and cap_ms <= MAX_DELAY_S * 1000
    assert NOW_MS <= move.next_attempt_ms <= NOW_MS + cap_ms + 1
    assert move.next_attempt_ms < INT64


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE_TEXT, header=st.sampled_from(["Retry-After", *RESET_HEADERS]), limits=LIMITS,
       attempts_before=st.integers(min_value=0, max_value=10_000), offline=st.booleans())
@example(value="inf", header="Retry-After", limits=Limits(8, 72 * 3_600_000, 1.0, 300.0), attempts_before=0,
         offline=False)
@example(value="1e16", header="Retry-After", limits=Limits(8, 72 * 3_600_000, 1.0, 300.0), attempts_before=0,
         offline=False)
def test_any_header_value_gives_a_next_attempt_within_the_cap(value: str, header: str, limits: Limits,
                                                              attempts_before: int, offline: bool) -> None:
    delay = read_retry_delay({header: value}, NOW_S, notes := [])
    assert delay is None or (math.isfinite(delay) and delay >= 0)
    assert delay is not None or notes or not value.strip(), "a value that is ignored is noted"
    _check_next(limits, delay, attempts_before, offline)


@settings(max_examples=300, deadline=None)
@given(extensions=st.dictionaries(st.sampled_from(["retryAfter", "retry_after", "resetAt", "reset", "code", "x"]),
                                  JSON_VALUES, max_size=4),
       limits=LIMITS)
def test_any_graphql_extension_gives_a_next_attempt_within_the_cap(extensions: dict[str, object],
                                                                   limits: Limits) -> None:
    delay = delay_from_extensions([{"message": "slow down", "extensions": {"code": "RATELIMITED", **extensions}}],
                                  NOW_S, [])
    assert delay is None or (math.isfinite(delay) and delay >= 0)
    _check_next(limits, delay, 0, False)


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.none(), st.booleans(),
                     HOSTILE_TEXT, st.lists(st.integers(), max_size=2)))
def test_a_reset_value_is_finite_and_not_negative_or_ignored(raw: object) -> None:
    delay = reset_delay(raw, NOW_S, "reset", notes := [])
    assert (delay is None and len(notes) == 1) or (delay is not None and math.isfinite(delay) and delay >= 0)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
       cap=st.floats(min_value=0.0, max_value=1e12))
def test_clamp_never_returns_an_unusable_delay(value: float | None, cap: float) -> None:
    delay, note = clamp_delay_s(value, cap)
    if value is None:
        assert (delay, note) == (None, None)
    elif math.isnan(value) or value < 0:
        assert delay is None and note
    else:
        assert delay is not None and 0 <= delay <= cap and (note is None) == (value <= cap)


@settings(max_examples=200, deadline=None)
@given(attempt=st.integers(min_value=-5, max_value=10**6), base=st.floats(min_value=1e-6, max_value=1e12),
       cap=st.floats(min_value=1e-6, max_value=1e12))
def test_backoff_stays_within_its_cap(attempt: int, base: float, cap: float) -> None:
    assert 0.0 <= backoff_s(attempt, base, cap, random.Random(attempt)) <= cap


def test_the_values_from_the_issue_are_clamped_or_ignored_with_a_note() -> None:
    limits = Limits(8, 72 * 3_600_000, 1.0, 300.0)
    notes: list[str] = []
    assert parse_retry_after("inf", NOW_S, notes) is None and "'inf' is not a usable delay" in notes[0]
    huge = parse_retry_after("10000000000000000", NOW_S)
    assert huge == 1e16
    move = after_failure(retryable=True, summary="HTTP 429", attempts_before=0, window_start_ms=NOW_MS,
                         now_ms=NOW_MS, limits=limits, retry_after_s=huge)
    assert move.next_attempt_ms == NOW_MS + 72 * 3_600_000 and move.note and "cut to the cap" in move.note
    # A date in the past means now; a date far ahead is kept (the policy caps it).
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOW_S) == 0.0
    assert parse_retry_after(formatdate(NOW_S + 30, usegmt=True), NOW_S) == 30.0
    assert parse_retry_after("-5", NOW_S, notes) is None and parse_retry_after("1e16", NOW_S, notes) is None


def test_executors_log_each_ignored_value(caplog_lines: list[str]) -> None:
    ctx = ExecutionContext("lin", {}, project_root=Path("."))
    out = http_outcome(429, {"Retry-After": "inf"}, b"slow down")
    assert out.status == "retry" and out.retry_after_s is None
    body = b'{"errors": [{"message": "x", "extensions": {"code": "RATELIMITED", "retryAfter": "nan"}}]}'
    assert graphql_outcome(200, {}, body, ctx).retry_after_s is None
    assert server_delay({"X-RateLimit-Reset": "soon"}, 429) is None
    text = "\n".join(caplog_lines)
    assert text.count("unusable delay") == 3 and "'inf'" in text and "'soon'" in text


def test_graphql_reset_in_extensions_is_honoured() -> None:
    ctx = ExecutionContext("lin", {}, project_root=Path("."))
    reset_ms = int((time.time() + 20) * 1000)
    body = (b'{"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED", '
            b'"resetAt": ' + str(reset_ms).encode() + b"}}]}")
    out = graphql_outcome(200, {}, body, ctx)
    assert out.status == "retry" and out.retry_after_s is not None and 15 < out.retry_after_s <= 20
