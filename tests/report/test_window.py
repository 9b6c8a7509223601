"""The report's window and days: local midnights, daylight saving, the options' forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from msp._report.window import Zone, parse_window, split_by_day, zone
from msp.errors import InvalidInput

BERLIN = zone("Europe/Berlin")
UTC_ZONE = zone("UTC")


def test_a_span_is_split_at_local_midnight_not_utc_midnight() -> None:
    # 21:30 to 01:30 UTC in May is 23:30 to 03:30 in Berlin: half an hour on the first local day.
    start = datetime(2024, 5, 6, 21, 30, tzinfo=UTC)
    pieces = split_by_day(start, start + timedelta(hours=4), BERLIN)
    assert pieces == [(date(2024, 5, 6), 1800.0), (date(2024, 5, 7), 12600.0)]
    assert split_by_day(start, start + timedelta(hours=4), UTC_ZONE) == [
        (date(2024, 5, 6), 9000.0), (date(2024, 5, 7), 5400.0)]


def test_a_day_of_the_clock_change_has_its_real_length() -> None:
    # Berlin moved to summer time on 2024-03-31: that local day had 23 hours.
    start = BERLIN.midnight(date(2024, 3, 31))
    pieces = split_by_day(start, start + timedelta(hours=30), BERLIN)
    assert pieces == [(date(2024, 3, 31), 23 * 3600.0), (date(2024, 4, 1), 7 * 3600.0)]


def test_an_empty_or_backwards_span_has_no_time() -> None:
    at = datetime(2024, 5, 6, 12, tzinfo=UTC)
    assert split_by_day(at, at, BERLIN) == [] and split_by_day(at, at - timedelta(hours=1), BERLIN) == []


def test_since_days_means_whole_calendar_days_today_included() -> None:
    now = datetime(2024, 5, 10, 15, 0, tzinfo=UTC)  # 17:00 in Berlin
    w = parse_window("7d", None, None, BERLIN, now)
    assert w.until == now and w.since == datetime(2024, 5, 3, 22, 0, tzinfo=UTC)  # local midnight, May 4
    assert w.days() == [date(2024, 5, 4) + timedelta(days=i) for i in range(7)]
    assert parse_window(None, None, None, BERLIN, now) == w  # the default


def test_from_and_to_are_whole_local_days_both_included() -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    w = parse_window(None, "2024-05-01", "2024-05-03", BERLIN, now)
    assert w.since == datetime(2024, 4, 30, 22, tzinfo=UTC) and w.until == datetime(2024, 5, 3, 22, tzinfo=UTC)
    assert len(w.days()) == 3
    timed = parse_window(None, "2024-05-01T09:00", "2024-05-01T17:00+00:00", BERLIN, now)
    assert timed.since == datetime(2024, 5, 1, 7, tzinfo=UTC) and timed.until == datetime(2024, 5, 1, 17, tzinfo=UTC)
    assert parse_window(None, "2024-05-01", None, BERLIN, now).until == now


@pytest.mark.parametrize(("since", "start", "end", "says"), [
    ("7d", "2024-05-01", None, "--since and --from"),
    (None, None, "2024-05-01", "--to without --from"),
    (None, "2024-05-03", "2024-05-01", "is not after"),
    ("0d", None, None, "outside"),
    ("99999999d", None, None, "outside"),
    ("yesterday", None, None, "not a date"),
    (None, "2024-13-01", None, "not a date"),
    ("2030-01-01", None, None, "not in the past"),
])
def test_bad_windows_say_what_is_wrong(since: str | None, start: str | None, end: str | None, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_window(since, start, end, UTC_ZONE, datetime(2024, 6, 1, tzinfo=UTC))


def test_an_unknown_zone_is_named_in_the_error() -> None:
    with pytest.raises(InvalidInput, match="Mars/Olympus"):
        zone("Mars/Olympus")
    local = zone(None)
    assert isinstance(local, Zone) and local.tz is None and local.name.startswith("local time")
