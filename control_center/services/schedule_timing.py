"""When a schedule plays: its timing (one-off instant or RRULE with a validity window), the
checks that refuse what cannot be broadcast, and its next occurrences.

A recurring rule must leave each occurrence time to play: its first ``SPACING_SAMPLE``
occurrences (the real expansion, so BYSECOND/BYMINUTE lists count, not just FREQ) must lie at
least the bulletin's length and at least ``MIN_SPACING`` apart.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from control_center.errors import InvalidInput
from control_center.models import Schedule, ScheduleKind
from control_center.schemas.content import ScheduleCreate
from control_center.services.expansion import Recurrence, next_recurring, parse_rule, zone

MIN_SPACING = timedelta(minutes=1)
"""The closest two occurrences of one recurring schedule may come, whatever it plays."""
SPACING_SAMPLE = 200
"""How many upcoming occurrences the spacing check expands."""


@dataclass(frozen=True, slots=True)
class Timing:
    kind: ScheduleKind
    start_at: datetime | None
    rrule: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    timezone: str


def validate_timing(timing: Timing, *, now: datetime, length: timedelta) -> None:
    """Refuse what cannot be broadcast: past instants, bad rules, empty validity windows, and
    rules whose occurrences come closer than ``length`` (how long the bulletin plays) or
    ``MIN_SPACING``."""
    zone(timing.timezone)
    if timing.kind == ScheduleKind.ONE_OFF:
        if timing.start_at is None:
            raise InvalidInput("a one-off schedule needs start_at")
        if timing.start_at < now:
            raise InvalidInput(f"start_at is in the past ({timing.start_at.isoformat()} < "
                               f"now {now.isoformat(timespec='seconds')})")
        return
    if timing.rrule is None or timing.valid_from is None:
        raise InvalidInput("a recurring schedule needs rrule and valid_from")
    if timing.valid_until is not None and timing.valid_until <= timing.valid_from:
        raise InvalidInput("valid_until must be after valid_from")
    rec = Recurrence(timing.rrule, timing.valid_from, timing.valid_until, timing.timezone)
    parse_rule(rec)
    first = next_recurring(rec, after=now, count=SPACING_SAMPLE)
    if not first:
        raise InvalidInput(f"rrule {timing.rrule!r} has no occurrence after now "
                           "within valid_from/valid_until")
    check_spacing(timing.rrule, first, length=length)


def _seconds(span: timedelta) -> str:
    return f"{round(span.total_seconds(), 1):g}"


def check_spacing(rule: str, instants: list[datetime], *, length: timedelta) -> None:
    """Refuse ``rule`` when two of its consecutive ``instants`` (UTC, ascending) come closer
    than ``length`` or ``MIN_SPACING``, naming the rule, the gap found and the length."""
    needed = max(length, MIN_SPACING)
    gaps = [(later - earlier, earlier, later)
            for earlier, later in itertools.pairwise(instants)]
    if not gaps:
        return
    gap, earlier, later = min(gaps)
    if gap >= needed:
        return
    at = f"{earlier:%Y-%m-%d %H:%M:%S} → {later:%Y-%m-%d %H:%M:%S} UTC"
    raise InvalidInput(
        f"lịch lặp quá dày: quy tắc {rule!r} phát cách nhau {_seconds(gap)} giây ({at}), "
        f"bản tin dài {_seconds(length)} giây; hai lần phát phải cách nhau ít nhất bằng độ "
        f"dài bản tin và ít nhất {_seconds(MIN_SPACING)} giây / rrule {rule!r} repeats too "
        f"often: occurrences {_seconds(gap)} s apart ({at}) but the bulletin lasts "
        f"{_seconds(length)} s; occurrences must be at least the bulletin's length and at "
        f"least {_seconds(MIN_SPACING)} s apart")


def timing_for_create(data: ScheduleCreate, default_tz: str) -> Timing:
    if (data.start_at is None) == (data.rrule is None):
        raise InvalidInput("give either start_at (one-off) or rrule + valid_from (recurring)")
    if data.start_at is not None and (data.valid_from or data.valid_until):
        raise InvalidInput("valid_from/valid_until apply to recurring schedules only")
    kind = ScheduleKind.ONE_OFF if data.start_at is not None else ScheduleKind.RECURRING
    return Timing(kind, data.start_at, data.rrule and data.rrule.strip(), data.valid_from,
                  data.valid_until, data.timezone or default_tz)


def upcoming(schedule: Schedule, *, now: datetime, count: int = 10) -> list[datetime]:
    """The next occurrences of an active schedule (empty when cancelled or past)."""
    if schedule.cancelled_at is not None:
        return []
    if schedule.kind == ScheduleKind.ONE_OFF:
        return [schedule.start_at] if schedule.start_at and schedule.start_at >= now else []
    if schedule.rrule is None or schedule.valid_from is None:
        return []
    rec = Recurrence(schedule.rrule, schedule.valid_from, schedule.valid_until,
                     schedule.timezone)
    return next_recurring(rec, after=now, count=count)
