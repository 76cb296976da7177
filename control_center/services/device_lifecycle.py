"""A device's life after registration: rename and move, retire, revoke, bulk import, and the
rotation of its broker credential (docs/devices.md).

Retiring or revoking leaves every manifest (the device's next manifest is empty), disables its
broker account (disconnected at once, refused afterwards) and keeps its history. A revoked
device is one presumed stolen or compromised: it can never be enrolled again.

A credential rotation sends the new password in a signed ``rotate_credential`` command; the
broker takes it only once the device acknowledged the command (``credential_acknowledged``),
and the device keeps its old password as the fallback until the new one worked, so a lost
command or a center restart never locks a device out. The password in clear is kept in memory
only (``PendingPasswords``) until then.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.broker.accounts import BrokerAccounts
from control_center.broker.routing import Publisher
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.errors import Conflict, InvalidInput, NotFound, UnknownReference
from control_center.models import (
    AdminUnit,
    CommandKind,
    CommandResult,
    Device,
    DeviceCommand,
    DeviceState,
    DeviceStatusChange,
    PresenceCause,
)
from control_center.security import generate_password, mosquitto_hash
from control_center.services import commands, enrolment, fleet
from protocol.errors import TopicError
from protocol.events import DeviceKind
from protocol.manifest import RotateCredential
from protocol.signing import Signer
from protocol.topics import validate_device_id

log = logging.getLogger(__name__)
ROTATION_TTL = timedelta(days=7)  # a device away for a week still gets its rotation
CSV_COLUMNS = ("id", "name", "kind", "unit_code", "lat", "lon")
MAX_IMPORT_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class ImportedDevice:
    device: Device
    code: str
    expires_at: datetime


class PendingPasswords:
    """Passwords sent in rotation commands, by command id, until the device acknowledges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_command: dict[str, tuple[str, str]] = {}

    def put(self, command_id: str, device_id: str, password: str) -> None:
        with self._lock:
            self._by_command[command_id] = (device_id, password)

    def take(self, command_id: str) -> tuple[str, str] | None:
        with self._lock:
            return self._by_command.pop(command_id, None)

    def waiting(self) -> dict[str, str]:
        """Command id -> device id of every rotation not acknowledged yet."""
        with self._lock:
            return {command: device for command, (device, _) in self._by_command.items()}


def _visible(session: Session, actor: Actor, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None or not actor.covers(device.unit_id):
        raise NotFound(f"device {device_id!r} does not exist")
    return device


def _active(device: Device) -> None:
    if device.state != DeviceState.ACTIVE:
        raise Conflict(f"device {device.id!r} is {device.state.value} "
                       f"since {device.state_changed_at:%Y-%m-%d %H:%M} UTC")


def _open_unit(session: Session, actor: Actor, unit_id: int) -> AdminUnit:
    unit = session.get(AdminUnit, unit_id)
    if unit is None or not actor.covers(unit_id):
        raise UnknownReference(f"unit {unit_id} does not exist")
    if unit.retired_at is not None:
        raise Conflict(f"unit {unit.name!r} is retired: choose another unit")
    return unit


def update_device(
    session: Session, *, device_id: str, name: str | None = None, unit_id: int | None = None,
    lat: float | None = None, lon: float | None = None, actor: Actor, now: datetime,
) -> Device:
    """Rename, move (within the actor's subtree) or relocate a device."""
    device = _visible(session, actor, device_id)
    _active(device)
    changes: dict[str, object] = {}
    if name is not None and name != device.name:
        changes["name"] = [device.name, name]
        device.name = name
    if unit_id is not None and unit_id != device.unit_id:
        _open_unit(session, actor, unit_id)
        changes["unit_id"] = [device.unit_id, unit_id]
        device.unit_id = unit_id
        manifests_changed(session, [device.id])  # unit-targeted schedules reach it or not
    for field, value in (("lat", lat), ("lon", lon)):
        if value is not None and value != getattr(device, field):
            changes[field] = [getattr(device, field), value]
            setattr(device, field, value)
    if changes:
        audit.record(session, actor=actor, action="update", object_type="device",
                     object_id=device.id, detail=changes, at=now)
    session.commit()
    return device


def _take_out(
    session: Session, accounts: BrokerAccounts, *, device_id: str, reason: str,
    state: DeviceState, actor: Actor, now: datetime,
) -> Device:
    if not reason.strip():
        raise InvalidInput("say why (reason), it is kept with the device's history")
    device = _visible(session, actor, device_id)
    if device.state == DeviceState.REVOKED or device.state == state:
        raise Conflict(f"device {device_id!r} is already {device.state.value}")
    previous = device.state
    device.state, device.state_changed_at, device.state_reason = state, now, reason.strip()[:500]
    device.pending_password_hash = None
    if device.online:  # the broker sends no will for a disabled account
        device.online, device.status_changed_at = False, now
        session.add(DeviceStatusChange(device_id=device.id, online=False, at=now,
                                       cause=PresenceCause.TAKEN_OUT))
    manifests_changed(session, [device.id])  # its next manifest is empty
    audit.record(session, actor=actor, action=state.value, object_type="device",
                 object_id=device.id, flagged=state == DeviceState.REVOKED,
                 detail={"reason": device.state_reason, "was": previous.value}, at=now)
    session.commit()  # the empty manifest is published after this commit
    accounts.disable(device.id)  # raises BrokerUnavailable (503): the reconciler retries
    return device


def retire(session: Session, accounts: BrokerAccounts, *, device_id: str, reason: str,
           actor: Actor, now: datetime) -> Device:
    """Take a device out of service (it may be re-activated later by registering it anew)."""
    return _take_out(session, accounts, device_id=device_id, reason=reason,
                     state=DeviceState.RETIRED, actor=actor, now=now)


def revoke(session: Session, accounts: BrokerAccounts, *, device_id: str, reason: str,
           actor: Actor, now: datetime) -> Device:
    """Cut a stolen or compromised device off for good."""
    return _take_out(session, accounts, device_id=device_id, reason=reason,
                     state=DeviceState.REVOKED, actor=actor, now=now)


def rotate_credential(
    session: Session, *, signer: Signer, bridge: Publisher, pending: PendingPasswords,
    device_id: str, actor: Actor, now: datetime, timeout_s: float,
) -> DeviceCommand:
    """Send the device a new broker password in a signed command (the broker takes it when the
    device acknowledges); 503 when the broker does not accept the command."""
    device = _visible(session, actor, device_id)
    _active(device)
    password = generate_password()
    command = commands.new_command(device_id=device.id, action=RotateCredential(
        password=password), now=now, ttl=ROTATION_TTL)
    row = DeviceCommand(device_id=device.id, at=now, actor=actor.name[:100],
                        actor_unit_id=actor.unit_id, kind=CommandKind.ROTATE_CREDENTIAL,
                        result=CommandResult.SENT, command_id=command.id,
                        expires_at=command.expires_at)
    pending.put(command.id, device.id, password)
    commands.publish_command(command, signer=signer, bridge=bridge, timeout_s=timeout_s)
    device.pending_password_hash = mosquitto_hash(password)
    session.add(row)
    audit.record(session, actor=actor, action="rotate_credential", object_type="device",
                 object_id=device.id, detail={"command_id": command.id}, at=now)
    session.commit()
    return row


def credential_acknowledged(
    session: Session, accounts: BrokerAccounts, pending: PendingPasswords, *,
    command_id: str, accepted: bool, now: datetime,
) -> bool:
    """The device answered a rotation: give the broker the new password (True when done)."""
    taken = pending.take(command_id)
    if taken is None:
        return False
    device_id, password = taken
    device = session.get(Device, device_id)
    if device is None or device.state != DeviceState.ACTIVE or not accepted:
        return False
    accounts.set_password(device_id, password)
    device.mqtt_password_hash = mosquitto_hash(password)
    device.pending_password_hash, device.credential_rotated_at = None, now
    session.commit()
    log.info("broker credential of %s rotated", device_id)
    return True


def import_csv(
    session: Session, *, text: str, actor: Actor, now: datetime,
    code_ttl: timedelta = enrolment.DEFAULT_TTL,
) -> list[ImportedDevice]:
    """Register every device of a CSV (``id,name,kind,unit_code,lat,lon``; header required)
    and issue each its enrolment code. All or nothing: one bad line creates no device."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or tuple(c.strip().lower() for c in rows[0]) != CSV_COLUMNS:
        raise InvalidInput(f"the first line must be the header {','.join(CSV_COLUMNS)}")
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    if not body:
        raise InvalidInput("the CSV has no device lines")
    if len(body) > MAX_IMPORT_ROWS:
        raise InvalidInput(f"at most {MAX_IMPORT_ROWS} devices per file")
    units = {u.code: u for u in session.scalars(select(AdminUnit))}
    ids = [cells[0].strip() for _, cells in body if cells]
    seen = set(session.scalars(select(Device.id).where(Device.id.in_(ids))))
    parsed: list[tuple[str, str, DeviceKind, int, float | None, float | None]] = []
    for line, cells in body:
        parsed.append(_csv_line(line, cells, units=units, actor=actor, seen=seen))
    imported = []
    for device_id, name, kind, unit_id, lat, lon in parsed:
        device = fleet.add_device(session, device_id=device_id, name=name, kind=kind,
                                  unit_id=unit_id, lat=lat, lon=lon, actor=actor, now=now)
        issued = enrolment.add_code(session, device_id=device_id, actor=actor, now=now,
                                    ttl=code_ttl)
        imported.append(ImportedDevice(device, issued.code, issued.expires_at))
    session.commit()  # the devices and their codes together
    return imported


def _csv_line(
    line: int, cells: list[str], *, units: dict[str, AdminUnit], actor: Actor, seen: set[str],
) -> tuple[str, str, DeviceKind, int, float | None, float | None]:
    cells = [c.strip() for c in cells] + [""] * (len(CSV_COLUMNS) - len(cells))
    if len(cells) > len(CSV_COLUMNS):
        raise InvalidInput(f"line {line}: {len(cells)} columns, expected {len(CSV_COLUMNS)}")
    device_id, name, kind, unit_code, lat, lon = cells
    if not device_id or not name:
        raise InvalidInput(f"line {line}: id and name are required")
    try:
        validate_device_id(device_id)
    except TopicError as exc:
        raise InvalidInput(f"line {line}: {exc}") from None
    if device_id in seen:
        raise InvalidInput(f"line {line}: device {device_id!r} already exists or appears "
                           "twice in the file")
    seen.add(device_id)
    try:
        device_kind = DeviceKind(kind or DeviceKind.SPEAKER.value)
    except ValueError:
        raise InvalidInput(f"line {line}: kind must be speaker or kiosk, not {kind!r}") from None
    unit = units.get(unit_code)
    if unit is None or not actor.covers(unit.id):
        raise InvalidInput(f"line {line}: unknown unit code {unit_code!r}")
    if unit.retired_at is not None:
        raise InvalidInput(f"line {line}: unit {unit_code!r} is retired")
    try:
        coords = [float(v) if v else None for v in (lat, lon)]
    except ValueError:
        raise InvalidInput(f"line {line}: lat and lon must be numbers") from None
    if coords[0] is not None and not -90 <= coords[0] <= 90 or \
            coords[1] is not None and not -180 <= coords[1] <= 180:
        raise InvalidInput(f"line {line}: lat/lon out of range")
    return device_id, name, device_kind, unit.id, coords[0], coords[1]
