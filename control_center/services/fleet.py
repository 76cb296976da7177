"""Administrative units, devices and device groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.broker.accounts import BrokerAccounts
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Conflict, InvalidInput, NotFound, UnknownReference
from control_center.models import AdminUnit, Device, DeviceGroup, DeviceGroupMember, DeviceState
from control_center.security import generate_password, mosquitto_hash
from control_center.services import brokers
from protocol.errors import TopicError
from protocol.events import DeviceKind
from protocol.topics import DEVICE_ID_RE, validate_device_id


def get_unit(session: Session, *, unit_id: int) -> AdminUnit:
    unit = session.get(AdminUnit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    return unit


def create_unit(
    session: Session, *, code: str, name: str, level: str, parent_id: int | None,
    actor: Actor, now: datetime,
) -> AdminUnit:
    if not level.strip():
        raise InvalidInput("level must not be empty (e.g. 'province', 'commune')")
    if parent_id is not None and session.get(AdminUnit, parent_id) is None:
        raise UnknownReference(f"parent unit {parent_id} does not exist")
    if session.scalar(select(AdminUnit.id).where(AdminUnit.code == code)) is not None:
        raise Conflict(f"a unit with code {code!r} already exists")
    unit = AdminUnit(code=code, name=name, level=level.strip(), parent_id=parent_id,
                     created_at=now)
    session.add(unit)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="unit", object_id=unit.id,
                 detail={"code": code, "name": name, "level": unit.level, "parent_id": parent_id},
                 at=now)
    session.commit()
    return unit


def list_units(session: Session, *, parent_id: int | None = None) -> list[AdminUnit]:
    query = select(AdminUnit).order_by(AdminUnit.id)
    if parent_id is not None:
        query = query.where(AdminUnit.parent_id == parent_id)
    return list(session.scalars(query))


def get_device(session: Session, *, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"device {device_id!r} does not exist")
    return device


def add_device(
    session: Session, *, device_id: str, name: str, kind: DeviceKind, unit_id: int,
    lat: float | None, lon: float | None, actor: Actor, now: datetime,
    password: str | None = None,
) -> Device:
    """Add a device to the session (flushed, not committed) with its audit entry; without
    ``password`` it has no usable broker credential until it is enrolled."""
    try:
        validate_device_id(device_id)
        if not DEVICE_ID_RE.fullmatch(device_id):  # the protocol's "$" lets a final "\n" pass
            raise TopicError(f"invalid device id {device_id!r}: no trailing newline allowed")
    except TopicError as exc:
        raise InvalidInput(str(exc)) from exc
    unit = session.get(AdminUnit, unit_id)
    if unit is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    if unit.retired_at is not None:
        raise Conflict(f"unit {unit.name!r} is retired: choose another unit")
    if session.get(Device, device_id) is not None:
        raise Conflict(f"device {device_id!r} already exists")
    device = Device(
        id=device_id, name=name, kind=kind, unit_id=unit_id, lat=lat, lon=lon,
        mqtt_password_hash=mosquitto_hash(password or generate_password()), online=False,
        agent_version="", created_at=now, state=DeviceState.ACTIVE, state_reason="",
        broker=brokers.broker_for_unit(session, unit_id=unit_id),
    )
    session.add(device)
    audit.record(session, actor=actor, action="create", object_type="device", object_id=device_id,
                 detail={"name": name, "kind": kind.value, "unit_id": unit_id}, at=now)
    manifests_changed(session, [device_id])  # its first manifest, empty or not
    session.flush()
    return device


def create_device(
    session: Session, accounts: BrokerAccounts, *, device_id: str, name: str, kind: DeviceKind,
    unit_id: int, lat: float | None, lon: float | None, actor: Actor, now: datetime,
) -> tuple[Device, str]:
    """Register a device with a broker account; returns it with its password (shown once,
    stored hashed). The broker confirms the account before the device is committed."""
    password = generate_password()
    device = add_device(session, device_id=device_id, name=name, kind=kind, unit_id=unit_id,
                        lat=lat, lon=lon, actor=actor, now=now, password=password)
    accounts.create(device_id, password)
    session.commit()
    return device, password


def list_devices(
    session: Session, *, unit_id: int | None = None, recursive: bool = False,
    scope: frozenset[int] | None = None, after: str | None = None, limit: int | None = None,
) -> list[Device]:
    """Devices by id; only those of ``scope``'s units (None: all); with ``after`` and
    ``limit``, one page of them (keyset: the ids after ``after``)."""
    query = select(Device).order_by(Device.id)
    if unit_id is not None:
        get_unit(session, unit_id=unit_id)
        units = descendant_unit_ids(session, unit_ids=[unit_id]) if recursive else {unit_id}
        query = query.where(Device.unit_id.in_(units))
    if scope is not None:
        query = query.where(Device.unit_id.in_(sorted(scope)))
    if after is not None:
        query = query.where(Device.id > after)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def get_group(session: Session, *, group_id: int, actor: Actor | None = None) -> DeviceGroup:
    """The group; with ``actor``, 404 unless every member lies in the actor's subtree."""
    group = session.get(DeviceGroup, group_id)
    if group is None or (actor is not None and not group_covered(session, actor, group)):
        raise NotFound(f"group {group_id} does not exist")
    return group


def group_covered(session: Session, actor: Actor, group: DeviceGroup) -> bool:
    """A group is inside a subtree when all its devices are (the schedule targets' rule)."""
    if actor.scope is None:
        return True
    units = session.scalars(select(Device.unit_id).join(
        DeviceGroupMember, DeviceGroupMember.device_id == Device.id)
        .where(DeviceGroupMember.group_id == group.id))
    return all(actor.covers(unit_id) for unit_id in units)


def create_group(
    session: Session, *, name: str, device_ids: list[str], actor: Actor, now: datetime
) -> DeviceGroup:
    if session.scalar(select(DeviceGroup.id).where(DeviceGroup.name == name)) is not None:
        raise Conflict(f"a group named {name!r} already exists")
    wanted = sorted(set(device_ids))
    found = {device_id for device_id, unit_id in session.execute(
        select(Device.id, Device.unit_id).where(Device.id.in_(wanted))) if actor.covers(unit_id)}
    missing = [d for d in wanted if d not in found]  # outside the subtree: as if unknown
    if missing:
        raise UnknownReference(f"unknown device(s): {', '.join(repr(d) for d in missing)}")
    group = DeviceGroup(name=name, created_at=now,
                        members=[DeviceGroupMember(device_id=d) for d in wanted])
    session.add(group)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="group", object_id=group.id,
                 detail={"name": name, "device_ids": wanted}, at=now)
    session.commit()
    return group


def list_groups(session: Session, *, actor: Actor | None = None) -> list[DeviceGroup]:
    """Every group, or with ``actor`` those wholly inside the actor's subtree."""
    groups = session.scalars(select(DeviceGroup).order_by(DeviceGroup.id))
    return [g for g in groups if actor is None or group_covered(session, actor, g)]


def get_visible_device(session: Session, *, actor: Actor, device_id: str) -> Device:
    """The device, or 404 when it does not exist or lies outside the caller's subtree."""
    device = get_device(session, device_id=device_id)
    actor.require_unit(device.unit_id, what=f"device {device_id!r}")
    return device
