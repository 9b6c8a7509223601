"""Values typed by a person (or an assistant) that both front-ends accept the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def parse_date(raw: str | None, now: datetime | None = None) -> datetime | None:
    """``YYYY-MM-DD``, an ISO time (UTC unless it says otherwise), or ``7d`` for 7 days before
    ``now`` (default: the clock). ``None`` stays ``None``."""
    if raw is None:
        return None
    from msp.errors import InvalidInput

    text = raw.strip()
    if text.endswith("d") and text[:-1].isascii() and text[:-1].isdigit():
        try:
            return (now or datetime.now(UTC)) - timedelta(days=int(text[:-1]))
        except (OverflowError, ValueError):  # before year 1, or more days than timedelta holds
            raise InvalidInput(f"{raw[:24]!r} reaches back before the calendar starts",
                               "use a smaller number of days, or a date") from None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a date", "use YYYY-MM-DD, an ISO time, or 7d for 7 days ago") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
