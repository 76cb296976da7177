"""Schedules: create, edit (new revision) and cancel; each returns the devices to republish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from control_center.errors import Conflict, InvalidInput, NotFound, UnknownReference
from control_center.models import Bulletin, Schedule, ScheduleKind, ScheduleTarget
from control_center.schemas.content import ScheduleCreate, ScheduleUpdate, Targets
from control_center.services import audit
from control_center.services.expansion import Recurrence, next_recurring, parse_rule, zone
from control_center.services.targets import TargetSpec, check_targets, resolve_targets, spec_of


@dataclass(frozen=True, slots=True)
class Timing:
    kind: ScheduleKind
    start_at: datetime | None
    rrule: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    timezone: str


def get_schedule(session: Session, *, schedule_id: int) -> Schedule:
    schedule = session.scalar(
        select(Schedule).where(Schedule.id == schedule_id)
        .options(selectinload(Schedule.targets))
    )
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    return schedule


def list_schedules(
    session: Session, *, bulletin_id: int | None = None, active: bool | None = None,
    limit: int = 500, offset: int = 0,
) -> list[Schedule]:
    query = select(Schedule).options(selectinload(Schedule.targets))
    if bulletin_id is not None:
        query = query.where(Schedule.bulletin_id == bulletin_id)
    if active is True:
        query = query.where(Schedule.cancelled_at.is_(None))
    elif active is False:
        query = query.where(Schedule.cancelled_at.is_not(None))
    return list(session.scalars(query.order_by(Schedule.id.desc()).limit(limit).offset(offset)))


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


def _timing_for_create(data: ScheduleCreate, default_tz: str) -> Timing:
    if (data.start_at is None) == (data.rrule is None):
        raise InvalidInput("give either start_at (one-off) or rrule + valid_from (recurring)")
    if data.start_at is not None and (data.valid_from or data.valid_until):
        raise InvalidInput("valid_from/valid_until apply to recurring schedules only")
    kind = ScheduleKind.ONE_OFF if data.start_at is not None else ScheduleKind.RECURRING
    return Timing(kind, data.start_at, data.rrule and data.rrule.strip(), data.valid_from,
                  data.valid_until, data.timezone or default_tz)


def _spec(targets: Targets) -> TargetSpec:
    spec = TargetSpec(tuple(dict.fromkeys(targets.unit_ids)),
                      tuple(dict.fromkeys(targets.group_ids)),
                      tuple(dict.fromkeys(targets.device_ids)))
    if spec.empty:
        raise InvalidInput("a schedule needs at least one target (unit_ids, group_ids or "
                           "device_ids)")
    return spec


def _set_targets(schedule: Schedule, spec: TargetSpec) -> None:
    schedule.targets = (
        [ScheduleTarget(unit_id=u) for u in spec.unit_ids]
        + [ScheduleTarget(group_id=g) for g in spec.group_ids]
        + [ScheduleTarget(device_id=d) for d in spec.device_ids]
    )


def _check_bulletin(session: Session, bulletin_id: int) -> None:
    if session.get(Bulletin, bulletin_id) is None:
        raise UnknownReference(f"bulletin {bulletin_id} does not exist")


def create_schedule(
    session: Session, *, data: ScheduleCreate, default_tz: str, actor: audit.Actor,
    now: datetime,
) -> tuple[Schedule, set[str]]:
    timing = _timing_for_create(data, default_tz)
    spec = _spec(data.targets)
    _check_bulletin(session, data.bulletin_id)
    check_targets(session, spec=spec)
    validate_timing(timing, now=now)
    schedule = Schedule(
        bulletin_id=data.bulletin_id, kind=timing.kind, start_at=timing.start_at,
        rrule=timing.rrule, valid_from=timing.valid_from, valid_until=timing.valid_until,
        timezone=timing.timezone, revision=1, created_at=now, updated_at=now,
    )
    _set_targets(schedule, spec)
    session.add(schedule)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="schedule",
                 object_id=schedule.id, detail=data.model_dump(mode="json"), at=now)
    devices = resolve_targets(session, spec=spec, check=False)
    session.commit()
    return schedule, devices


def update_schedule(
    session: Session, *, schedule_id: int, data: ScheduleUpdate, actor: audit.Actor,
    now: datetime,
) -> tuple[Schedule, set[str]]:
    """Apply the changes as a new revision; returns old ∪ new target devices."""
    schedule = get_schedule(session, schedule_id=schedule_id)
    if schedule.cancelled_at is not None:
        raise Conflict(f"schedule {schedule_id} was cancelled at "
                       f"{schedule.cancelled_at.isoformat()}; create a new one")
    changes = data.model_fields_set
    if not changes:
        raise InvalidInput("nothing to change: give at least one field")
    if schedule.kind == ScheduleKind.ONE_OFF and changes & {"rrule", "valid_from", "valid_until"}:
        raise InvalidInput("a one-off schedule has no rrule/validity: cancel it and create a "
                           "recurring one")
    if schedule.kind == ScheduleKind.RECURRING and "start_at" in changes:
        raise InvalidInput("a recurring schedule has no start_at: change rrule or valid_from")
    for name in ("bulletin_id", "start_at", "rrule", "valid_from", "timezone"):
        if name in changes and getattr(data, name) is None:
            raise InvalidInput(f"{name} cannot be null")
    old_devices = resolve_targets(session, spec=spec_of(schedule), check=False)
    timing = Timing(
        schedule.kind,
        data.start_at if "start_at" in changes else schedule.start_at,
        data.rrule.strip() if data.rrule is not None else schedule.rrule,
        data.valid_from if "valid_from" in changes else schedule.valid_from,
        data.valid_until if "valid_until" in changes else schedule.valid_until,
        data.timezone or schedule.timezone,
    )
    if data.bulletin_id is not None:
        _check_bulletin(session, data.bulletin_id)
        schedule.bulletin_id = data.bulletin_id
    spec = spec_of(schedule)
    if data.targets is not None:
        spec = _spec(data.targets)
        check_targets(session, spec=spec)
    validate_timing(timing, now=now)
    schedule.start_at, schedule.rrule = timing.start_at, timing.rrule
    schedule.valid_from, schedule.valid_until = timing.valid_from, timing.valid_until
    schedule.timezone = timing.timezone
    if data.targets is not None:
        _set_targets(schedule, spec)
    schedule.revision += 1
    schedule.updated_at = now
    audit.record(session, actor=actor, action="update", object_type="schedule",
                 object_id=schedule.id,
                 detail={"revision": schedule.revision,
                         **data.model_dump(mode="json", exclude_unset=True)}, at=now)
    new_devices = resolve_targets(session, spec=spec, check=False)
    session.commit()
    return schedule, old_devices | new_devices


def cancel_schedule(
    session: Session, *, schedule_id: int, actor: audit.Actor, now: datetime
) -> tuple[Schedule, set[str]]:
    """Cancel (idempotent); returns the devices that must drop its items."""
    schedule = get_schedule(session, schedule_id=schedule_id)
    devices = resolve_targets(session, spec=spec_of(schedule), check=False)
    if schedule.cancelled_at is None:
        schedule.cancelled_at = now
        schedule.updated_at = now
        audit.record(session, actor=actor, action="cancel", object_type="schedule",
                     object_id=schedule.id, detail={"revision": schedule.revision}, at=now)
    session.commit()
    return schedule, devices


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
