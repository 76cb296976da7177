"""Schedules: create, edit (new revision) and cancel; each returns the devices to republish.

A signed-in user schedules inside their unit subtree only: targets, the bulletin and the
schedule itself must lie in ``actor.scope`` (else 404, as if they did not exist), the bulletin
must be approved (409 otherwise) and the role needs ``Permission.SCHEDULE``. The system API
token (``scope`` None) acts on the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.permissions import Permission
from control_center.core.targets import (
    TargetSpec,
    check_targets,
    descendant_unit_ids,
    resolve_targets,
    spec_of,
)
from control_center.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    UnknownReference,
)
from control_center.models import (
    Bulletin,
    BulletinStatus,
    Device,
    DeviceGroupMember,
    Distribution,
    DistributionState,
    Role,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.schemas.content import ScheduleCreate, ScheduleUpdate, Targets
from control_center.services import conflicts, workflow
from control_center.services.schedule_timing import Timing, timing_for_create, validate_timing


@dataclass(frozen=True, slots=True)
class Proposal:
    """A validated schedule request, not yet written: what, when, to whom."""

    bulletin: Bulletin
    timing: Timing
    spec: TargetSpec
    devices: set[str]


# --- who sees what ---------------------------------------------------------------------------

def visible_bulletin_clause(actor: Actor) -> ColumnElement[bool] | None:
    """SQL condition for the bulletins the actor sees (None: all); see ``workflow``."""
    return workflow.visible_filter(actor)


def _device_units(session: Session, device_ids: Iterable[str]) -> dict[str, int]:
    ids = list(set(device_ids))
    if not ids:
        return {}
    rows = session.execute(select(Device.id, Device.unit_id).where(Device.id.in_(ids)))
    return {device_id: unit_id for device_id, unit_id in rows}


def _outside(session: Session, actor: Actor, spec: TargetSpec) -> list[str]:
    """The targets of ``spec`` the actor may not reach, named as in NotFound messages."""
    scope = actor.scope
    if scope is None:
        return []
    outside = [f"unit {u}" for u in spec.unit_ids if u not in scope]
    units = _device_units(session, spec.device_ids)
    outside += [f"device {d!r}" for d in spec.device_ids if units.get(d) not in scope]
    for group_id in spec.group_ids:
        members = list(session.scalars(select(DeviceGroupMember.device_id)
                                       .where(DeviceGroupMember.group_id == group_id)))
        member_units = _device_units(session, members)
        if actor.role != Role.ADMIN or not set(member_units.values()) <= scope:
            outside.append(f"group {group_id}")
    return outside


def schedule_visible(session: Session, *, actor: Actor, schedule: Schedule) -> bool:
    """Visible when made inside the actor's subtree or when all its targets lie inside it."""
    if actor.scope is None or (schedule.unit_id is not None and schedule.unit_id in actor.scope):
        return True
    return not _outside(session, actor, spec_of(schedule))


def get_schedule(
    session: Session, *, schedule_id: int, actor: Actor | None = None
) -> Schedule:
    """The schedule (404 when missing, or outside ``actor``'s subtree when an actor is given)."""
    schedule = session.scalar(
        select(Schedule).where(Schedule.id == schedule_id)
        .options(selectinload(Schedule.targets))
    )
    if schedule is None or (
            actor is not None and not schedule_visible(session, actor=actor, schedule=schedule)):
        raise NotFound(f"schedule {schedule_id} does not exist")
    return schedule


def changeable_schedule(
    session: Session, *, schedule_id: int, actor: Actor
) -> Schedule:
    """A schedule the actor may edit or cancel: visible (404) and made inside its subtree
    (403 for one an upper level placed in the actor's communes)."""
    actor.require(Permission.SCHEDULE)
    schedule = get_schedule(session, schedule_id=schedule_id, actor=actor)
    if not actor.is_system and not actor.covers(schedule.unit_id):
        raise Forbidden(f"lịch phát {schedule_id} do cấp trên đặt, không thể sửa hay hủy / "
                        f"schedule {schedule_id} was placed by an upper level: you may not "
                        "change or cancel it")
    return schedule


def list_schedules(
    session: Session, *, bulletin_id: int | None = None, active: bool | None = None,
    limit: int = 500, offset: int = 0, actor: Actor | None = None,
) -> list[Schedule]:
    """Newest first; with an actor, only the schedules visible to it."""
    query = select(Schedule).options(selectinload(Schedule.targets))
    if bulletin_id is not None:
        query = query.where(Schedule.bulletin_id == bulletin_id)
    if active is True:
        query = query.where(Schedule.cancelled_at.is_(None))
    elif active is False:
        query = query.where(Schedule.cancelled_at.is_not(None))
    query = query.order_by(Schedule.id.desc())
    if actor is None or actor.scope is None:
        return list(session.scalars(query.limit(limit).offset(offset)))
    found = [s for s in session.scalars(query)
             if schedule_visible(session, actor=actor, schedule=s)]
    return found[offset:offset + limit]


# --- validation ------------------------------------------------------------------------------

def _spec(targets: Targets) -> TargetSpec:
    spec = TargetSpec(tuple(dict.fromkeys(targets.unit_ids)),
                      tuple(dict.fromkeys(targets.group_ids)),
                      tuple(dict.fromkeys(targets.device_ids)))
    if spec.empty:
        raise InvalidInput("a schedule needs at least one target (unit_ids, group_ids or "
                           "device_ids)")
    return spec


def _check_targets(session: Session, actor: Actor, spec: TargetSpec) -> None:
    """Targets outside the subtree: 404 (they do not exist for this actor); unknown: 422."""
    outside = _outside(session, actor, spec)
    if outside:
        raise NotFound("; ".join(f"{name} does not exist" for name in outside))
    check_targets(session, spec=spec)


def _set_targets(schedule: Schedule, spec: TargetSpec) -> None:
    schedule.targets = (
        [ScheduleTarget(unit_id=u) for u in spec.unit_ids]
        + [ScheduleTarget(group_id=g) for g in spec.group_ids]
        + [ScheduleTarget(device_id=d) for d in spec.device_ids]
    )


def usable_bulletin(session: Session, *, actor: Actor, bulletin_id: int) -> Bulletin:
    """The bulletin if the actor sees it (404; 422 for the system token when it is unknown)
    and it is approved (409 otherwise)."""
    if actor.scope is None:
        bulletin = session.get(Bulletin, bulletin_id)
        if bulletin is None:
            raise UnknownReference(f"bulletin {bulletin_id} does not exist")
    else:
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    if not bulletin.status.broadcastable:
        raise Conflict(f"bản tin chưa được duyệt / the bulletin is not approved yet "
                       f"(status: {bulletin.status.value})")
    return bulletin


def _length(session: Session, bulletin: Bulletin) -> timedelta:
    """How long one occurrence of ``bulletin`` plays (see ``conflicts.play_duration``)."""
    return conflicts.bulletin_durations(session, [bulletin])[bulletin.id]


def prepare_schedule(
    session: Session, *, data: ScheduleCreate, default_tz: str, actor: Actor,
    now: datetime,
) -> Proposal:
    """Every check of ``create_schedule`` without writing; the devices it would reach."""
    actor.require(Permission.SCHEDULE)
    timing = timing_for_create(data, default_tz)
    spec = _spec(data.targets)
    bulletin = usable_bulletin(session, actor=actor, bulletin_id=data.bulletin_id)
    _check_targets(session, actor, spec)
    validate_timing(timing, now=now, length=_length(session, bulletin))
    return Proposal(bulletin, timing, spec, resolve_targets(session, spec=spec, check=False))


# --- writes ----------------------------------------------------------------------------------

def _mark_scheduled(
    session: Session, *, bulletin: Bulletin, schedule: Schedule, spec: TargetSpec,
    devices: set[str], actor: Actor, now: datetime,
) -> None:
    """An approved bulletin becomes scheduled; the distributions to the communes it now
    reaches leave their inbox."""
    workflow.mark_scheduled(session, bulletin=bulletin, actor=actor, now=now)
    reached = descendant_unit_ids(session, unit_ids=spec.unit_ids)
    reached |= set(_device_units(session, devices).values())
    inbox = session.scalars(select(Distribution).where(
        Distribution.bulletin_id == bulletin.id, Distribution.state == DistributionState.INBOX,
        Distribution.unit_id.in_(reached)))
    for row in inbox:
        row.state, row.schedule_id = DistributionState.SCHEDULED, schedule.id
        row.decided_by, row.decided_at = actor.name, now


def create_schedule(
    session: Session, *, data: ScheduleCreate, default_tz: str, actor: Actor,
    now: datetime,
) -> tuple[Schedule, set[str]]:
    """Check (see ``prepare_schedule``) and store a schedule; returns it and its devices."""
    schedule, devices = add_schedule(session, data=data, default_tz=default_tz, actor=actor,
                                     now=now)
    session.commit()
    return schedule, devices


def add_schedule(
    session: Session, *, data: ScheduleCreate, default_tz: str, actor: Actor,
    now: datetime,
) -> tuple[Schedule, set[str]]:
    """``create_schedule`` inside the caller's transaction (not committed)."""
    proposal = prepare_schedule(session, data=data, default_tz=default_tz, actor=actor, now=now)
    timing = proposal.timing
    schedule = Schedule(
        bulletin_id=data.bulletin_id, kind=timing.kind, start_at=timing.start_at,
        rrule=timing.rrule, valid_from=timing.valid_from, valid_until=timing.valid_until,
        timezone=timing.timezone, revision=1, created_at=now, updated_at=now,
        unit_id=actor.unit_id, created_by=actor.name,
    )
    _set_targets(schedule, proposal.spec)
    session.add(schedule)
    session.flush()
    _mark_scheduled(session, bulletin=proposal.bulletin, schedule=schedule, spec=proposal.spec,
                    devices=proposal.devices, actor=actor, now=now)
    audit.record(session, actor=actor, action="create", object_type="schedule",
                 object_id=schedule.id, detail=data.model_dump(mode="json"), at=now)
    manifests_changed(session, proposal.devices)
    return schedule, proposal.devices


def update_schedule(
    session: Session, *, schedule_id: int, data: ScheduleUpdate, actor: Actor,
    now: datetime,
) -> tuple[Schedule, set[str]]:
    """Apply the changes as a new revision; returns old ∪ new target devices."""
    schedule = changeable_schedule(session, schedule_id=schedule_id, actor=actor)
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
    bulletin = None
    if data.bulletin_id is not None:
        bulletin = usable_bulletin(session, actor=actor, bulletin_id=data.bulletin_id)
        schedule.bulletin_id = data.bulletin_id
    spec = spec_of(schedule)
    if data.targets is not None:
        spec = _spec(data.targets)
        _check_targets(session, actor, spec)
    validate_timing(timing, now=now, length=_length(
        session, bulletin or session.get_one(Bulletin, schedule.bulletin_id)))
    schedule.start_at, schedule.rrule = timing.start_at, timing.rrule
    schedule.valid_from, schedule.valid_until = timing.valid_from, timing.valid_until
    schedule.timezone = timing.timezone
    if data.targets is not None:
        _set_targets(schedule, spec)
    schedule.revision += 1
    schedule.updated_at = now
    new_devices = resolve_targets(session, spec=spec, check=False)
    if bulletin is not None:
        _mark_scheduled(session, bulletin=bulletin, schedule=schedule, spec=spec,
                        devices=new_devices, actor=actor, now=now)
    audit.record(session, actor=actor, action="update", object_type="schedule",
                 object_id=schedule.id,
                 detail={"revision": schedule.revision,
                         **data.model_dump(mode="json", exclude_unset=True)}, at=now)
    manifests_changed(session, old_devices | new_devices)
    session.commit()
    return schedule, old_devices | new_devices


def cancel_schedule(
    session: Session, *, schedule_id: int, actor: Actor, now: datetime
) -> tuple[Schedule, set[str]]:
    """Cancel (idempotent); returns the devices that must drop its items.

    A bulletin left without any active schedule goes back to approved, and the distributions
    this schedule served go back to the commune's inbox.
    """
    schedule = changeable_schedule(session, schedule_id=schedule_id, actor=actor)
    devices = resolve_targets(session, spec=spec_of(schedule), check=False)
    if schedule.cancelled_at is None:
        schedule.cancelled_at = now
        schedule.updated_at = now
        _unmark_scheduled(session, schedule, actor=actor, now=now)
        audit.record(session, actor=actor, action="cancel", object_type="schedule",
                     object_id=schedule.id, detail={"revision": schedule.revision}, at=now)
    manifests_changed(session, devices)
    session.commit()
    return schedule, devices


def _unmark_scheduled(
    session: Session, schedule: Schedule, *, actor: Actor, now: datetime
) -> None:
    for row in session.scalars(select(Distribution).where(
            Distribution.schedule_id == schedule.id,
            Distribution.state == DistributionState.SCHEDULED)):
        row.state, row.schedule_id = DistributionState.INBOX, None
        row.decided_by, row.decided_at = None, None
    others = session.scalar(select(Schedule.id).where(
        Schedule.bulletin_id == schedule.bulletin_id, Schedule.id != schedule.id,
        Schedule.cancelled_at.is_(None)).limit(1))
    bulletin = session.get(Bulletin, schedule.bulletin_id)
    if others is None and bulletin is not None and bulletin.status == BulletinStatus.SCHEDULED:
        bulletin.status = BulletinStatus.APPROVED
        audit.record(session, actor=actor, action="unscheduled", object_type="bulletin",
                     object_id=bulletin.id, at=now,
                     detail={"status": bulletin.status.value, "schedule_id": schedule.id})
