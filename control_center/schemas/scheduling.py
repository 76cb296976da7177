"""Scheduling answers beyond plain CRUD: the pre-flight check of a proposed schedule."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from control_center.schemas.common import OutputModel


class OverlapPublic(OutputModel):
    """One occurrence of the proposed schedule that plays over another schedule's."""

    device_id: str
    start: datetime = Field(description="the proposed occurrence, in local time (TT_TIMEZONE)")
    other_schedule_id: int
    other_bulletin_id: int
    other_title: str
    other_start: datetime = Field(description="the other occurrence, in local time")
    overlap_s: float = Field(description="seconds both would play at once")


class ScheduleCheck(OutputModel):
    """What ``POST /schedules`` would do with this body; nothing is written."""

    devices: list[str] = Field(description="the devices the targets reach")
    conflicts: list[OverlapPublic] = Field(
        description="per device, occurrences in the next 14 days (or until valid_until) that "
                    "overlap an active schedule")
