"""What an HTTP answer means for delivery: done, retry or dead; how long the server asked us to
wait; the text kept with a failure.

Pure functions, no I/O. The http and graphql executors read every response through them, and
the dispatcher's policy (:mod:`msp._dispatch.policy`) re-exports them, so both share one reading
of status codes and rate-limit headers without executors importing the dispatcher.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

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


#: Longest header value read as a delay; anything longer is garbage, not a number.
MAX_VALUE_CHARS = 64
_DECIMAL = re.compile(r"\d{1,30}(\.\d{1,9})?")


def _seconds(text: str) -> float | None:
    """A plain non-negative decimal (``120``, ``1.5``), finite; None for anything else (signs,
    exponents, ``inf``, ``nan``, hex, words)."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _http_date(text: str, now_s: float) -> float | None:
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
        if when is None:
            return None
        if when.tzinfo is None:  # HTTP-dates are GMT
            when = when.replace(tzinfo=UTC)
        delay = when.timestamp() - now_s
    except Exception:  # a hostile date can raise almost anything (ValueError, OverflowError, ...)
        return None
    return max(0.0, delay) if math.isfinite(delay) else None


def parse_retry_after(value: str | None, now_s: float, notes: list[str] | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (a date already past is
    0). None, with a note in ``notes``, when the value is unreadable, negative or not finite.

    The result is finite and non-negative but may be huge: the dispatcher's policy caps it.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) <= MAX_VALUE_CHARS:
        seconds = _seconds(text)
        if seconds is not None:
            return seconds
        if not _looks_numeric(text):
            when = _http_date(text, now_s)
            if when is not None:
                return when
    _note(notes, "Retry-After", text)
    return None


def _looks_numeric(text: str) -> bool:
    """Numbers msp refuses (``-5``, ``1e16``, ``inf``) are not tried as dates."""
    try:
        float(text)
    except (ValueError, OverflowError):
        return False
    return True


def _note(notes: list[str] | None, name: str, text: str) -> None:
    if notes is not None:
        shown = text if len(text) <= 40 else text[:39] + "…"
        notes.append(f"ignored {name}: {shown!r} is not a usable delay")


def reset_delay(raw: object, now_s: float, name: str = "reset", notes: list[str] | None = None) -> float | None:
    """A rate-limit reset: epoch milliseconds, epoch seconds, seconds to wait, or an HTTP-date,
    from a header (text) or a JSON body (a number). None, with a note, when unusable.

    Above 1e12 it is read as epoch ms, above 1e9 as epoch seconds, else as seconds to wait; a
    reset already past is 0.
    """
    number: float | None = None
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) <= MAX_VALUE_CHARS:
            number = _seconds(text)
            if number is None and not _looks_numeric(text):
                when = _http_date(text, now_s)
                if when is not None:
                    return when
    else:
        text = repr(raw) if isinstance(raw, int | float) else type(raw).__name__
        number = _number(raw)
    if number is None:
        _note(notes, name, text)
        return None
    if number > 1e12:  # epoch milliseconds (Linear's X-RateLimit-*-Reset)
        return max(0.0, number / 1000.0 - now_s)
    if number > 1e9:  # epoch seconds (GitHub's X-RateLimit-Reset)
        return max(0.0, number - now_s)
    return number  # seconds until reset (RateLimit-Reset, X-RateLimit-Reset-After)


#: Rate-limit reset headers read when a response says the client is rate limited.
RESET_HEADERS = (
    "x-ratelimit-requests-reset",
    "x-ratelimit-complexity-reset",
    "x-ratelimit-reset-after",
    "x-ratelimit-reset",
    "ratelimit-reset",
)
#: Keys of a GraphQL error's ``extensions`` read as a delay, compared without case, ``_`` or
#: ``-``: seconds to wait, or a reset time (as for the reset headers).
EXTENSION_DELAY_KEYS = ("retryafter",)
EXTENSION_RESET_KEYS = ("resetat", "reset", "ratelimitreset")


def read_retry_delay(headers: Mapping[str, str], now_s: float,
                     notes: list[str] | None = None) -> float | None:
    """How long the server asked us to wait: ``Retry-After`` first, then rate-limit reset headers
    (the longest of those present). None when the response says nothing usable; each value
    ignored as garbage adds a line to ``notes``."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    after = parse_retry_after(lower.get("retry-after"), now_s, notes)
    if after is not None:
        return after
    delays = [d for name in RESET_HEADERS if name in lower
              if (d := reset_delay(lower[name], now_s, name, notes)) is not None]
    return max(delays) if delays else None


def retry_delay_from_headers(headers: Mapping[str, str], now_s: float) -> float | None:
    """:func:`read_retry_delay` without the notes."""
    return read_retry_delay(headers, now_s)


def delay_from_extensions(errors: object, now_s: float, notes: list[str] | None = None) -> float | None:
    """A delay some GraphQL services put in their errors' ``extensions`` (``retryAfter`` in
    seconds, or a ``resetAt`` time), read as defensively as a header; the longest wins."""
    if not isinstance(errors, list):
        return None
    delays: list[float] = []
    for error in errors[:50]:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if not isinstance(extensions, dict):
            continue
        for key, raw in list(extensions.items())[:50]:
            flat = str(key).lower().replace("_", "").replace("-", "")
            name = f"extensions.{key}"
            delay: float | None = None
            if flat in EXTENSION_DELAY_KEYS:
                if isinstance(raw, str):
                    delay = parse_retry_after(raw, now_s, notes)
                elif (delay := _number(raw)) is None:
                    _note(notes, name, repr(raw) if isinstance(raw, int | float) else type(raw).__name__)
            elif flat in EXTENSION_RESET_KEYS:
                delay = reset_delay(raw, now_s, name, notes)
            if delay is not None:
                delays.append(delay)
    return max(delays) if delays else None


def _number(raw: object) -> float | None:
    """A JSON number that is a usable delay: finite, not negative, not a boolean."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        number = float(raw)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and number >= 0 else None


def rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    """429, or a 403 that says the quota is spent (``X-RateLimit-Remaining: 0``)."""
    if status == 429:
        return True
    if status == 403:
        lower = {k.lower(): v for k, v in headers.items()}
        remaining = lower.get("x-ratelimit-remaining") or lower.get("ratelimit-remaining")
        return remaining is not None and remaining.strip() == "0"
    return False


def already_applied(rules: Sequence[Any], status: int, errors: Sequence[tuple[str | None, str]], body: str) -> bool:
    """Whether a refusal is one an action declared as proof that an earlier attempt landed.

    ``rules`` are the action's ``already_applied`` declarations (anything with ``status``,
    ``code`` and ``message`` attributes). With GraphQL ``errors`` (code, message pairs), every
    error must match a rule, so a duplicate reported beside another problem is not taken for
    success; without, the HTTP ``status`` and ``body`` are matched.
    """
    usable = [r for r in rules if getattr(r, "status", None) or getattr(r, "code", None) or getattr(r, "message", None)]
    if not usable:
        return False

    def match(rule: Any, code: str | None, text: str) -> bool:
        statuses = getattr(rule, "status", None) or []
        want_code, want_text = getattr(rule, "code", None), getattr(rule, "message", None)
        if statuses and status not in statuses:
            return False
        if want_code is not None and (code is None or code.upper() != str(want_code).upper()):
            return False
        return want_text is None or str(want_text).casefold() in text.casefold()

    if errors:
        return all(any(match(rule, code, message) for rule in usable) for code, message in errors)
    return any(match(rule, None, body) for rule in usable)


def excerpt(body: bytes | str, limit: int = BODY_EXCERPT) -> str:
    """The start of a response body, as text, for an error message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
