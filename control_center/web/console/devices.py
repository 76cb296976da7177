"""Console page: the devices of the user's subtree, as a list and on a map, with their
lifecycle state and agent version; filtered by unit, presence and state."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from control_center.core.permissions import Permission
from control_center.errors import Forbidden
from control_center.models import Device
from control_center.telemetry.fleet_overview import UnitSummary, fleet_overview
from control_center.web.console.common import PREFIX, ConsoleDep, FormState, render
from control_center.web.console.device_map import MapPoint, draw_map
from control_center.web.labels import DEVICE_STATES, PRESENCE

router = APIRouter(prefix=PREFIX, include_in_schema=False)

STATUS_FILTERS = {"online": "Trực tuyến / online", "offline": "Mất kết nối / offline",
                  "never": "Chưa kết nối / never seen"}
_MATCHES = {"online": {"online", "silent"}, "offline": {"offline"}, "never": {"never"}}


def unit_options(units: list[UnitSummary]) -> list[tuple[str, str]]:
    """(id, indented "name (devices)") of every unit of an overview, parents before children."""
    by_id = {u.unit_id: u for u in units}
    children: dict[int | None, list[UnitSummary]] = {}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in by_id else None
        children.setdefault(parent, []).append(unit)
    options: list[tuple[str, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in sorted(children.get(parent, []), key=lambda u: (u.name, u.unit_id)):
            options.append((str(unit.unit_id),
                            "\u00a0\u00a0\u00a0" * depth + f"{unit.name} ({unit.devices})"))
            walk(unit.unit_id, depth + 1)

    walk(None, 0)
    return options


@router.get("/devices")
def devices_page(ctx: ConsoleDep, unit_id: str = "", status: str = "",
                 state: str = "") -> Response:
    """Devices with status badges, filtered by unit (inside the user's subtree), status and
    lifecycle state."""
    form = FormState(values={"unit_id": unit_id.strip(), "status": status.strip(),
                             "state": state.strip()})
    if not ctx.may(Permission.VIEW):
        raise Forbidden("Vai trò của bạn không được xem thiết bị / your role may not view devices.")
    chosen: int | None = None
    if unit_id.strip():
        try:
            chosen = int(unit_id)
        except ValueError:
            form.error("unit_id", "Chọn một đơn vị trong danh sách / pick a unit from the list")
        if chosen is not None and not ctx.actor.covers(chosen):
            form.error("unit_id", f"Đơn vị {chosen} không thuộc phạm vi của bạn / unit {chosen} "
                                  "is not in your area")
            chosen = None
    wanted = status.strip()
    if wanted and wanted not in STATUS_FILTERS:
        form.error("status", "Chọn trực tuyến, mất kết nối hoặc chưa kết nối / pick online, "
                             "offline or never")
        wanted = ""
    life = state.strip()
    if life and life not in DEVICE_STATES:
        form.error("state", "Chọn đang hoạt động, đã ngừng hoặc đã thu hồi / pick active, "
                            "retired or revoked")
        life = ""
    with ctx.center.read_sessions() as session:
        overview = fleet_overview(session, unit_id=ctx.actor.unit_id)
        data = fleet_overview(session, unit_id=chosen) if chosen is not None else overview
        listed = [d for d in data.devices
                  if ctx.actor.covers(d.unit_id) and (not wanted or d.presence in _MATCHES[wanted])]
        rows = {d.id: d for d in session.scalars(
            select(Device).where(Device.id.in_([d.id for d in listed])))}
    shown = [d for d in listed if d.id in rows and (not life or rows[d.id].state == life)]
    points, unplaced = [], []
    for d in shown:
        row = rows[d.id]
        lat, lon = row.lat, row.lon
        if lat is None or lon is None:
            unplaced.append(d)
            continue
        points.append(MapPoint(id=d.id, name=d.name, lat=lat, lon=lon, status=d.presence,
                               unit_id=d.unit_id, unit_name=d.unit_name))
    return render(
        ctx, "console_devices.html", status_code=200 if form.ok else 422,
        form=form, devices=shown, rows=rows, unplaced=unplaced,
        map_svg=draw_map(points) if points else "", device_states=DEVICE_STATES,
        unit_options=[("", "Tất cả / all")] + unit_options(overview.units),
        status_options=[("", "Tất cả / all"), *STATUS_FILTERS.items()],
        state_options=[("", "Tất cả / all"), *DEVICE_STATES.items()], presence=PRESENCE)
