"""Shared pydantic building blocks: frozen models, UTC instants, priorities."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An instant with a time zone, normalised to UTC. Naive datetimes are refused."""


class FrozenModel(BaseModel):
    """Immutable message model that refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Priority(StrEnum):
    """The three priorities of Circular 39/2020/TT-BTTTT."""

    NORMAL = "normal"  # thường
    PRIORITY = "priority"  # ưu tiên: played ahead of normal items
    EMERGENCY = "emergency"  # khẩn cấp: played at once, interrupting

    @property
    def rank(self) -> int:
        """Higher rank interrupts lower rank."""
        return _RANKS[self]


_RANKS = {Priority.NORMAL: 0, Priority.PRIORITY: 1, Priority.EMERGENCY: 2}


def utc_now() -> datetime:
    """The current instant in UTC (aware)."""
    return datetime.now(UTC)
