"""Dates in the moment.js format Obsidian's Daily Notes core plugin is configured with.

Supported tokens (English names, as moment's default locale): ``YYYY YY Q MMMM MMM MM M Do DDDD
DDD DD D dddd ddd dd d e E GGGG GG WW W gggg gg ww w HH H hh h mm m ss s A a`` and ``[literal
text]``. ``GGGG``/``WW`` are ISO week-year and week; ``gggg``/``ww`` are locale weeks as in the
``en`` locale (weeks start on Sunday, week 1 holds 1 January). Other characters are copied as they
are, as moment does; ``/`` in the format makes folders, as it does in Obsidian.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_TOKEN = re.compile(
    r"\[[^\]]*\]|YYYY|YY|Q|MMMM|MMM|MM|M|Do|DDDD|DDD|DD|D|dddd|ddd|dd|d|e|E|GGGG|GG|WW|W|gggg|gg|ww|w"
    r"|HH|H|hh|h|mm|m|ss|s|A|a"
)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
#: Letters that are moment tokens this module does not render; a format using them is refused
#: rather than silently producing a different file name than Obsidian would.
_UNSUPPORTED = re.compile(r"X|x|k|S|Z|z|N|y|Y")


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _locale_week(day: date) -> tuple[int, int]:
    """(week-year, week) with weeks from Sunday and week 1 holding 1 January."""
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    year = (sunday + timedelta(days=6)).year
    jan1 = date(year, 1, 1)
    first = jan1 - timedelta(days=(jan1.weekday() + 1) % 7)
    return year, (sunday - first).days // 7 + 1


def check_format(fmt: str) -> None:
    """Raise ValueError when ``fmt`` uses a token this module cannot render."""
    if not fmt.strip():
        raise ValueError("daily_format is empty")
    outside = _TOKEN.sub("", fmt)
    bad = _UNSUPPORTED.search(outside)
    if bad:
        raise ValueError(
            f"daily_format {fmt!r} uses the moment token {bad.group(0)!r}, which msp does not render; "
            "use date tokens such as YYYY-MM-DD, or put literal text in [brackets]"
        )


def format_date(at: datetime, fmt: str) -> str:
    """``at`` (already in the vault's time zone) rendered with a moment.js format."""
    d = at.date()
    iso_year, iso_week, iso_day = d.isocalendar()
    loc_year, loc_week = _locale_week(d)
    dow = (d.weekday() + 1) % 7  # moment: Sunday is 0
    hour12 = at.hour % 12 or 12

    def token(m: re.Match[str]) -> str:
        t = m.group(0)
        if t.startswith("["):
            return t[1:-1]
        values: dict[str, str] = {
            "YYYY": f"{d.year:04d}", "YY": f"{d.year % 100:02d}", "Q": str((d.month - 1) // 3 + 1),
            "MMMM": _MONTHS[d.month - 1], "MMM": _MONTHS[d.month - 1][:3], "MM": f"{d.month:02d}",
            "M": str(d.month), "Do": _ordinal(d.day), "DDDD": f"{d.timetuple().tm_yday:03d}",
            "DDD": str(d.timetuple().tm_yday), "DD": f"{d.day:02d}", "D": str(d.day),
            "dddd": _DAYS[dow], "ddd": _DAYS[dow][:3], "dd": _DAYS[dow][:2], "d": str(dow), "e": str(dow),
            "E": str(iso_day), "GGGG": f"{iso_year:04d}", "GG": f"{iso_year % 100:02d}",
            "WW": f"{iso_week:02d}", "W": str(iso_week), "gggg": f"{loc_year:04d}",
            "gg": f"{loc_year % 100:02d}", "ww": f"{loc_week:02d}", "w": str(loc_week),
            "HH": f"{at.hour:02d}", "H": str(at.hour), "hh": f"{hour12:02d}", "h": str(hour12),
            "mm": f"{at.minute:02d}", "m": str(at.minute), "ss": f"{at.second:02d}", "s": str(at.second),
            "A": "AM" if at.hour < 12 else "PM", "a": "am" if at.hour < 12 else "pm",
        }
        return values[t]

    return _TOKEN.sub(token, fmt)
