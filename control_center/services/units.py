"""The administrative tree's changes after creation: rename, move and retire a unit.

Every change is limited to the actor's subtree (a unit outside it answers 404, as if it did not
exist) and audited. Moving a unit changes which devices its ancestors' unit-targeted schedules
reach, so the manifests of every device below it are rebuilt after the commit. A retired unit
keeps its history but takes no new units or devices (``services.fleet`` refuses those).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Conflict, UnknownReference
from control_center.models import AdminUnit, Device, DeviceState
from control_center.services import fleet


@dataclass(frozen=True, slots=True)
class NewParent:
    """Where a unit moves: below ``unit_id``, or to the top of the tree with None."""

    unit_id: int | None


def visible_unit(session: Session, *, unit_id: int, actor: Actor) -> AdminUnit:
    """The unit, or 404 when it does not exist or lies outside the actor's subtree."""
    actor.require_unit(unit_id, what=f"unit {unit_id}")
    return fleet.get_unit(session, unit_id=unit_id)


def open_parent(session: Session, *, unit_id: int | None, actor: Actor) -> AdminUnit | None:
    """A unit that may take new units below it: in the actor's subtree (404 otherwise, as if
    it did not exist), existing (422) and not retired (409). Only the system token places a
    unit at the top of the tree (``unit_id`` None)."""
    if unit_id is None:
        if not actor.is_system:
            raise UnknownReference("a unit without a parent is a root of the whole tree: choose "
                                   "a parent unit of your subtree")
        return None
    actor.require_unit(unit_id, what=f"parent unit {unit_id}")  # outside: 404
    parent = session.get(AdminUnit, unit_id)
    if parent is None:
        raise UnknownReference(f"parent unit {unit_id} does not exist")
    if parent.retired_at is not None:
        raise Conflict(f"unit {parent.name!r} is retired: it takes no new units, choose another "
                       "parent")
    return parent


def create_unit(
    session: Session, *, code: str, name: str, level: str, parent_id: int | None,
    actor: Actor, now: datetime,
) -> AdminUnit:
    """A new unit below one the actor covers (that is not retired)."""
    open_parent(session, unit_id=parent_id, actor=actor)
    return fleet.create_unit(session, code=code, name=name, level=level, parent_id=parent_id,
                             actor=actor, now=now)


def update_unit(
    session: Session, *, unit_id: int, name: str | None = None, code: str | None = None,
    parent: NewParent | None = None, actor: Actor, now: datetime,
) -> AdminUnit:
    """Rename a unit, change its code, or move it below another unit of the actor's subtree.

    A move below the unit itself or one of its descendants is refused (409), as is any change
    to a retired unit.
    """
    unit = visible_unit(session, unit_id=unit_id, actor=actor)
    if unit.retired_at is not None:
        raise Conflict(f"unit {unit.name!r} is retired and can no longer be changed")
    changes: dict[str, object] = {}
    if name is not None and name != unit.name:
        changes["name"] = [unit.name, name]
        unit.name = name
    if code is not None and code != unit.code:
        if session.scalar(select(AdminUnit.id).where(AdminUnit.code == code)) is not None:
            raise Conflict(f"a unit with code {code!r} already exists")
        changes["code"] = [unit.code, code]
        unit.code = code
    if parent is not None and parent.unit_id != unit.parent_id:
        _move(session, unit, parent.unit_id, actor=actor)
        changes["parent_id"] = [unit.parent_id, parent.unit_id]
        unit.parent_id = parent.unit_id
    if changes:
        audit.record(session, actor=actor, action="move" if "parent_id" in changes else "update",
                     object_type="unit", object_id=unit.id, detail=changes, at=now)
    session.commit()
    return unit


def _move(session: Session, unit: AdminUnit, parent_id: int | None, *, actor: Actor) -> None:
    """Check the new parent and note every device below the unit for a new manifest."""
    below = descendant_unit_ids(session, unit_ids=[unit.id])
    if parent_id in below:
        where = "itself" if parent_id == unit.id else "one of its own sub-units"
        raise Conflict(f"đơn vị không thể chuyển vào chính nó hoặc đơn vị cấp dưới của nó / "
                       f"unit {unit.name!r} cannot move below {where} (unit {parent_id}): "
                       "that would make a loop in the tree")
    open_parent(session, unit_id=parent_id, actor=actor)
    manifests_changed(session, session.scalars(select(Device.id).where(
        Device.unit_id.in_(below), Device.state == DeviceState.ACTIVE)))


def retire_unit(session: Session, *, unit_id: int, actor: Actor, now: datetime) -> AdminUnit:
    """Retire an empty unit: refused (409, with the counts) while it has active devices or
    sub-units that are not retired."""
    unit = visible_unit(session, unit_id=unit_id, actor=actor)
    if unit.retired_at is not None:
        raise Conflict(f"unit {unit.name!r} is already retired")
    if unit.id == actor.unit_id:
        raise Conflict("bạn không thể ngừng đơn vị của chính mình / you cannot retire your own "
                       "unit: an administrator of a unit above can")
    devices = session.scalar(select(func.count()).select_from(Device).where(
        Device.unit_id == unit.id, Device.state == DeviceState.ACTIVE)) or 0
    children = session.scalar(select(func.count()).select_from(AdminUnit).where(
        AdminUnit.parent_id == unit.id, AdminUnit.retired_at.is_(None))) or 0
    if devices or children:
        raise Conflict(f"đơn vị còn {devices} thiết bị đang hoạt động và {children} đơn vị cấp "
                       f"dưới chưa ngừng / unit {unit.name!r} still has {devices} active "
                       f"device(s) and {children} sub-unit(s) not retired: move or retire them "
                       "first")
    unit.retired_at = now
    audit.record(session, actor=actor, action="retire", object_type="unit", object_id=unit.id,
                 detail={"code": unit.code, "name": unit.name}, at=now)
    session.commit()
    return unit


def device_counts(session: Session, *, unit_ids: set[int]) -> dict[int, int]:
    """Active devices directly in each unit."""
    rows = session.execute(select(Device.unit_id, func.count()).where(
        Device.unit_id.in_(unit_ids), Device.state == DeviceState.ACTIVE)
        .group_by(Device.unit_id))
    return {unit_id: count for unit_id, count in rows}

