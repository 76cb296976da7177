"""Broadcast minutes (by category and priority) and coverage, per unit of the plays' devices.

Plays count by their scheduled instant, cancelled ones left out, with the minutes and the
"played" rule of the proof-of-play report (``telemetry.play_report``), so both agree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.effectiveness.figures import NO_CATEGORY, UnitFigures
from control_center.models import Bulletin, Device, PlayLog, PlayStatus
from control_center.telemetry.play_report import PLAYED, play_minutes


def add_broadcasts(session: Session, *, own: Mapping[int, UnitFigures], start: datetime,
                   end: datetime) -> None:
    """Add each unit's own plays (its devices', not its subtree's) to ``own``."""
    targeted: dict[int, set[str]] = defaultdict(set)
    played: dict[int, set[str]] = defaultdict(set)
    plays = session.execute(
        select(PlayLog, Device.unit_id, Bulletin.category)
        .join(Device, Device.id == PlayLog.device_id)
        .outerjoin(Bulletin, Bulletin.id == PlayLog.bulletin_id)
        .where(Device.unit_id.in_(list(own)), PlayLog.scheduled_at >= start,
               PlayLog.scheduled_at < end, PlayLog.status != PlayStatus.CANCELLED)
        .execution_options(yield_per=2000))
    for play, unit_id, category in plays:
        row = own[unit_id]
        minutes = play_minutes(play)
        if minutes:
            row.minutes += minutes
            key = category or NO_CATEGORY
            row.minutes_by_category[key] = row.minutes_by_category.get(key, 0.0) + minutes
            level = play.priority.value
            row.minutes_by_priority[level] = row.minutes_by_priority.get(level, 0.0) + minutes
        targeted[unit_id].add(play.device_id)
        if play.status in PLAYED:
            played[unit_id].add(play.device_id)
    for unit_id, devices in targeted.items():
        own[unit_id].targeted_devices = len(devices)
        own[unit_id].devices_played = len(played[unit_id])
