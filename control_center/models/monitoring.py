"""Monitoring: each online/offline change, the latest health of each device, and alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum


class PresenceCause(StrEnum):
    BIRTH = "birth"  # the retained status said online
    WILL = "will"  # the last will (or a clean offline status)
    SILENCE = "silence"  # online, but nothing heard for longer than the threshold
    HEARD = "heard"  # a silent device was heard again
    TAKEN_OUT = "taken_out"  # retired or revoked: its broker account disabled (no will is sent)


class DeviceStatusChange(Base):
    """One change of a device's presence, with the center's time of the change."""

    __tablename__ = "device_status_changes"
    __table_args__ = (Index("ix_device_status_changes_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    online: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[PresenceCause] = mapped_column(str_enum(PresenceCause))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeviceHealth(Base):
    """The latest health sample of a device and its silence flag (one row per device)."""

    __tablename__ = "device_health"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    sample_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_heard_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    silent_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cpu_temp_c: Mapped[float | None] = mapped_column(Float)
    load1: Mapped[float | None] = mapped_column(Float)
    mem_used_pct: Mapped[float | None] = mapped_column(Float)
    disk_free_pct: Mapped[float | None] = mapped_column(Float)
    disk_free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    uptime_s: Mapped[float | None] = mapped_column(Float)
    net_type: Mapped[str | None] = mapped_column(String(20))
    signal_dbm: Mapped[int | None] = mapped_column(Integer)
    amp_on: Mapped[bool | None] = mapped_column(Boolean)
    volume: Mapped[int | None] = mapped_column(Integer)
    clock_offset_ms: Mapped[float | None] = mapped_column(Float)
    cache_bytes: Mapped[int | None] = mapped_column(BigInteger)
    agent_version: Mapped[str | None] = mapped_column(String(40))
    manifest_version: Mapped[int | None] = mapped_column(Integer)
    heartbeats: Mapped[dict[str, float] | None] = mapped_column(JSON)
    """Seconds since each agent loop last went round, as of the sample (``player``...)."""
    outbox_rows: Mapped[int | None] = mapped_column(Integer)
    outbox_dropped: Mapped[int | None] = mapped_column(Integer)
    dead_letters: Mapped[int | None] = mapped_column(Integer)
    faults: Mapped[int | None] = mapped_column(Integer)
    speech_model: Mapped[str | None] = mapped_column(String(80))
    """The kiosk's speech model (name and SHA-256 prefix) and its state, as of the sample."""
    speech_model_state: Mapped[str | None] = mapped_column(String(20))


class AlertKind(StrEnum):
    OFFLINE = "offline"  # offline (will) or silent for longer than the alert delay
    PLAYBACK_FAILURES = "playback_failures"
    DISK_LOW = "disk_low"
    OVERHEATING = "overheating"
    CLOCK_UNTRUSTED = "clock_untrusted"
    PLAYER_STALLED = "player_stalled"  # online and reporting, but its player loop stands still


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(Base):
    """A condition on a device; at most one unresolved alert per device and kind."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_device_kind_state", "device_id", "kind", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind, 30))
    state: Mapped[AlertState] = mapped_column(str_enum(AlertState), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
