"""Content down the tree: publishing to communes, the commune's inbox and the status report."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from control_center.models import DistributionState
from control_center.schemas.common import InputModel, OutputModel
from protocol.base import Priority


class Slot(InputModel):
    """When it plays: ``start_at`` once, or ``rrule`` from ``valid_from`` (until ``valid_until``).

    Recurring rules are expanded in the center's time zone (TT_TIMEZONE).
    """

    start_at: AwareDatetime | None = None
    rrule: str | None = Field(default=None, max_length=1000,
                              examples=["FREQ=DAILY;BYHOUR=6;BYMINUTE=30;BYSECOND=0"])
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class PublishRequest(InputModel):
    """Send an approved bulletin down to every commune (leaf unit) below the given units.

    Normal: it waits in each commune's inbox. Priority: ``slot`` is required and a schedule is
    placed in every commune at once (the commune may only rank it among its priority items).
    """

    unit_ids: list[int] = Field(min_length=1, max_length=500)
    slot: Slot | None = None


class AcceptRequest(InputModel):
    slot: Slot


class DeclineRequest(InputModel):
    note: str = Field(min_length=1, max_length=500, description="why the commune declines")


class RankRequest(InputModel):
    rank: int = Field(ge=0, le=10_000, description="lower plays first among clashing items")


class DistributionPublic(OutputModel):
    id: int
    bulletin_id: int
    bulletin_title: str
    priority: Priority
    unit_id: int
    unit_name: str
    from_unit_id: int
    from_unit_name: str
    state: DistributionState
    schedule_id: int | None
    rank: int
    published_by: str
    published_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str


class PlayCounts(OutputModel):
    """Proof of play of the bulletin on the commune's devices (PlayLog rows by status)."""

    scheduled: int = 0
    started: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0


class DistributionStatus(OutputModel):
    """One receiving commune in the upper level's view."""

    distribution_id: int
    unit_id: int
    unit_name: str
    state: DistributionState
    schedule_id: int | None
    rank: int
    decided_by: str | None
    decided_at: datetime | None
    note: str
    devices: int
    plays: PlayCounts


class DistributionReport(OutputModel):
    bulletin_id: int
    title: str
    priority: Priority
    communes: list[DistributionStatus]
