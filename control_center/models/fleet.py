"""The administrative tree, devices and device groups."""

from __future__ import annotations

from datetime import datetime

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
