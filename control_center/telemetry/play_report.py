"""Read model of proof of play: scheduled, played and coverage per commune and bulletin."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.targets import descendant_unit_ids
from control_center.errors import NotFound
from control_center.models import (
    AdminUnit,
    Bulletin,
    Device,
    PlayLog,
    PlayStatus,
)
from control_center.schemas.common import OutputModel

PLAYED = frozenset({PlayStatus.COMPLETED, PlayStatus.SHOWN})
"""What makes a targeted device count as covered: a completed play or a text notice shown."""


def play_minutes(play: PlayLog) -> float:
    """Minutes one play was heard: a live item's ``heard_ms`` (the source heard, filler not
    counted), else started to ended for a completed or interrupted play; 0 otherwise."""
    if play.heard_ms is not None:
        return play.heard_ms / 60_000.0
    if play.started_at and play.ended_at and play.status in (PlayStatus.COMPLETED,
                                                             PlayStatus.INTERRUPTED):
        return (play.ended_at - play.started_at).total_seconds() / 60.0
    return 0.0


class ReportRow(OutputModel):
    unit_id: int | None
    unit_code: str
    unit_name: str
    bulletin_id: int | None
    bulletin_title: str
    scheduled: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    shown: int = 0  # text notices shown on kiosks (neither played nor failed)
    pending: int = 0
    minutes: float = 0.0
    targeted_devices: int = 0
    devices_completed: int = 0
    coverage_pct: float = 0.0


class PlayReport(OutputModel):
    unit_id: int
    unit_name: str
    start: datetime
    end: datetime
    rows: list[ReportRow]
    total: ReportRow


def play_report(session: Session, *, unit_id: int, start: datetime,
                end: datetime) -> PlayReport:
    """Proof of play for a unit's subtree and a period, per commune (device unit) and bulletin.

    Scheduled = every play the center listed in a manifest (cancelled ones excluded);
    shown = text notices a kiosk showed; pending = scheduled but not reported (device offline,
    or not yet due); coverage = share of the targeted devices with at least one completed play
    or shown notice.
    """
    root = session.get(AdminUnit, unit_id)
    if root is None:
        raise NotFound(f"unit {unit_id} does not exist")
    scope = descendant_unit_ids(session, unit_ids=[unit_id])
    units = {u.id: u for u in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(scope)))}
    rows = session.execute(
        select(PlayLog, Device.unit_id).join(Device, Device.id == PlayLog.device_id)
        .where(Device.unit_id.in_(scope), PlayLog.scheduled_at >= start,
               PlayLog.scheduled_at < end, PlayLog.status != PlayStatus.CANCELLED))
    titles = {bid: title for bid, title in session.execute(select(Bulletin.id, Bulletin.title))}
    groups: dict[tuple[int, int | None], ReportRow] = {}
    targeted: dict[tuple[int, int | None], set[str]] = defaultdict(set)
    done: dict[tuple[int, int | None], set[str]] = defaultdict(set)
    total = ReportRow(unit_id=root.id, unit_code=root.code, unit_name=root.name,
                      bulletin_id=None, bulletin_title="Tổng cộng / Total")
    all_targeted: set[str] = set()
    all_done: set[str] = set()
    for play, device_unit in rows:
        key = (device_unit, play.bulletin_id)
        row = groups.get(key)
        if row is None:
            unit = units[device_unit]
            row = groups[key] = ReportRow(
                unit_id=unit.id, unit_code=unit.code, unit_name=unit.name,
                bulletin_id=play.bulletin_id,
                bulletin_title=titles.get(play.bulletin_id or -1, "(phát ngay / play now)"))
        for target in (row, total):
            target.scheduled += 1
            if play.status == PlayStatus.COMPLETED:
                target.completed += 1
            elif play.status == PlayStatus.INTERRUPTED:
                target.interrupted += 1
            elif play.status == PlayStatus.FAILED:
                target.failed += 1
            elif play.status == PlayStatus.SHOWN:
                target.shown += 1
            else:
                target.pending += 1
            target.minutes += play_minutes(play)
        targeted[key].add(play.device_id)
        all_targeted.add(play.device_id)
        if play.status in PLAYED:
            done[key].add(play.device_id)
            all_done.add(play.device_id)
    for key, row in groups.items():
        _coverage(row, len(targeted[key]), len(done[key]))
    _coverage(total, len(all_targeted), len(all_done))
    ordered = sorted(groups.values(), key=lambda r: (r.unit_code, r.bulletin_id or 0))
    return PlayReport(unit_id=root.id, unit_name=root.name, start=start, end=end,
                      rows=ordered, total=total)


def _coverage(row: ReportRow, targeted: int, completed: int) -> None:
    row.targeted_devices, row.devices_completed = targeted, completed
    row.coverage_pct = round(100.0 * completed / targeted, 1) if targeted else 0.0
    row.minutes = round(row.minutes, 2)


REPORT_COLUMNS = ("unit_code", "unit_name", "bulletin_id", "bulletin_title", "scheduled",
                  "completed", "interrupted", "failed", "shown", "pending", "minutes",
                  "targeted_devices", "devices_completed", "coverage_pct")

