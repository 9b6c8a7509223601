"""The delivery policy: which failures are retried, how long to wait, when to give up.

Pure functions, no I/O, so the policy is tested on its own. How an HTTP answer is read (status
classes, ``Retry-After`` and rate-limit reset headers, body excerpts) lives with the executors
that receive the answers (:mod:`msp._executors.http_answers`) and is re-exported here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from msp._executors.http_answers import (
    BODY_EXCERPT,
    RESET_HEADERS,
    RETRY_STATUSES,
    Verdict,
    classify_status,
    excerpt,
    parse_retry_after,
    rate_limited,
    retry_delay_from_headers,
)

__all__ = [
    "BODY_EXCERPT", "RESET_HEADERS", "RETRY_STATUSES", "Limits", "Transition", "Verdict", "after_failure",
    "backoff_s", "classify_status", "excerpt", "parse_retry_after", "rate_limited", "retry_delay_from_headers",
]


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]`` for the ``attempt``-th retry."""
    ceiling = min(cap_s, base_s * (2 ** max(0, min(attempt - 1, 62))))
    return (rng or random).uniform(0.0, ceiling)


@dataclass(frozen=True)
class Limits:
    """The limits one integration's actions are delivered under."""

    max_attempts: int
    max_age_ms: int
    backoff_base_s: float
    backoff_cap_s: float


@dataclass(frozen=True)
class Transition:
    """What to write for an action after an outcome."""

    status: Literal["done", "pending", "dead"]
    attempts: int
    next_attempt_ms: int
    error: str | None


def after_failure(
    *,
    retryable: bool,
    summary: str,
    attempts_before: int,
    window_start_ms: int,
    now_ms: int,
    limits: Limits,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> Transition:
    """The next state after a failed attempt: retry later, or dead with the reason kept."""
    attempts = attempts_before + 1
    if not retryable:
        return Transition("dead", attempts, now_ms, summary)
    if attempts >= limits.max_attempts:
        return Transition("dead", attempts, now_ms, f"gave up after {attempts} attempt(s); last: {summary}")
    if now_ms - window_start_ms >= limits.max_age_ms:
        hours = limits.max_age_ms / 3_600_000
        return Transition("dead", attempts, now_ms, f"gave up: still failing after {hours:g} h; last: {summary}")
    if retry_after_s is not None:
        delay = retry_after_s
    else:
        delay = backoff_s(attempts, limits.backoff_base_s, limits.backoff_cap_s, rng)
    return Transition("pending", attempts, now_ms + int(delay * 1000), summary)
