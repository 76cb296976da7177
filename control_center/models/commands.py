"""The device command history: one row per one-shot command asked for a device, sent or
refused, with its priority and outcome (the audit log keeps who did it, too)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum
from protocol.base import Priority


class CommandKind(StrEnum):
    """What was asked, as the caller asked it (``play_bulletin`` is sent as ``play_now``)."""

    PLAY_NOW = "play_now"
    PLAY_BULLETIN = "play_bulletin"
    STOP = "stop"
    SET_VOLUME = "set_volume"
    ROTATE_CREDENTIAL = "rotate_credential"
    UPDATE = "update"
    MOVE_BROKER = "move_broker"


class CommandResult(StrEnum):
    SENT = "sent"                # signed and accepted by the broker
    UNDELIVERED = "undelivered"  # signed, but the broker did not acknowledge it
    REFUSED = "refused"          # the center refused it: nothing was signed


class DeviceCommand(Base):
    __tablename__ = "device_commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    actor_unit_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[CommandKind] = mapped_column(str_enum(CommandKind))
    priority: Mapped[Priority | None] = mapped_column(str_enum(Priority))
    bulletin_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[CommandResult] = mapped_column(str_enum(CommandResult))
    reason: Mapped[str | None] = mapped_column(String(500))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # set when signed: the command's id and expiry; an emergency's also names its broadcast
    command_id: Mapped[str | None] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    emergency_id: Mapped[int | None] = mapped_column(
        ForeignKey("emergency_broadcasts.id", ondelete="RESTRICT"))
