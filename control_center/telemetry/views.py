"""Read models for the monitoring API and pages: fleet overview, device, alerts, reports."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.errors import Conflict, NotFound
from control_center.models import (
    AdminUnit,
    Alert,
    AlertState,
    Bulletin,
    Device,
    DeviceHealth,
    DeviceStatusChange,
    PlayLog,
    PlayStatus,
)
from control_center.services.targets import descendant_unit_ids


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UnitSummary(_Out):
    """A unit with counts over its whole subtree."""

    unit_id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    devices: int = 0
    online: int = 0
    silent: int = 0
    offline: int = 0
    open_alerts: int = 0
    last_seen_at: datetime | None = None


class DeviceSummary(_Out):
    id: str
    name: str
    kind: str
    unit_id: int
    unit_name: str
    presence: str  # online | silent | offline | never
    last_seen_at: datetime | None
    status_changed_at: datetime | None
    silent_since: datetime | None = None
    open_alerts: int = 0
    sample_at: datetime | None = None
    cpu_temp_c: float | None = None
    load1: float | None = None
    mem_used_pct: float | None = None
    disk_free_pct: float | None = None
    uptime_s: float | None = None
    net_type: str | None = None
    signal_dbm: int | None = None
    amp_on: bool | None = None
    volume: int | None = None
    clock_offset_ms: float | None = None
    cache_bytes: int | None = None
    agent_version: str | None = None
    manifest_version: int | None = None


class FleetOverview(_Out):
    root_unit_id: int | None
    units: list[UnitSummary]
    devices: list[DeviceSummary]


class AlertPublic(_Out):
    id: int
    device_id: str
    kind: str
    state: str
    detail: str
    value: float | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class StatusChangePublic(_Out):
    online: bool
    cause: str
    at: datetime


class PlayPublic(_Out):
    item_id: str
    bulletin_id: int | None
    priority: str
    scheduled_at: datetime
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    reason: str | None


class DeviceDetail(_Out):
    device: DeviceSummary
    status_changes: list[StatusChangePublic]
    alerts: list[AlertPublic]
    plays: list[PlayPublic]


class ReportRow(_Out):
    unit_id: int | None
    unit_code: str
    unit_name: str
    bulletin_id: int | None
    bulletin_title: str
    scheduled: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    pending: int = 0
    minutes: float = 0.0
    targeted_devices: int = 0
    devices_completed: int = 0
    coverage_pct: float = 0.0


class PlayReport(_Out):
    unit_id: int
    unit_name: str
    start: datetime
    end: datetime
    rows: list[ReportRow]
    total: ReportRow


def _presence(device: Device, health: DeviceHealth | None) -> str:
    if not device.online:
        return "never" if device.last_seen_at is None else "offline"
    return "silent" if health is not None and health.silent else "online"


def _summary(device: Device, unit: AdminUnit, health: DeviceHealth | None,
             open_alerts: int) -> DeviceSummary:
    data: dict[str, object] = {}
    if health is not None:
        data = {name: getattr(health, name) for name in (
            "sample_at", "cpu_temp_c", "load1", "mem_used_pct", "disk_free_pct", "uptime_s",
            "net_type", "signal_dbm", "amp_on", "volume", "clock_offset_ms", "cache_bytes",
            "agent_version", "manifest_version", "silent_since")}
    return DeviceSummary(
        id=device.id, name=device.name, kind=device.kind.value, unit_id=unit.id,
        unit_name=unit.name, presence=_presence(device, health),
        last_seen_at=device.last_seen_at, status_changed_at=device.status_changed_at,
        open_alerts=open_alerts, **data)


def _open_alert_counts(session: Session) -> Counter[str]:
    return Counter(session.scalars(select(Alert.device_id).where(
        Alert.state != AlertState.RESOLVED)))


def fleet_overview(session: Session, *, unit_id: int | None = None) -> FleetOverview:
    units = {u.id: u for u in session.scalars(select(AdminUnit))}
    if unit_id is not None and unit_id not in units:
        raise NotFound(f"unit {unit_id} does not exist")
    scope = descendant_unit_ids(session, unit_ids=[unit_id]) if unit_id is not None else set(units)
    health = {h.device_id: h for h in session.scalars(select(DeviceHealth))}
    alerts = _open_alert_counts(session)
    summaries = {u: UnitSummary(unit_id=u, code=units[u].code, name=units[u].name,
                                level=units[u].level, parent_id=units[u].parent_id)
                 for u in scope}
    devices = []
    for device in session.scalars(select(Device).where(Device.unit_id.in_(scope))
                                  .order_by(Device.unit_id, Device.id)):
        summary = _summary(device, units[device.unit_id], health.get(device.id),
                           alerts[device.id])
        devices.append(summary)
        node: int | None = device.unit_id
        while node is not None and node in summaries:  # roll up to every ancestor in scope
            row = summaries[node]
            row.devices += 1
            row.open_alerts += summary.open_alerts
            if summary.presence == "online":
                row.online += 1
            elif summary.presence == "silent":
                row.silent += 1
            else:
                row.offline += 1
            if summary.last_seen_at and (row.last_seen_at is None
                                         or summary.last_seen_at > row.last_seen_at):
                row.last_seen_at = summary.last_seen_at
            node = units[node].parent_id
    ordered = sorted(summaries.values(), key=lambda r: (_depth(units, r.unit_id), r.code))
    return FleetOverview(root_unit_id=unit_id, units=ordered, devices=devices)


def _depth(units: dict[int, AdminUnit], unit_id: int) -> int:
    depth, node = 0, units[unit_id].parent_id
    while node is not None:
        depth, node = depth + 1, units[node].parent_id
    return depth


def device_detail(session: Session, *, device_id: str, plays: int = 100) -> DeviceDetail:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"device {device_id!r} does not exist")
    unit = session.get(AdminUnit, device.unit_id)
    assert unit is not None
    alerts = list(session.scalars(select(Alert).where(Alert.device_id == device_id)
                                  .order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(50)))
    open_alerts = sum(1 for a in alerts if a.state != AlertState.RESOLVED)
    changes = session.scalars(select(DeviceStatusChange).where(
        DeviceStatusChange.device_id == device_id)
        .order_by(DeviceStatusChange.at.desc(), DeviceStatusChange.id.desc()).limit(50))
    play_rows = session.scalars(select(PlayLog).where(PlayLog.device_id == device_id)
                                .order_by(PlayLog.scheduled_at.desc()).limit(plays))
    return DeviceDetail(
        device=_summary(device, unit, session.get(DeviceHealth, device_id), open_alerts),
        status_changes=[StatusChangePublic.model_validate(c) for c in changes],
        alerts=[AlertPublic.model_validate(a) for a in alerts],
        plays=[PlayPublic.model_validate(p) for p in play_rows])


def list_alerts(session: Session, *, state: AlertState | None = None,
                unit_id: int | None = None, device_id: str | None = None,
                limit: int = 500) -> list[AlertPublic]:
    query = select(Alert)
    if state is not None:
        query = query.where(Alert.state == state)
    if device_id is not None:
        query = query.where(Alert.device_id == device_id)
    if unit_id is not None:
        scope = descendant_unit_ids(session, unit_ids=[unit_id])
        query = query.where(Alert.device_id.in_(select(Device.id).where(
            Device.unit_id.in_(scope))))
    query = query.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    return [AlertPublic.model_validate(a) for a in session.scalars(query)]


def set_alert_state(session: Session, *, alert_id: int, state: AlertState, actor: str,
                    now: datetime) -> AlertPublic:
    """Acknowledge or resolve an alert (a resolved alert stays resolved)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert.state == AlertState.RESOLVED:
        raise Conflict(f"alert {alert_id} is already resolved")
    if state == AlertState.ACKNOWLEDGED and alert.state == AlertState.OPEN:
        alert.state, alert.acknowledged_at, alert.acknowledged_by = state, now, actor[:100]
    elif state == AlertState.RESOLVED:
        alert.state, alert.resolved_at = state, now
    session.commit()
    return AlertPublic.model_validate(alert)


def play_report(session: Session, *, unit_id: int, start: datetime,
                end: datetime) -> PlayReport:
    """Proof of play for a unit's subtree and a period, per commune (device unit) and bulletin.

    Scheduled = every play the center listed in a manifest (cancelled ones excluded);
    pending = scheduled but not reported (device offline, or not yet due); coverage = share
    of the targeted devices with at least one completed play.
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
            else:
                target.pending += 1
            if play.started_at and play.ended_at and play.status in (
                    PlayStatus.COMPLETED, PlayStatus.INTERRUPTED):
                target.minutes += (play.ended_at - play.started_at).total_seconds() / 60.0
        targeted[key].add(play.device_id)
        all_targeted.add(play.device_id)
        if play.status == PlayStatus.COMPLETED:
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
                  "completed", "interrupted", "failed", "pending", "minutes",
                  "targeted_devices", "devices_completed", "coverage_pct")
