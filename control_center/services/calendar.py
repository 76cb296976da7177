"""The week calendar: what plays when on the devices of a unit subtree, in local time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.targets import descendant_unit_ids, resolve_targets, spec_of
from control_center.errors import NotFound
from control_center.models import (
    AdminUnit,
    Bulletin,
    BulletinKind,
    BulletinStatus,
    Device,
    Distribution,
    DistributionState,
)
from control_center.services.conflicts import bulletin_durations, timing_instants, timing_of
from control_center.services.expansion import zone
from control_center.services.schedules import (
    list_schedules,
    schedule_visible,
    visible_bulletin_clause,
)
from protocol.base import Priority


@dataclass(frozen=True, slots=True)
class Entry:
    """One occurrence of a schedule in the calendar."""

    schedule_id: int
    bulletin_id: int
    title: str
    priority: Priority
    start: datetime  # local time
    devices: int  # devices of the shown subtree it reaches
    linked: bool = True  # False: placed by a level above; shown, but its page is not the actor's
    end: datetime | None = None  # a relay's window end, local time (None: plays its length)


def monday_of(day: date) -> date:
    """The Monday of the week holding ``day``."""
    return day - timedelta(days=day.weekday())


def week_bounds(monday: date, local_tz: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) local, as UTC instants."""
    tz = zone(local_tz)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def check_unit(session: Session, *, actor: Actor, unit_id: int) -> AdminUnit:
    """The unit, when it exists inside the actor's subtree (404 otherwise)."""
    unit = session.get(AdminUnit, unit_id)
    if unit is None or not actor.covers(unit_id):
        raise NotFound(f"unit {unit_id} does not exist")
    return unit


def week_entries(
    session: Session, *, actor: Actor, unit_id: int | None, monday: date, local_tz: str,
) -> list[Entry]:
    """Occurrences in the local week of every active schedule that reaches a device of
    ``unit_id``'s subtree (None: every device the actor may see), sorted by time.

    A commune sees everything its speakers will play, including what the levels above placed
    on them (``linked`` False when the schedule itself is not the actor's to open).
    Occurrences before a schedule was made are left out: they never played.
    """
    start, end = week_bounds(monday, local_tz)
    device_query = select(Device.id)
    if unit_id is not None:
        check_unit(session, actor=actor, unit_id=unit_id)
        units = descendant_unit_ids(session, unit_ids=[unit_id])
        device_query = device_query.where(Device.unit_id.in_(units))
    elif actor.scope is not None:
        device_query = device_query.where(Device.unit_id.in_(actor.scope))
    shown = set(session.scalars(device_query))
    tz = zone(local_tz)
    schedules = list_schedules(session, active=True, limit=100_000)
    bulletins = {b.id: b for b in session.scalars(select(Bulletin).where(
        Bulletin.id.in_({s.bulletin_id for s in schedules})))}
    windows = bulletin_durations(session, [  # relays show as windows [start, end)
        b for b in bulletins.values() if b.kind == BulletinKind.RELAY])
    entries: list[Entry] = []
    for schedule in schedules:
        reached = resolve_targets(session, spec=spec_of(schedule), check=False) & shown
        bulletin = bulletins.get(schedule.bulletin_id)
        if not reached or bulletin is None:
            continue
        linked = schedule_visible(session, actor=actor, schedule=schedule)
        for instant in timing_instants(timing_of(schedule), start=start,
                                       end=end - timedelta(microseconds=1)):
            if instant >= schedule.created_at:
                window = windows.get(bulletin.id)
                entries.append(Entry(schedule.id, bulletin.id, bulletin.title,
                                     bulletin.priority, instant.astimezone(tz), len(reached),
                                     linked, (instant + window).astimezone(tz)
                                     if window is not None else None))
    entries.sort(key=lambda e: (e.start, e.schedule_id))
    return entries


def unscheduled_bulletins(
    session: Session, *, actor: Actor, limit: int = 100
) -> list[Bulletin]:
    """Bulletins ready to schedule: approved ones the actor sees that no schedule plays yet,
    and those an upper level sent to the actor's subtree still waiting in its inbox."""
    clause = visible_bulletin_clause(actor)
    approved = Bulletin.status == BulletinStatus.APPROVED
    inbox = select(Distribution.bulletin_id).where(Distribution.state == DistributionState.INBOX)
    if actor.scope is not None:
        inbox = inbox.where(Distribution.unit_id.in_(actor.scope))
    ready = or_(approved if clause is None else and_(approved, clause),
                and_(Bulletin.status.in_([BulletinStatus.APPROVED, BulletinStatus.SCHEDULED]),
                     Bulletin.id.in_(inbox)))
    query = select(Bulletin).where(ready).order_by(Bulletin.id.desc()).limit(limit)
    return list(session.scalars(query))


def subtree_units(session: Session, *, actor: Actor) -> list[tuple[AdminUnit, int]]:
    """The units the actor may act on, in tree order, each with its depth below the top."""
    query = select(AdminUnit).order_by(AdminUnit.name, AdminUnit.id)
    if actor.scope is not None:
        query = query.where(AdminUnit.id.in_(actor.scope))
    units = list(session.scalars(query))
    ids = {u.id for u in units}
    children: dict[int | None, list[AdminUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id if unit.parent_id in ids else None, []).append(unit)
    ordered: list[tuple[AdminUnit, int]] = []

    def walk(level: Sequence[AdminUnit], depth: int) -> None:
        for unit in level:
            ordered.append((unit, depth))
            walk(children.get(unit.id, []), depth + 1)

    walk(children.get(None, []), 0)
    return ordered
