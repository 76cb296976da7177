"""Agent releases and their rollouts: which devices get a version, in which wave, and how
each one's update went (docs/api.md, "Agent releases and rollouts")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.events import UpdateStage


class AgentRelease(Base):
    """A set of wheels under ``<data_dir>/releases/<version>/`` and its signed release
    manifest (the envelope is served byte for byte; ``manifest_sha256`` is its SHA-256)."""

    __tablename__ = "agent_releases"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    actor_unit_id: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(String(2000), default="")
    envelope: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)


class RolloutState(StrEnum):
    RUNNING = "running"      # sending wave after wave
    HALTED = "halted"        # failures passed the threshold, or halted by hand: nothing more sent
    COMPLETED = "completed"  # every device's update ended


class Rollout(Base):
    """One version offered to the devices of some targets, wave after wave."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(
        ForeignKey("agent_releases.version", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the creator's unit
    targets: Mapped[dict[str, list[int | str]]] = mapped_column(JSON)
    waves: Mapped[list[int] | None] = mapped_column(JSON)            # percentages, or
    wave_units: Mapped[list[list[int]] | None] = mapped_column(JSON)  # unit ids per wave
    wave_count: Mapped[int] = mapped_column(Integer)
    failure_threshold_pct: Mapped[float] = mapped_column(Float)
    confirm_within_s: Mapped[int] = mapped_column(Integer)
    state: Mapped[RolloutState] = mapped_column(str_enum(RolloutState), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    current_wave: Mapped[int] = mapped_column(Integer, default=0)  # 0: nothing sent yet
    failures_accepted: Mapped[int] = mapped_column(Integer, default=0)  # at the last resume
    halted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RolloutDeviceState(StrEnum):
    WAITING = "waiting"          # its wave has not been sent yet
    SENT = "sent"                # the update command went out; reports may follow
    CONFIRMED = "confirmed"      # healthy on the new version
    ROLLED_BACK = "rolled_back"  # back on its old version by itself
    FAILED = "failed"            # refused the command, or failed before switching
    TIMED_OUT = "timed_out"      # no end reported within confirm_within_s + the allowance
    SKIPPED = "skipped"          # already ran the version when the rollout was made

    @property
    def ended(self) -> bool:
        return self not in (RolloutDeviceState.WAITING, RolloutDeviceState.SENT)

    @property
    def failure(self) -> bool:
        return self in (RolloutDeviceState.ROLLED_BACK, RolloutDeviceState.FAILED,
                        RolloutDeviceState.TIMED_OUT)


class RolloutDevice(Base):
    """One device of a rollout: its wave, its update's stage and the time each stage took."""

    __tablename__ = "rollout_devices"
    __table_args__ = (UniqueConstraint("rollout_id", "device_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(
        ForeignKey("rollouts.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    wave: Mapped[int | None] = mapped_column(Integer)  # 1-based; None when skipped
    from_version: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[RolloutDeviceState] = mapped_column(str_enum(RolloutDeviceState))
    stage: Mapped[UpdateStage | None] = mapped_column(str_enum(UpdateStage))
    reason: Mapped[str] = mapped_column(String(500), default="")
    command_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stage_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # duration_ms of the agent's reports: fetching and verifying, installing, the switch
    # before the restart, and from the command to its end (confirmed, rolled back or failed)
    download_ms: Mapped[int | None] = mapped_column(Integer)
    install_ms: Mapped[int | None] = mapped_column(Integer)
    restart_ms: Mapped[int | None] = mapped_column(Integer)
    confirm_ms: Mapped[int | None] = mapped_column(Integer)
