"""Emergency broadcasts: one row per broadcast (or request waiting for an approver), one row
per unit it names and one per device it targets, whose acknowledgement and start are filled in
at ingest from the devices' typed ``command_ack`` and play events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_center.models.base import Base, UtcDateTime, str_enum


class BroadcastKind(StrEnum):
    REQUEST = "request"  # new content waiting for an approver to send it
    SEND = "send"        # signed play_now commands went out


class EmergencyBroadcast(Base):
    __tablename__ = "emergency_broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[BroadcastKind] = mapped_column(str_enum(BroadcastKind), index=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(100))
    actor_unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    device_count: Mapped[int] = mapped_column(Integer)
    # set on a send: what every device received
    command_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    item_id: Mapped[str | None] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_minutes: Mapped[int | None] = mapped_column(Integer)
    """How long the command stays valid on the devices (a request keeps the asked value)."""
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("emergency_broadcasts.id", ondelete="RESTRICT"), index=True)

    units: Mapped[list[EmergencyUnit]] = relationship(
        order_by="EmergencyUnit.position", cascade="all, delete-orphan")
    targets: Mapped[list[EmergencyTarget]] = relationship(
        order_by="EmergencyTarget.device_id", cascade="all, delete-orphan")


class EmergencyUnit(Base):
    """A unit subtree the broadcast was addressed to, as chosen (name kept as it was)."""

    __tablename__ = "emergency_units"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_broadcasts.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer, index=True)
    unit_name: Mapped[str] = mapped_column(String(200))


class EmergencyTarget(Base):
    """One targeted device of a send: acknowledged, started, or why it failed."""

    __tablename__ = "emergency_targets"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_broadcasts.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the device reported the command arrived too late (``command_ack`` ``expired``)."""
    failed: Mapped[str | None] = mapped_column(String(500))
