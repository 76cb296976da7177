"""When a schedule plays: its timing (one-off instant or RRULE with a validity window), the
checks that refuse what cannot be broadcast, and its next occurrences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from control_center.errors import InvalidInput
from control_center.models import Schedule, ScheduleKind
from control_center.schemas.content import ScheduleCreate
from control_center.services.expansion import Recurrence, next_recurring, parse_rule, zone


@dataclass(frozen=True, slots=True)
class Timing:
    kind: ScheduleKind
    start_at: datetime | None
    rrule: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    timezone: str


def validate_timing(timing: Timing, *, now: datetime) -> None:
    """Refuse what cannot be broadcast: past instants, bad rules, empty validity windows."""
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
    if not next_recurring(rec, after=now, count=1):
        raise InvalidInput(f"rrule {timing.rrule!r} has no occurrence after now "
                           "within valid_from/valid_until")


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
