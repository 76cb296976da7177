"""The technician's and officials' pages: fleet overview, device, alerts, proof-of-play report.

A console user sees their own unit's subtree; the API-token sign-in sees the whole tree.
Vietnamese first, English beside it; every time is shown in the center's time zone
(Asia/Ho_Chi_Minh by default). Charts are SVG drawn here; the pages load no scripts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from control_center.accounts import links
from control_center.accounts import service as accounts
from control_center.api.deps import CenterDep, client_ip
from control_center.errors import InvalidInput
from control_center.models import AlertState
from control_center.services import device_commands, fleet
from control_center.telemetry.alerts import list_alerts, require_visible_alert, set_alert_state
from control_center.telemetry.csvout import report_csv
from control_center.telemetry.fleet_overview import device_detail, fleet_overview
from control_center.telemetry.play_report import play_report
from control_center.telemetry.queries import CHART_FIELDS, InfluxUnavailable
from control_center.web.charts import line_chart, plays_chart
from control_center.web.labels import COMMAND_KINDS, COMMAND_RESULTS, PLAY_STATES, PRIORITIES
from control_center.web.shell import (
    FORM_CSRF,
    MONITOR,
    ViewerDep,
    render,
    safe_next,
    sign_in_token,
    sign_in_user,
    sign_out,
    token_ok,
)

router = APIRouter(prefix=MONITOR, include_in_schema=False)
CHARTS = {"cpu_temp_c": ("Nhiệt độ CPU / CPU temperature", "°C", "alert_temp_c"),
          "disk_free_pct": ("Bộ nhớ trống / disk free", "%", "alert_disk_free_pct"),
          "signal_dbm": ("Tín hiệu / signal", "dBm", None),
          "load1": ("Tải CPU / load", "", None),
          "mem_used_pct": ("RAM đã dùng / memory used", "%", None),
          "clock_offset_ms": ("Lệch đồng hồ / clock offset", "ms", None)}
assert set(CHARTS) == set(CHART_FIELDS)


@router.get("/login")
def login_form(center: CenterDep, next: str = MONITOR) -> Response:
    return render(center, "login.html", next=safe_next(next, fallback=MONITOR), error=None)


@router.post("/login")
def login(request: Request, center: CenterDep, token: Annotated[str, Form()],
          next: Annotated[str, Form()] = MONITOR) -> Response:
    if not token_ok(token.strip(), center.settings.api_token):
        return render(center, "login.html", status_code=401,
                      next=safe_next(next, fallback=MONITOR),
                      error="Mã truy cập không đúng / wrong access token")
    response = RedirectResponse(safe_next(next, fallback=MONITOR), status_code=303)
    sign_in_token(response, request, center)
    return response


@router.get(links.LINK_PATH.removeprefix(MONITOR) + "/{code}")
def sign_in_link(request: Request, center: CenterDep, code: str, next: str = MONITOR) -> Response:
    """A one-time link (``python -m control_center sign-in-link``): sign in, then go on to a
    page without the code in its address."""
    with center.sessions() as session:
        user = links.redeem_link(session, code=code, now=center.clock(),
                                 source_ip=client_ip(request))
        signed = None if user is None else accounts.open_session(
            session, user=user, settings=center.settings, now=center.clock(),
            source_ip=client_ip(request))
    response = RedirectResponse(safe_next(next, fallback=MONITOR), status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    if signed is None:
        sign_in_token(response, request, center)
    else:
        sign_in_user(response, request, center, signed.token)
    return response


@router.post("/logout", dependencies=[FORM_CSRF])
def logout(request: Request, center: CenterDep) -> Response:
    response = RedirectResponse(f"{MONITOR}/login", status_code=303)
    sign_out(response, request, center)
    return response


@router.get("")
def overview(center: CenterDep, viewer: ViewerDep, unit_id: int | None = None) -> Response:
    unit_id = viewer.actor.unit_or_own(unit_id)
    with center.read_sessions() as session:
        data = fleet_overview(session, unit_id=unit_id)
    return render(viewer, "overview.html", data=data, unit_id=unit_id)


@router.get("/devices/{device_id}")
def device(center: CenterDep, viewer: ViewerDep, device_id: str, hours: float = 24.0) -> Response:
    hours = min(max(hours, 0.1), 24 * 31)
    with center.read_sessions() as session:
        fleet.get_visible_device(session, actor=viewer.actor, device_id=device_id)
        detail = device_detail(session, device_id=device_id, plays=500)
        sent = device_commands.history(session, device_id=device_id, limit=100)
    tz = ZoneInfo(center.settings.timezone)
    now = center.clock()
    charts, chart_note = [], None
    reader = center.telemetry.reader
    if reader is None:
        chart_note = ("Chưa cấu hình InfluxDB (TT_INFLUX_URL): không có biểu đồ sức khỏe / "
                      "InfluxDB is not configured: no health charts")
    else:
        try:
            series = reader.device_series(device_id, hours)
        except InfluxUnavailable as exc:
            series = {}
            chart_note = f"InfluxDB không trả lời / InfluxDB did not answer: {exc}"
        for field, (title, unit, threshold_setting) in CHARTS.items():
            threshold = (getattr(center.settings, threshold_setting)
                         if threshold_setting else None)
            charts.append(line_chart(series.get(field, []), title=title, unit=unit, tz=tz,
                                     key=field, threshold=threshold))
    start = now - timedelta(hours=hours)
    recent = [p for p in detail.plays if p.scheduled_at >= start]
    plays_svg = plays_chart(
        [(p.scheduled_at, p.status, f"{p.item_id}: {PLAY_STATES.get(p.status, p.status)}")
         for p in recent], start=start, end=now, tz=tz)
    return render(viewer, "device.html", d=detail, dev=detail.device, charts=charts,
                   chart_note=chart_note, plays_svg=plays_svg, hours=hours,
                   recent_plays=recent[:100], commands=sent,
                   command_kinds=COMMAND_KINDS, command_results=COMMAND_RESULTS,
                   priorities=PRIORITIES)


@router.get("/alerts")
def alerts(center: CenterDep, viewer: ViewerDep, state: AlertState | None = None,
           unit_id: int | None = None) -> Response:
    unit_id = viewer.actor.unit_or_own(unit_id)
    with center.read_sessions() as session:
        items = list_alerts(session, state=state, unit_id=unit_id)
    return render(viewer, "alerts.html", items=items, state=state.value if state else None)


@router.post("/alerts/{alert_id}/{action}", dependencies=[FORM_CSRF])
def alert_action(center: CenterDep, viewer: ViewerDep, alert_id: int, action: str) -> Response:
    states = {"acknowledge": AlertState.ACKNOWLEDGED, "resolve": AlertState.RESOLVED}
    if action not in states:
        raise InvalidInput(f"unknown action {action!r}")
    with center.sessions() as session:
        require_visible_alert(session, actor=viewer.actor, alert_id=alert_id)
        set_alert_state(session, alert_id=alert_id, state=states[action],
                              actor=viewer.actor.name, now=center.clock())
    return RedirectResponse("/monitor/alerts", status_code=303)


def _period(center: CenterDep, start: date | None, end: date | None) -> tuple[datetime, datetime,
                                                                              date, date]:
    tz = ZoneInfo(center.settings.timezone)
    today = center.clock().astimezone(tz).date()
    end_day = end or today
    start_day = start or end_day - timedelta(days=6)
    if start_day > end_day:
        raise InvalidInput("ngày bắt đầu sau ngày kết thúc / start is after end")
    return (datetime.combine(start_day, time(), tz),
            datetime.combine(end_day + timedelta(days=1), time(), tz), start_day, end_day)


@router.get("/reports")
def report(center: CenterDep, viewer: ViewerDep, unit_id: int | None = None,
           start: date | None = None, end: date | None = None) -> Response:
    t0, t1, d0, d1 = _period(center, start, end)
    if unit_id is not None:
        viewer.actor.require_unit(unit_id, what=f"unit {unit_id}")
    with center.read_sessions() as session:
        units = fleet_overview(session, unit_id=viewer.actor.unit_id).units
        data = (play_report(session, unit_id=unit_id, start=t0, end=t1)
                if unit_id is not None else None)
    query = urlencode({"unit_id": unit_id or "", "start": d0.isoformat(), "end": d1.isoformat()})
    return render(viewer, "report.html", units=units, report=data, unit_id=unit_id,
                   start=d0, end=d1, csv_url=f"/monitor/reports.csv?{query}")


@router.get("/reports.csv")
def report_csv_page(center: CenterDep, viewer: ViewerDep, unit_id: int,
                    start: date | None = None, end: date | None = None) -> Response:
    t0, t1, d0, d1 = _period(center, start, end)
    viewer.actor.require_unit(unit_id, what=f"unit {unit_id}")
    with center.read_sessions() as session:
        data = play_report(session, unit_id=unit_id, start=t0, end=t1)
    name = f"bao-cao-phat-{unit_id}-{d0:%Y%m%d}-{d1:%Y%m%d}.csv"
    return Response(report_csv(data), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

