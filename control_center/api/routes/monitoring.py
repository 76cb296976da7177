"""Monitoring: fleet overview, device health, alerts, proof-of-play reports, telemetry stats.

A signed-in user sees their own unit's subtree (the default root of the overview and the alert
list); units, devices and alerts outside it answer 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.errors import InvalidInput
from control_center.models import AlertState
from control_center.schemas.common import ItemList
from control_center.services import fleet
from control_center.telemetry.alerts import (
    AlertPublic,
    list_alerts,
    require_visible_alert,
    set_alert_state,
)
from control_center.telemetry.csvout import report_csv
from control_center.telemetry.fleet_overview import (
    DeviceDetail,
    FleetOverview,
    device_detail,
    fleet_overview,
)
from control_center.telemetry.play_report import PlayReport
from control_center.telemetry.play_report import play_report as build_play_report
from control_center.telemetry.queries import CHART_FIELDS, InfluxUnavailable

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


@router.get("/overview", response_model=FleetOverview)
def overview(
    session: SessionDep, actor: ActorDep, unit_id: int | None = None
) -> FleetOverview:
    """Per unit (counts over its subtree): devices online, silent, offline, open alerts."""
    return fleet_overview(session, unit_id=actor.unit_or_own(unit_id))


@router.get("/devices/{device_id}", response_model=DeviceDetail)
def device(device_id: str, session: SessionDep, actor: ActorDep) -> DeviceDetail:
    fleet.get_visible_device(session, actor=actor, device_id=device_id)
    return device_detail(session, device_id=device_id)


@router.get("/devices/{device_id}/series")
def device_series(
    device_id: str, session: SessionDep, center: CenterDep, actor: ActorDep,
    hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24.0,
) -> dict[str, list[list[datetime | float]]]:
    """Recent health samples from InfluxDB, per field: ``[time, value]`` pairs, oldest first
    (503 when InfluxDB is not configured). Typed as lists, not tuples, so that the published
    schema is the plain ``items`` form every OpenAPI tool reads."""
    fleet.get_visible_device(session, actor=actor, device_id=device_id)
    reader = center.telemetry.reader
    if reader is None:
        raise InfluxUnavailable("telemetry is disabled: set TT_INFLUX_URL")
    return {field: [[at, value] for at, value in points]
            for field, points in reader.device_series(device_id, hours).items()}


@router.get("/alerts", response_model=ItemList[AlertPublic])
def alerts(
    session: SessionDep, actor: ActorDep, state: AlertState | None = None,
    unit_id: int | None = None, device_id: str | None = None,
) -> ItemList[AlertPublic]:
    if device_id is not None:
        fleet.get_visible_device(session, actor=actor, device_id=device_id)
    return ItemList.of(list_alerts(session, state=state,
                                         unit_id=actor.unit_or_own(unit_id),
                                         device_id=device_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge(alert_id: int, session: SessionDep, actor: ActorDep,
                now: NowDep) -> AlertPublic:
    require_visible_alert(session, actor=actor, alert_id=alert_id)
    return set_alert_state(session, alert_id=alert_id, state=AlertState.ACKNOWLEDGED,
                                 actor=actor.name, now=now)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertPublic)
def resolve(alert_id: int, session: SessionDep, actor: ActorDep,
            now: NowDep) -> AlertPublic:
    require_visible_alert(session, actor=actor, alert_id=alert_id)
    return set_alert_state(session, alert_id=alert_id, state=AlertState.RESOLVED,
                                 actor=actor.name, now=now)


@router.get("/reports/plays", response_model=PlayReport)
def play_report(
    session: SessionDep, now: NowDep, actor: ActorDep, unit_id: int, start: datetime | None = None,
    end: datetime | None = None, format: Literal["json", "csv"] = "json",
) -> PlayReport | Response:
    """Proof of play for a unit's subtree over [start, end) (default: the last 7 days)."""
    actor.require_unit(unit_id, what=f"unit {unit_id}")
    end = end or now
    start = start or end - timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a time zone (e.g. 2026-09-01T00:00:00+07:00)")
    if start >= end:
        raise InvalidInput("start must be before end")
    report = build_play_report(session, unit_id=unit_id, start=start, end=end)
    if format == "csv":
        name = f"bao-cao-phat-{unit_id}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        return Response(report_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return report


@router.get("/telemetry")
def telemetry_stats(center: CenterDep) -> dict[str, object]:
    """The telemetry pipeline: messages refused (and why), InfluxDB queue, spill, counters."""
    return {**center.telemetry.stats(), "chart_fields": list(CHART_FIELDS)}
