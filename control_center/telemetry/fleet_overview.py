"""Read model of the fleet: per-unit presence counts and one device's detail page."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.targets import descendant_unit_ids
from control_center.errors import NotFound
from control_center.models import (
    AdminUnit,
    Alert,
    AlertState,
    Device,
    DeviceHealth,
    DeviceStatusChange,
    PlayLog,
)
from control_center.schemas.common import OutputModel
from control_center.telemetry.alerts import AlertPublic
from control_center.telemetry.health_fields import READINGS


class UnitSummary(OutputModel):
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


class DeviceSummary(OutputModel):
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
    heartbeats: dict[str, float] | None = None
    outbox_rows: int | None = None
    outbox_dropped: int | None = None
    dead_letters: int | None = None
    faults: int | None = None
    speech_model: str | None = None
    speech_model_state: str | None = None  # installed | missing | failed (kiosks with voice)


_SHOWN_HEALTH = ("sample_at", *(name for name in READINGS if name in DeviceSummary.model_fields),
                 "silent_since")
"""The ``device_health`` columns a summary shows: the readings it declares a field for."""


class FleetOverview(OutputModel):
    root_unit_id: int | None
    units: list[UnitSummary]
    devices: list[DeviceSummary]


class StatusChangePublic(OutputModel):
    online: bool
    cause: str
    at: datetime


class PlayPublic(OutputModel):
    item_id: str
    bulletin_id: int | None
    priority: str
    scheduled_at: datetime
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    reason: str | None


class DeviceDetail(OutputModel):
    device: DeviceSummary
    status_changes: list[StatusChangePublic]
    alerts: list[AlertPublic]
    plays: list[PlayPublic]


def _presence(device: Device, health: DeviceHealth | None) -> str:
    if not device.online:
        return "never" if device.last_seen_at is None else "offline"
    return "silent" if health is not None and health.silent else "online"


def _summary(device: Device, unit: AdminUnit, health: DeviceHealth | None,
             open_alerts: int) -> DeviceSummary:
    data: dict[str, object] = {}
    if health is not None:
        data = {name: getattr(health, name) for name in _SHOWN_HEALTH}
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

