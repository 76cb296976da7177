"""The period of an effectiveness report: whole days in the center's time zone, or instants."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from control_center.errors import InvalidInput

MAX_DAYS = 366
DEFAULT_DAYS = 30


def check_period(start: datetime, end: datetime) -> None:
    """422 for a period a report cannot cover: no time zone, end not after start, too long."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start và end cần múi giờ / start and end need a time zone "
                           "(e.g. 2026-09-01T00:00:00+07:00)")
    if end <= start:
        raise InvalidInput("ngày kết thúc phải sau ngày bắt đầu / end must be after start")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"khoảng thời gian tối đa {MAX_DAYS} ngày / the period may span at "
                           f"most {MAX_DAYS} days")


def day_period(start: date | None, end: date | None, *, today: date,
               tz: tzinfo) -> tuple[datetime, datetime, date, date]:
    """Whole local days ``start`` to ``end`` inclusive (default: the last 30 days to today):
    (first instant, instant after the last day, first day, last day)."""
    last = end or today
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput("ngày bắt đầu sau ngày kết thúc / start is after end")
    t0 = datetime.combine(first, time(), tz)
    t1 = datetime.combine(last + timedelta(days=1), time(), tz)
    check_period(t0, t1)
    return t0, t1, first, last
