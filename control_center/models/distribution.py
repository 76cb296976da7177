"""Content flowing down the tree: one row per commune that received an upper level's bulletin."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime, str_enum


class DistributionState(StrEnum):
    INBOX = "inbox"          # normal: waits for the commune operator's decision
    SCHEDULED = "scheduled"  # a schedule of the commune (or placed by the upper level) plays it
    DECLINED = "declined"    # the commune decided not to broadcast it
    SENT = "sent"            # emergency: sent to play at once


class Distribution(Base):
    """A bulletin published by an upper unit to one commune below it."""

    __tablename__ = "distributions"
    __table_args__ = (UniqueConstraint("bulletin_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True
    )
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    from_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id", ondelete="RESTRICT"))
    state: Mapped[DistributionState] = mapped_column(str_enum(DistributionState), index=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL")
    )
    # order among clashing priority items, set by the commune (lower plays first)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(String(500), default="")
