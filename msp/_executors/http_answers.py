"""What an HTTP answer means for delivery: done, retry or dead; how long the server asked us to
wait; the text kept with a failure.

Pure functions, no I/O. The http and graphql executors read every response through them, and
the dispatcher's policy (:mod:`msp._dispatch.policy`) re-exports them, so both share one reading
of status codes and rate-limit headers without executors importing the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

#: Statuses worth another try: request timeout, too early, rate limited.
RETRY_STATUSES = frozenset({408, 425, 429})
#: Longest excerpt of a response body kept with a dead action.
BODY_EXCERPT = 500

Verdict = Literal["done", "retry", "dead"]


def classify_status(status: int, expected: list[int] | tuple[int, ...] = ()) -> Verdict:
    """What an HTTP status means for delivery.

    ``expected`` (when given) lists the statuses that mean success; otherwise any 2xx does.
    Retried: 408, 425, 429 and every 5xx. Anything else (other 4xx, unexpected 2xx/3xx) is dead.
    """
    if (status in expected) if expected else (200 <= status < 300):
        return "done"
    if status in RETRY_STATUSES or 500 <= status < 600:
        return "retry"
    return "dead"


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date. None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        from datetime import UTC

        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_s)


def _reset_value(raw: str, now_s: float) -> float | None:
    """A rate-limit reset header: epoch milliseconds, epoch seconds, seconds to wait, or an HTTP-date."""
    try:
        number = float(raw.strip())
    except ValueError:
        return parse_retry_after(raw, now_s) if not raw.strip().lstrip("-").isdigit() else None
    if number > 1e12:  # epoch milliseconds (Linear's X-RateLimit-*-Reset)
        return max(0.0, number / 1000.0 - now_s)
    if number > 1e9:  # epoch seconds (GitHub's X-RateLimit-Reset)
        return max(0.0, number - now_s)
    return max(0.0, number)  # seconds until reset (RateLimit-Reset, X-RateLimit-Reset-After)


#: Rate-limit reset headers read when a response says the client is rate limited.
RESET_HEADERS = (
    "x-ratelimit-requests-reset",
    "x-ratelimit-complexity-reset",
    "x-ratelimit-reset-after",
    "x-ratelimit-reset",
    "ratelimit-reset",
)


def retry_delay_from_headers(headers: Mapping[str, str], now_s: float) -> float | None:
    """How long the server asked us to wait: ``Retry-After`` first, then rate-limit reset headers
    (the longest of those present). None when the response says nothing."""
    lower = {k.lower(): v for k, v in headers.items()}
    after = parse_retry_after(lower.get("retry-after"), now_s)
    if after is not None:
        return after
    delays = [d for name in RESET_HEADERS if name in lower
              if (d := _reset_value(lower[name], now_s)) is not None]
    return max(delays) if delays else None


def rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    """429, or a 403 that says the quota is spent (``X-RateLimit-Remaining: 0``)."""
    if status == 429:
        return True
    if status == 403:
        lower = {k.lower(): v for k, v in headers.items()}
        remaining = lower.get("x-ratelimit-remaining") or lower.get("ratelimit-remaining")
        return remaining is not None and remaining.strip() == "0"
    return False


def excerpt(body: bytes | str, limit: int = BODY_EXCERPT) -> str:
    """The start of a response body, as text, for an error message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
