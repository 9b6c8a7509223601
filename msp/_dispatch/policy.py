"""The delivery policy, gathered for the dispatcher: which failures are retried, how long to
wait, when to give up.

Its parts live where they are used, so each layer imports only what it may: reading an HTTP
answer (status classes, ``Retry-After``, rate-limit resets, excerpts) belongs to the executors
that receive answers (:mod:`msp._executors.http_answers`); what to write after a failure is a
rule of the outbox itself, shared by every store backend (:mod:`msp._store.outbox_rules`).
"""

from __future__ import annotations

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
from msp._store.outbox_rules import Limits, Transition, after_failure, backoff_s

__all__ = [
    "BODY_EXCERPT", "RESET_HEADERS", "RETRY_STATUSES", "Limits", "Transition", "Verdict", "after_failure",
    "backoff_s", "classify_status", "excerpt", "parse_retry_after", "rate_limited", "retry_delay_from_headers",
]
