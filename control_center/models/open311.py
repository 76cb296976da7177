"""Open311 client applications and their API keys (stored hashed, shown once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from control_center.models.base import Base, UtcDateTime


class Open311Client(Base):
    """One third-party application allowed to create service requests inside a unit subtree.

    The key itself is never stored: ``key_prefix`` (not secret) finds the row, ``key_sha256``
    checks the rest. A revoked client keeps its row, so its requests stay attributed.
    """

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True
    )
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))
