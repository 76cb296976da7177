"""What happened: published manifests, proof of play, device events and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.base import Priority


class PlayStatus(StrEnum):
    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SHOWN = "shown"  # a kiosk showed a text notice (``play_shown``): neither played nor failed


class ManifestState(Base):
    """The signed manifest last built for a device; ``published_at`` is NULL until PUBACK."""

    __tablename__ = "manifest_states"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    built_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PlayLog(Base):
    """One item on one device: scheduled by the center, then reported by the device."""

    __tablename__ = "play_logs"
    __table_args__ = (
        UniqueConstraint("device_id", "item_id"),
        Index("ix_play_logs_device_scheduled", "device_id", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(200))
    schedule_id: Mapped[int | None] = mapped_column(Integer, index=True)
    bulletin_id: Mapped[int | None] = mapped_column(Integer, index=True)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[PlayStatus] = mapped_column(str_enum(PlayStatus), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # live items: milliseconds of the source heard (the device's report; filler not counted)
    heard_ms: Mapped[int | None] = mapped_column(Integer)


class DeviceEventRecord(Base):
    """Every event received from a device, once: ``event_id`` is the de-duplication key."""

    __tablename__ = "device_events"
    __table_args__ = (Index("ix_device_events_device_type", "device_id", "type"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    payload: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what to which object; rows are only ever inserted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40), index=True)
    object_id: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # the acting user's unit (None: the system token) and a flag for actions that need a look,
    # such as an emergency sent without approval
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
