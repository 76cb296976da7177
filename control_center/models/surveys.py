""""Did you hear it?": questions kiosks ask about a bulletin, and the answers counted."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_center.models.base import Base, UtcDateTime, str_enum


class SurveyQuestionKind(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"


class BulletinSurvey(Base):
    """A bulletin marked for asking: the kiosks where it played ask in [starts_at, ends_at).

    Stopping a survey ends its period (the row and its answers stay, for the counts).
    """

    __tablename__ = "bulletin_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="CASCADE"), unique=True
    )
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    questions: Mapped[list[SurveyQuestion]] = relationship(
        cascade="all, delete-orphan", order_by="SurveyQuestion.position"
    )


class SurveyQuestion(Base):
    """One of a survey's one to three questions; ``choices`` is a JSON list of 2-4 labels."""

    __tablename__ = "survey_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        ForeignKey("bulletin_surveys.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SurveyQuestionKind] = mapped_column(str_enum(SurveyQuestionKind))
    choices: Mapped[str] = mapped_column(Text)


class SurveyAnswer(Base):
    """One passer-by's answer to one question at one kiosk; ``event_id`` makes it once."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_unit_answered", "unit_id", "answered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id", ondelete="RESTRICT"))
    choice: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))  # touch, voice
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
