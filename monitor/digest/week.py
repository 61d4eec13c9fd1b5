"""ISO weeks in a configured time zone: `2026-W05` is Monday 00:00 to the next Monday 00:00 there."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from signals.errors import AiopsError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(AiopsError, ValueError):
    """Not an ISO week (YYYY-Www)."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin or UTC)") from None


def parse_week(text: str) -> tuple[int, int]:
    match = _WEEK.match(text.strip())
    if not match:
        raise WeekError(f"--week: expected YYYY-Www (e.g. 2026-W05), got {text!r}")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"--week: {year} has no ISO week {week}") from None
    return year, week


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the week as aware datetimes (Monday midnight local time, DST-safe)."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    following = monday + timedelta(days=7)
    return start, datetime(following.year, following.month, following.day, tzinfo=tz)


def week_of(ts: float, tz: ZoneInfo) -> str:
    return week_label(datetime.fromtimestamp(ts, tz).date())


def shift_week(week: str, weeks: int) -> str:
    year, number = parse_week(week)
    return week_label(date.fromisocalendar(year, number, 1) + timedelta(weeks=weeks))


def last_complete_week(now: float, tz: ZoneInfo) -> str:
    """The week before the one `now` falls in: what a Monday-morning digest reports."""
    return shift_week(week_of(now, tz), -1)
