"""One-time enrolment codes: a technician gets one for a registered device; the device trades
it once, before it expires, for its broker credential and the center's public keys.

Only the SHA-256 of a code is stored. A new code withdraws the device's earlier unused ones.
Enrolling sets a fresh broker password (so re-enrolling a device also rotates it); the broker
account is confirmed before the code is marked used, so a broker that is down costs the
technician nothing but a retry.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import qrcode
import qrcode.image.svg
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from control_center.broker.accounts import BrokerAccounts
from control_center.broker.registry import MAIN
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.errors import BrokerUnavailable, Conflict, InvalidInput, NotFound
from control_center.models import Device, DeviceState, EnrolmentCode
from control_center.security import generate_password, mosquitto_hash
from control_center.services import brokers

# 20 symbols of an alphabet without look-alikes (no 0/O, 1/I/L): ~100 bits, typed in groups
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_SYMBOLS = 20
GROUP = 5
DEFAULT_TTL = timedelta(hours=72)
MAX_TTL = timedelta(days=30)
ENROL_SYSTEM = Actor(name="enrolment")


@dataclass(frozen=True, slots=True)
class IssuedCode:
    device_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Enrolled:
    """What a device receives for its code (its password is shown this once)."""

    device: Device
    password: str
    moved_from: str | None = None  # the broker its account was on, when it moved at enrolment


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    return "-".join(raw[i:i + GROUP] for i in range(0, CODE_SYMBOLS, GROUP))


def normalise(code: str) -> str:
    """The code as issued, whatever the case, spaces or dashes a person typed."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(raw[i:i + GROUP] for i in range(0, len(raw), GROUP))


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def qr_svg(text: str) -> str:
    """A QR picture of ``text`` as an SVG document (no raster library needed)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def enrol_command(center_url: str, code: str) -> str:
    """What the technician types on the device."""
    return f"python -m edge_agent enrol --center {center_url} --code {code}"


def issue_code(
    session: Session, *, device_id: str, actor: Actor, now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> IssuedCode:
    """A new one-time code for an active device in the actor's subtree (earlier unused codes
    of the device stop working)."""
    device = session.get(Device, device_id)
    if device is None or not actor.covers(device.unit_id):
        raise NotFound(f"device {device_id!r} does not exist")
    if device.state != DeviceState.ACTIVE:
        raise Conflict(f"device {device_id!r} is {device.state.value}: a retired or revoked "
                       "device cannot be enrolled (register a new device instead)")
    session.execute(update(EnrolmentCode).where(
        EnrolmentCode.device_id == device_id, EnrolmentCode.used_at.is_(None),
        EnrolmentCode.withdrawn_at.is_(None)).values(withdrawn_at=now))
    issued = add_code(session, device_id=device_id, actor=actor, now=now, ttl=ttl)
    session.commit()
    return issued


def add_code(session: Session, *, device_id: str, actor: Actor, now: datetime,
             ttl: timedelta) -> IssuedCode:
    """Add a code for a device (checked by the caller) to the session, with its audit entry."""
    if not timedelta(minutes=5) <= ttl <= MAX_TTL:
        raise InvalidInput("an enrolment code lives between 5 minutes and 30 days")
    code = new_code()
    session.add(EnrolmentCode(device_id=device_id, code_hash=code_hash(code), created_at=now,
                              expires_at=now + ttl, created_by=actor.name[:200]))
    audit.record(session, actor=actor, action="enrolment_code", object_type="device",
                 object_id=device_id, detail={"expires_at": (now + ttl).isoformat()}, at=now)
    return IssuedCode(device_id, code, now + ttl)


def enrol(
    session: Session, accounts: BrokerAccounts, *, code: str, now: datetime, source_ip: str,
    brokers: Collection[str] = (MAIN,),
) -> Enrolled:
    """Trade a code for a fresh broker credential on the broker of the device's unit (one of
    ``brokers``, the configured names); refused when unknown, used or expired."""
    row = session.scalar(select(EnrolmentCode).where(EnrolmentCode.code_hash == code_hash(code)))
    if row is None:
        raise NotFound("mã ghi danh không đúng / unknown enrolment code: check it with the "
                       "technician's sheet or ask for a new one")
    if row.used_at is not None:
        raise Conflict("mã ghi danh đã được dùng / this enrolment code was already used "
                       f"(at {row.used_at:%Y-%m-%d %H:%M} UTC): ask for a new code")
    if row.withdrawn_at is not None:
        raise Conflict("mã ghi danh đã được thay / this enrolment code was replaced by a newer "
                       "one: use the newest code")
    if row.expires_at <= now:
        raise Conflict("mã ghi danh đã hết hạn / this enrolment code expired at "
                       f"{row.expires_at:%Y-%m-%d %H:%M} UTC: ask for a new code")
    device = session.get(Device, row.device_id)
    if device is None or device.state != DeviceState.ACTIVE:
        raise Conflict("thiết bị đã ngừng / the device of this code was retired or revoked")
    password = generate_password()
    moved_from = _follow_unit_broker(session, device, known=brokers)
    accounts.create(device.id, password)  # confirmed by the broker before the code is spent
    row.used_at, row.used_from = now, source_ip[:100]
    device.mqtt_password_hash = mosquitto_hash(password)
    device.enrolled_at = now
    device.pending_password_hash = None
    audit.record(session, actor=Actor(name=f"device {device.id}", source_ip=source_ip),
                 action="enrol", object_type="device", object_id=device.id,
                 detail={"code_id": row.id}, at=now)
    session.commit()
    return Enrolled(device, password, moved_from)


def _follow_unit_broker(session: Session, device: Device, *,
                        known: Collection[str]) -> str | None:
    """Put the device on its unit's broker (docs/devices.md, "Several brokers"); the broker it
    leaves, or None. The flush tells the center's router before the account is created; the
    new broker holds none of its messages yet, so its manifest is published again."""
    broker = brokers.broker_for_unit(session, unit_id=device.unit_id)
    if broker not in known:
        raise BrokerUnavailable(f"the unit of device {device.id!r} names the broker {broker!r}, "
                                "which is not configured (TT_BROKERS_FILE): configure it, or "
                                "assign the unit another broker")
    if broker == device.broker:
        return None
    moved_from, device.broker = device.broker, broker
    manifests_changed(session, [device.id])
    session.flush()
    return moved_from
