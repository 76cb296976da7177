"""The administrative tree, devices and device groups."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.events import DeviceKind


class AdminUnit(Base):
    """A node of the administrative tree (central, province, district, commune...)."""

    __tablename__ = "admin_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # a retired unit keeps its history and children's records but takes no new devices/units
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # the broker of the devices below (a name of the center's broker registry); None inherits
    broker: Mapped[str | None] = mapped_column(String(32))


class DeviceState(StrEnum):
    """Where a device is in its life (docs/devices.md)."""

    ACTIVE = "active"      # has (or is about to get) a broker credential and a manifest
    RETIRED = "retired"    # taken out of service: credential disabled, empty manifest, history kept
    REVOKED = "revoked"    # stolen or compromised: like retired, and never re-enrolled


class Device(Base):
    """A loudspeaker or kiosk; its id is also its broker user name."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[DeviceKind] = mapped_column(str_enum(DeviceKind))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    mqtt_password_hash: Mapped[str] = mapped_column(String(200))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    manifest_version_acked: Mapped[int | None] = mapped_column(Integer)
    agent_version: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[DeviceState] = mapped_column(str_enum(DeviceState), default=DeviceState.ACTIVE,
                                               server_default=DeviceState.ACTIVE.value)
    state_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # credential rotation in progress: the hash of the password sent by a rotate_credential
    # command, made the broker's once the device acknowledged it
    pending_password_hash: Mapped[str | None] = mapped_column(String(200))
    credential_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # the broker its account lives on: set at registration and at enrolment from its unit's
    broker: Mapped[str] = mapped_column(String(32), default="main", server_default="main",
                                        index=True)


class BrokerMove(Base):
    """A device on its way to another broker: its account there exists and a signed
    ``move_broker`` command is out; its acknowledgement completes the move (any process)."""

    __tablename__ = "broker_moves"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    command_id: Mapped[str] = mapped_column(String(100), unique=True)
    from_broker: Mapped[str] = mapped_column(String(32))
    to_broker: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))  # of the account on to_broker
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EnrolmentCode(Base):
    """A one-time code a technician types (or scans) on a device to enrol it."""

    __tablename__ = "enrolment_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the code
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_from: Mapped[str] = mapped_column(String(100), default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a newer code replaced it


class SigningKeyState(StrEnum):
    NEXT = "next"          # announced to devices (trusted_keys), not signing yet
    CURRENT = "current"    # signs every manifest and command
    RETIRED = "retired"    # no longer trusted by devices once they hold a manifest without it


class SigningKey(Base):
    """The center's Ed25519 keys through rotation (the private halves are files, 0600)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[SigningKeyState] = mapped_column(str_enum(SigningKeyState))
    path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeviceGroup(Base):
    """A named set of devices, independent of the administrative tree."""

    __tablename__ = "device_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    members: Mapped[list[DeviceGroupMember]] = relationship(
        cascade="all, delete-orphan", order_by="DeviceGroupMember.device_id"
    )


class DeviceGroupMember(Base):
    __tablename__ = "device_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("device_groups.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True, index=True
    )
