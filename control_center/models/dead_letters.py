"""Messages the center took from the broker but could not store yet (replayed later)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime


class IngestDeadLetter(Base):
    """One MQTT message whose handling failed; acknowledged to the broker, kept here until a
    replay stores it (then deleted). ``attempts`` counts failed handlings."""

    __tablename__ = "ingest_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(300))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text, default="")
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
