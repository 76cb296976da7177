"""Turn schedules into concrete UTC instants.

A recurring schedule is an RFC 5545 RRULE whose DTSTART is ``valid_from`` expressed as
wall-clock time in the schedule's zone; occurrences are computed in that zone (so "06:00"
stays 06:00 local across DST changes elsewhere) and converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rruleset, rrulestr  # type: ignore[import-untyped]

from control_center.errors import InvalidInput

GRACE = timedelta(minutes=10)
"""Items that started less than this long ago stay in manifests (they may be playing)."""
MAX_INSTANTS_PER_SCHEDULE = 500
_ITEM_ID_RE = re.compile(r"^s(\d+)r\d+-")  # the prefix item_id() writes: s<schedule>r<revision>-


@dataclass(frozen=True, slots=True)
class Recurrence:
    """The expansion-relevant fields of a recurring schedule."""

    rrule: str
    valid_from: datetime
    valid_until: datetime | None
    timezone: str


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name such as "
                           "'Asia/Ho_Chi_Minh'") from exc


def require_aware(value: datetime, field: str) -> datetime:
    """Refuse naive datetimes; return the instant in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a time zone (e.g. '2026-09-02T06:00:00+07:00')")
    return value.astimezone(UTC)


def parse_rule(rec: Recurrence) -> rrule | rruleset:
    """Parse the RRULE with DTSTART = valid_from in the schedule's zone, or raise InvalidInput."""
    text = rec.rrule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:"):]
    if not text or "DTSTART" in text.upper() or "\n" in text:
        raise InvalidInput(
            f"invalid rrule {rec.rrule!r}: give one RRULE line such as "
            "'FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0' (the start is valid_from)"
        )
    tz = zone(rec.timezone)
    dtstart = require_aware(rec.valid_from, "valid_from").astimezone(tz)
    try:
        return rrulestr(text, dtstart=dtstart)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidInput(f"invalid rrule {rec.rrule!r}: {exc}") from exc


def _iter_utc(rule: rrule | rruleset, start: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    for occurrence in rule.xafter(start.astimezone(tz), inc=True):
        yield occurrence.astimezone(UTC)


def expand_recurring(
    rec: Recurrence, *, window_start: datetime, window_end: datetime,
    limit: int = MAX_INSTANTS_PER_SCHEDULE,
) -> list[datetime]:
    """Occurrences in [max(window_start, valid_from), min(window_end, valid_until)], in UTC."""
    tz = zone(rec.timezone)
    rule = parse_rule(rec)
    lo = max(window_start, rec.valid_from)
    hi = window_end if rec.valid_until is None else min(window_end, rec.valid_until)
    found: list[datetime] = []
    if lo > hi:
        return found
    for instant in _iter_utc(rule, lo, tz):
        if instant > hi or len(found) >= limit:
            break
        found.append(instant)
    return found


def next_recurring(rec: Recurrence, *, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` occurrences at or after ``after`` (unbounded by any horizon)."""
    far = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
    return expand_recurring(rec, window_start=after, window_end=far, limit=count)


def item_id(*, schedule_id: int, revision: int, instant: datetime) -> str:
    """The stable id of one occurrence; a new revision gives new ids."""
    return f"s{schedule_id}r{revision}-{instant.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def schedule_id_of(item_id: str) -> int | None:
    """The schedule an :func:`item_id` came from; None for the ids of other items (play-now
    commands, emergencies)."""
    match = _ITEM_ID_RE.match(item_id)
    return int(match.group(1)) if match else None
