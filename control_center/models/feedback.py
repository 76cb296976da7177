"""Citizen feedback: categories, submissions with their workflow, internal notes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_center.models.base import Base, UtcDateTime, str_enum


class FeedbackStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ANSWERED = "answered"
    CLOSED = "closed"


class FeedbackPriority(StrEnum):
    """Set at triage; the officers' queue lists the most urgent first."""

    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class FeedbackCategoryRow(Base):
    """A category kiosks offer; ``due_days`` sets the answer deadline of its submissions.

    It belongs to a unit (None: the top of the tree, for categories made before units
    existed): the kiosks of that unit's subtree offer it, and only officials of a unit above
    or at it may change it.
    """

    __tablename__ = "feedback_categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    name_vi: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    due_days: Mapped[int] = mapped_column(Integer, default=7)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Feedback(Base):
    """One submission (from a kiosk, or an Open311 client), from new to closed."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref_code: Mapped[str] = mapped_column(String(24), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id", ondelete="RESTRICT"))
    """The unit handling it now (routed down or escalated up the tree)."""
    origin_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT")
    )  # where it was submitted: its commune's loudspeakers read the answer
    category: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(10), default="vi")
    channel: Mapped[str] = mapped_column(String(20))  # touch, voice, open311
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_clients.id", ondelete="RESTRICT"), index=True
    )  # the Open311 client that sent it
    phone: Mapped[str | None] = mapped_column(String(20))
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[FeedbackStatus] = mapped_column(str_enum(FeedbackStatus), index=True)
    priority: Mapped[FeedbackPriority] = mapped_column(str_enum(FeedbackPriority),
                                                       default=FeedbackPriority.NORMAL)
    flagged: Mapped[str | None] = mapped_column(String(200))  # e.g. over the kiosk's rate limit
    assignee: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the overdue job passed it to the parent unit (once per submission)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notes: Mapped[list[FeedbackNote]] = relationship(
        cascade="all, delete-orphan", order_by="FeedbackNote.id"
    )


class FeedbackNote(Base):
    """An internal note on a submission (never shown to the citizen)."""

    __tablename__ = "feedback_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("feedback.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
