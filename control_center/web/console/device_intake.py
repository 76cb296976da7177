"""Console pages that register devices: one by its form, or many from a CSV
(``id,name,kind,unit_code,lat,lon``). Each new device gets its one-time enrolment code at once,
shown on a sheet (code, expiry, QR picture, the command a technician types) this one time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from control_center.errors import CenterError, Conflict
from control_center.models import AdminUnit
from control_center.services import device_lifecycle, enrolment, fleet
from control_center.web.console.common import PREFIX, ConsoleContext, ConsoleDep, FormState, render
from control_center.web.console.fleet_forms import (
    chosen_unit,
    coordinate,
    explain,
    open_units,
    text_field,
)
from protocol.events import DeviceKind
from protocol.topics import DEVICE_ID_RE

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
KINDS = [(DeviceKind.SPEAKER.value, "Loa / speaker"), (DeviceKind.KIOSK.value, "Ki-ốt / kiosk")]
CODE_HOURS = [("24", "1 ngày / 1 day"), ("72", "3 ngày / 3 days"), ("168", "7 ngày / 7 days"),
              ("720", "30 ngày / 30 days")]
MAX_CSV_BYTES = 4 * 1024 * 1024
QR_ROWS = 100  # a larger import lists its codes without pictures (a sheet stays printable)
_XML_PROLOGUE = re.compile(r"^<\?xml[^>]*\?>\s*")


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One line of an enrolment sheet."""

    device_id: str
    name: str
    unit_name: str
    code: str
    expires_at: datetime
    command: str
    qr: Markup | None


def code_sheet(ctx: ConsoleContext, session: Session,
               issued: list[tuple[str, str, int, enrolment.IssuedCode]]) -> list[CodeRow]:
    """Rows for (device id, name, unit id, issued code), with a QR of the enrol command."""
    names = {unit_id: name for unit_id, name in session.execute(
        select(AdminUnit.id, AdminUnit.name).where(
            AdminUnit.id.in_({unit_id for _, _, unit_id, _ in issued})))}
    rows = []
    for device_id, name, unit_id, code in issued:
        command = enrolment.enrol_command(ctx.center.settings.public_base_url, code.code)
        picture = None
        if len(issued) <= QR_ROWS:  # the library's SVG, inline: no script, no file
            picture = Markup(_XML_PROLOGUE.sub("", enrolment.qr_svg(command)))
        rows.append(CodeRow(device_id, name, names.get(unit_id, str(unit_id)), code.code,
                            code.expires_at, command, picture))
    return rows


def show_codes(ctx: ConsoleContext, rows: list[CodeRow], *, title: str) -> Response:
    return render(ctx, "console_device_codes.html", rows=rows, title=title,
                  qr_left_out=len(rows) > QR_ROWS)


def _new_page(ctx: ConsoleContext, *, form: FormState | None = None,
              upload: FormState | None = None, status_code: int = 200) -> Response:
    with ctx.center.read_sessions() as session:
        units = open_units(session, ctx.actor)
    return render(ctx, "console_device_new.html", status_code=status_code,
                  form=form or FormState(values={"kind": "speaker", "hours": "72"}),
                  upload=upload or FormState(values={"csv_hours": "72"}), unit_options=units,
                  kinds=KINDS, hours=CODE_HOURS, csv_columns=",".join(device_lifecycle.CSV_COLUMNS))


def _hours(form: FormState, name: str, raw: str) -> timedelta:
    if raw not in {value for value, _ in CODE_HOURS}:
        form.error(name, "Chọn thời hạn của mã / choose how long the code works")
        return enrolment.DEFAULT_TTL
    return timedelta(hours=int(raw))


@router.get("/devices/new")
def new_devices_page(ctx: ConsoleDep) -> Response:
    return _new_page(ctx)


@router.post("/devices/new")
def register_device(
    ctx: ConsoleDep, csrf: FormText = "", id: FormText = "", name: FormText = "",
    kind: FormText = "", unit_id: FormText = "", lat: FormText = "", lon: FormText = "",
    hours: FormText = "",
) -> Response:
    """Register one device (no broker account until it enrols) and show its code."""
    ctx.check_csrf(csrf)
    form = FormState(values={"id": id, "name": name, "kind": kind, "unit_id": unit_id,
                             "lat": lat, "lon": lon, "hours": hours})
    device_id = text_field(form, "id", id, limit=63, vi="mã thiết bị", en="device id")
    if device_id and not DEVICE_ID_RE.fullmatch(device_id):
        form.error("id", "Mã gồm a-z, 0-9, '-', '_', bắt đầu bằng chữ hoặc số / lower-case "
                         "letters, digits, '-' and '_', starting with a letter or digit")
    clean_name = text_field(form, "name", name, limit=200, vi="tên thiết bị", en="device name")
    if kind not in {value for value, _ in KINDS}:
        form.error("kind", "Chọn loại thiết bị / choose the kind")
    position = (coordinate(form, "lat", lat, bound=90), coordinate(form, "lon", lon, bound=180))
    ttl = _hours(form, "hours", hours)
    with ctx.center.read_sessions() as session:
        unit = chosen_unit(form, "unit_id", unit_id, open_units(session, ctx.actor))
    if form.ok:
        now = ctx.center.clock()
        with ctx.center.sessions() as session:
            try:
                device = fleet.add_device(
                    session, device_id=device_id, name=clean_name, kind=DeviceKind(kind),
                    unit_id=unit, lat=position[0], lon=position[1], actor=ctx.actor, now=now)
                session.commit()
                issued = enrolment.issue_code(session, device_id=device.id, actor=ctx.actor,
                                              now=now, ttl=ttl)
                rows = code_sheet(ctx, session, [(device.id, device.name, device.unit_id,
                                                  issued)])
            except Conflict as exc:
                form.error("id" if "already exists" in str(exc) else "unit_id", explain(exc))
            except CenterError as exc:
                form.error("id" if "device id" in str(exc) else "_form", explain(exc))
        if form.ok:
            return show_codes(ctx, rows, title="Đã đăng ký thiết bị / device registered")
    return _new_page(ctx, form=form, status_code=422)


@router.post("/devices/import")
def import_devices(
    ctx: ConsoleDep, csrf: FormText = "", csv_hours: FormText = "",
    csv_file: Annotated[UploadFile | str | None, File()] = None,
) -> Response:
    """Register every device of a CSV and show their codes; one bad line creates nothing and
    is named on the page."""
    ctx.check_csrf(csrf)
    upload = FormState(values={"csv_hours": csv_hours})
    ttl = _hours(upload, "csv_hours", csv_hours)
    text = ""
    if not isinstance(csv_file, StarletteUpload) or not csv_file.filename:
        upload.error("csv_file", "Chọn tệp CSV / choose the CSV file")
    else:
        raw = csv_file.file.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            upload.error("csv_file", "Tệp lớn hơn 4 MiB / the file is larger than 4 MiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            upload.error("csv_file", "Tệp phải là văn bản UTF-8 / the file must be UTF-8 text")
    if upload.ok:
        with ctx.center.sessions() as session:
            try:
                imported = device_lifecycle.import_csv(
                    session, text=text, actor=ctx.actor, now=ctx.center.clock(), code_ttl=ttl)
                rows = code_sheet(ctx, session, [
                    (i.device.id, i.device.name, i.device.unit_id,
                     enrolment.IssuedCode(i.device.id, i.code, i.expires_at)) for i in imported])
            except CenterError as exc:
                upload.error("csv_file", explain(exc))
        if upload.ok:
            return show_codes(ctx, rows, title=f"Đã nhập {len(rows)} thiết bị / "
                                                f"{len(rows)} devices imported")
    return _new_page(ctx, upload=upload, status_code=422)
