"""Which broker each device is on (docs/devices.md, "Several brokers").

A unit may name a broker (``admin_units.broker``); a device's broker is the nearest name up its
unit's ancestors, else ``main``. It is recorded on the device (``devices.broker``) when the
device is registered and again when it is enrolled: its account is created on that broker and
its enrolment answer carries that broker's address. A device whose recorded broker is not its
unit's is counted as ``waiting`` in ``GET /api/v1/brokers`` until it moves (by a
``move_broker`` command, ``services.broker_moves``, or at its enrolment).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from control_center.broker.registry import MAIN
from control_center.broker.routing import DeviceBrokers
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import Conflict, FieldError
from control_center.models import AdminUnit, Device, DeviceState

_NOTED = "tt.brokers_noted"
_UNIT_BROKERS = "tt.unit_brokers"  # (transaction, every unit's broker) for broker_for_unit


@dataclass(frozen=True, slots=True)
class BrokerLoad:
    """Active devices recorded on a broker, and those whose unit now names another one."""

    devices: int
    waiting: int  # recorded on this broker, assigned elsewhere: moved at their next enrolment


def unit_brokers(session: Session) -> dict[int, str]:
    """Every unit's broker (its own name, else its nearest ancestor's, else ``main``)."""
    rows = {uid: (parent, broker) for uid, parent, broker in session.execute(
        select(AdminUnit.id, AdminUnit.parent_id, AdminUnit.broker))}
    resolved: dict[int, str] = {}
    for start in rows:
        chain: list[int] = []
        current: int | None = start
        found = MAIN
        while current is not None:
            if current in resolved:
                found = resolved[current]
                break
            if current not in rows or current in chain:
                break
            parent, broker = rows[current]
            chain.append(current)
            if broker is not None:
                found = broker
                break
            current = parent
        for each in chain:
            resolved[each] = found
    return resolved


def broker_for_unit(session: Session, *, unit_id: int) -> str:
    """The broker of devices placed in ``unit_id`` (the nearest assignment up its ancestors).
    Every unit's is read once per transaction (a CSV import registers thousands of devices)."""
    transaction = session.get_transaction()
    cached = session.info.get(_UNIT_BROKERS)
    if cached is None or cached[0] is not transaction or unit_id not in cached[1]:
        cached = (transaction, unit_brokers(session))
        session.info[_UNIT_BROKERS] = cached
    return cached[1].get(unit_id, MAIN)


def assign_unit(session: Session, *, unit: AdminUnit, broker: str | None,
                known: Collection[str], actor: Actor, now: datetime) -> AdminUnit:
    """Name the broker of the devices below ``unit`` (None: inherit the parent's); audited.
    Devices already registered keep theirs until they are enrolled again."""
    if broker is not None and broker not in known:
        raise FieldError("broker", f"unknown broker {broker!r}; known: {', '.join(known)} "
                         "(brokers are configured by TT_BROKERS_FILE)")
    if unit.retired_at is not None:
        raise Conflict(f"unit {unit.name!r} is retired and can no longer be changed")
    if unit.broker == broker:
        return unit
    before, unit.broker = unit.broker, broker
    session.info.pop(_UNIT_BROKERS, None)
    audit.record(session, actor=actor, action="assign_broker", object_type="unit",
                 object_id=unit.id, detail={"from": before, "to": broker}, at=now)
    session.commit()
    return unit


def broker_loads(session: Session) -> dict[str, BrokerLoad]:
    """Per broker name recorded on an active device: its devices and those waiting to move."""
    assigned = unit_brokers(session)
    devices: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    for unit_id, broker in session.execute(select(Device.unit_id, Device.broker).where(
            Device.state == DeviceState.ACTIVE)):
        devices[broker] += 1
        if assigned.get(unit_id, MAIN) != broker:
            waiting[broker] += 1
    return {name: BrokerLoad(devices[name], waiting[name]) for name in devices}


def device_brokers(session: Session, device_ids: Collection[str] | None) -> dict[str, str]:
    """The recorded broker of these devices (None: of every device)."""
    query = select(Device.id, Device.broker)
    if device_ids is not None:
        query = query.where(Device.id.in_(list(device_ids)))
    return {device_id: broker for device_id, broker in session.execute(query)}


def broker_map(sessions: sessionmaker[Session], *, max_age_s: float = 60.0) -> DeviceBrokers:
    """A ``DeviceBrokers`` loading from ``sessions``."""
    def load(device_ids: Collection[str] | None) -> Mapping[str, str]:
        with sessions() as session:
            return device_brokers(session, device_ids)
    return DeviceBrokers(load, max_age_s=max_age_s)


def note_flushed_devices(sessions: sessionmaker[Session], devices: DeviceBrokers) -> None:
    """Tell ``devices`` of every device row flushed new or with a changed broker, so an
    account is created on the right broker before the registration commits; a rollback
    takes it back."""
    def after_flush(session: Session, _context: object) -> None:
        noted: set[str] = session.info.setdefault(_NOTED, set())
        changed = [o for o in session.dirty
                   if isinstance(o, Device) and inspect(o).attrs.broker.history.has_changes()]
        for obj in (*(o for o in session.new if isinstance(o, Device)), *changed):
            if obj.broker is not None:
                devices.note(obj.id, obj.broker)
                noted.add(obj.id)

    def after_commit(session: Session) -> None:
        session.info.pop(_NOTED, None)

    def after_rollback(session: Session, _previous: object) -> None:
        if noted := session.info.pop(_NOTED, None):
            devices.unnote(noted)

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_soft_rollback", after_rollback)
