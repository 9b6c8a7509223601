"""The window a report covers and the zone its days are counted in.

Days are the engineer's local calendar days: by default the zone of the machine running the
report (the operating system's local time, daylight saving included), or an IANA zone named
with ``--tz`` (``Europe/Berlin``, ``UTC``). A team store holds everyone's sessions; a report
counts them all in the one zone it runs in.

``--since 7d`` means the last seven calendar days, today included: from local midnight six days
ago until now. ``--from D --to D`` takes dates (``YYYY-MM-DD``, whole local days, both
included) or ISO times (naive ones in the report's zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

#: The longest window a report covers, in days: a typo like ``--since 99999999d`` is a usage
#: error, not hours of empty day rows.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Zone:
    """A time zone for calendar days: ``tz`` None is the operating system's local time."""

    tz: tzinfo | None
    name: str

    def day_of(self, at: datetime) -> date:
        """The local calendar day of the instant ``at``."""
        return at.astimezone(self.tz).date()

    def midnight(self, day: date) -> datetime:
        """The instant (UTC) the local day ``day`` starts."""
        if self.tz is None:  # a naive time is taken as the system's local time
            return datetime.combine(day, time()).astimezone(UTC)
        return datetime.combine(day, time(), tzinfo=self.tz).astimezone(UTC)

    def local(self, naive: datetime) -> datetime:
        """A naive wall-clock time in this zone, as an instant (UTC)."""
        if self.tz is None:
            return naive.astimezone(UTC)
        return naive.replace(tzinfo=self.tz).astimezone(UTC)


def zone(name: str | None) -> Zone:
    """The zone named ``name`` (IANA), or the system's local time for None."""
    if name is None:
        local = datetime.now().astimezone()
        return Zone(None, f"local time ({local.tzname() or local.strftime('%z')})")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from msp.errors import InvalidInput

    try:
        return Zone(ZoneInfo(name), name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{name[:60]!r} is not a time zone this machine knows",
                           "name an IANA zone such as Europe/Berlin, America/New_York or UTC "
                           "(on Windows, `pip install tzdata` provides them)") from None


@dataclass(frozen=True)
class Window:
    """The half-open span ``[since, until)`` a report covers (UTC instants), and its zone."""

    since: datetime
    until: datetime
    zone: Zone

    def days(self) -> list[date]:
        """Every local calendar day the window touches, in order."""
        first, last = self.zone.day_of(self.since), self.zone.day_of(self.until - timedelta(microseconds=1))
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse_window(since: str | None, start: str | None, end: str | None, zone: Zone, now: datetime) -> Window:
    """The window of ``--since`` or ``--from``/``--to`` (the default: ``--since 7d``)."""
    from msp.errors import InvalidInput

    if since is not None and (start is not None or end is not None):
        raise InvalidInput("--since and --from/--to both given", "use --since 7d, or --from DATE [--to DATE]")
    now = now.astimezone(UTC)
    if start is None and end is not None:
        raise InvalidInput("--to without --from", "give the first day too: --from DATE --to DATE")
    if start is not None:
        begin = _moment(start, zone, "--from", end_of_day=False)
        finish = _moment(end, zone, "--to", end_of_day=True) if end is not None else now
        if finish <= begin:
            raise InvalidInput(f"--to ({end}) is not after --from ({start})", "give --to a later date or time")
        window = Window(begin, finish, zone)
    else:
        text = (since or "7d").strip()
        if text.endswith("d") and text[:-1].isascii() and text[:-1].isdigit() and text[:-1]:
            days = int(text[:-1])
            if not 1 <= days <= MAX_DAYS:
                raise InvalidInput(f"--since {text[:24]} is outside 1d..{MAX_DAYS}d", "e.g. --since 7d or --since 30d")
            first = zone.day_of(now) - timedelta(days=days - 1)
            window = Window(zone.midnight(first), now, zone)
        else:
            begin = _moment(text, zone, "--since", end_of_day=False)
            if begin >= now:
                raise InvalidInput(f"--since {text[:40]} is not in the past", "give an earlier date, or e.g. 7d")
            window = Window(begin, now, zone)
    if window.until - window.since > timedelta(days=MAX_DAYS + 1):
        raise InvalidInput(f"the window is longer than {MAX_DAYS} days", "report on a shorter span")
    return window


def _moment(raw: str, zone: Zone, option: str, *, end_of_day: bool) -> datetime:
    """A date (the start of that local day, or of the next with ``end_of_day``) or an ISO time."""
    from msp.errors import InvalidInput

    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return zone.midnight(day + timedelta(days=1) if end_of_day else day)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{option} {raw[:40]!r} is not a date", "use YYYY-MM-DD or an ISO time") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else zone.local(parsed)


def split_by_day(start: datetime, end: datetime, zone: Zone) -> list[tuple[date, float]]:
    """The seconds of ``[start, end)`` on each local calendar day it touches (split at local
    midnights, so a day of a daylight-saving change has 23 or 25 hours)."""
    out: list[tuple[date, float]] = []
    cur, end = start.astimezone(UTC), end.astimezone(UTC)
    while cur < end:
        day = zone.day_of(cur)
        nxt = min(end, zone.midnight(day + timedelta(days=1)))
        if nxt <= cur:  # a zone whose midnight does not exist that day: never loop
            nxt = end
        out.append((day, (nxt - cur).total_seconds()))
        cur = nxt
    return out
