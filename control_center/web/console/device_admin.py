"""Console page of one device (``/console/devices/{id}``): its lifecycle (state and why,
enrolment, agent version, credential rotation) and what an administrator does with it: rename
or move, a new enrolment code, rotate its broker credential, retire or revoke it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from control_center.errors import BrokerUnavailable, CenterError
from control_center.models import AdminUnit, DeviceState
from control_center.services import device_lifecycle, enrolment, fleet
from control_center.web.console.common import (
    PREFIX,
    ConsoleContext,
    ConsoleDep,
    FormState,
    redirect,
    render,
)
from control_center.web.console.device_intake import CODE_HOURS, code_sheet, show_codes
from control_center.web.console.fleet_forms import (
    chosen_unit,
    coordinate,
    explain,
    open_units,
    text_field,
)
from control_center.web.labels import DEVICE_STATES

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
FLASHES = {"updated": "Đã lưu / saved", "retired": "Đã ngừng thiết bị / device retired",
           "revoked": "Đã thu hồi thiết bị / device revoked",
           "rotating": "Đã gửi mật khẩu mới; máy chủ MQTT nhận khi thiết bị xác nhận / new "
                       "password sent: the broker takes it once the device acknowledges",
           "broker": "Đã ghi nhận, nhưng máy chủ MQTT chưa xác nhận việc khóa tài khoản: trung "
                     "tâm sẽ thử lại / recorded, but the broker has not confirmed disabling the "
                     "account yet: the center retries"}


def _device_page(ctx: ConsoleContext, device_id: str, *,
                 forms: dict[str, FormState] | None = None, status_code: int = 200,
                 flash: str | None = None) -> Response:
    with ctx.center.read_sessions() as session:
        device = fleet.get_visible_device(session, actor=ctx.actor, device_id=device_id)
        unit = session.get(AdminUnit, device.unit_id)
        units = open_units(session, ctx.actor)
    shown = {"edit": FormState(values={"name": device.name, "unit_id": str(device.unit_id),
                                       "lat": "" if device.lat is None else str(device.lat),
                                       "lon": "" if device.lon is None else str(device.lon)}),
             "code": FormState(values={"hours": "72"}), "retire": FormState(),
             "revoke": FormState(), "rotate": FormState()}
    shown.update(forms or {})
    return render(ctx, "console_device.html", status_code=status_code, device=device,
                  unit=unit, unit_options=units, hours=CODE_HOURS, flash=flash,
                  device_states=DEVICE_STATES, in_service=device.state == DeviceState.ACTIVE,
                  revoked=device.state == DeviceState.REVOKED, **shown)


def _visible(ctx: ConsoleContext, device_id: str) -> None:
    """404 for a device outside the subtree, before a form's fields are even read."""
    with ctx.center.read_sessions() as session:
        fleet.get_visible_device(session, actor=ctx.actor, device_id=device_id)


def _refused(ctx: ConsoleContext, device_id: str, which: str, form: FormState,
             exc: CenterError | None = None) -> Response:
    if exc is not None:
        form.error("_form", explain(exc))
    return _device_page(ctx, device_id, forms={which: form},
                        status_code=exc.status_code if exc else 422)


@router.get("/devices/{device_id}")
def device_page(ctx: ConsoleDep, device_id: str, done: str = "") -> Response:
    return _device_page(ctx, device_id, flash=FLASHES.get(done))


@router.post("/devices/{device_id}/edit")
def edit_device(
    ctx: ConsoleDep, device_id: str, csrf: FormText = "", name: FormText = "",
    unit_id: FormText = "", lat: FormText = "", lon: FormText = "",
) -> Response:
    """Rename, move to another unit of the subtree, or set the position."""
    ctx.check_csrf(csrf)
    _visible(ctx, device_id)
    form = FormState(values={"name": name, "unit_id": unit_id, "lat": lat, "lon": lon})
    clean = text_field(form, "name", name, limit=200, vi="tên thiết bị", en="device name")
    position = (coordinate(form, "lat", lat, bound=90), coordinate(form, "lon", lon, bound=180))
    with ctx.center.read_sessions() as session:
        unit = chosen_unit(form, "unit_id", unit_id, open_units(session, ctx.actor))
    if not form.ok:
        return _refused(ctx, device_id, "edit", form)
    with ctx.center.sessions() as session:
        try:
            device_lifecycle.update_device(session, device_id=device_id, name=clean,
                                           unit_id=unit, lat=position[0], lon=position[1],
                                           actor=ctx.actor, now=ctx.center.clock())
        except CenterError as exc:
            return _refused(ctx, device_id, "edit", form, exc)
    return redirect(f"{PREFIX}/devices/{device_id}?done=updated")


@router.post("/devices/{device_id}/enrolment-code")
def new_code(ctx: ConsoleDep, device_id: str, csrf: FormText = "",
             hours: FormText = "72") -> Response:
    """A new one-time code (earlier unused ones stop working), shown this once."""
    ctx.check_csrf(csrf)
    _visible(ctx, device_id)
    form = FormState(values={"hours": hours})
    if hours not in {value for value, _ in CODE_HOURS}:
        form.error("hours", "Chọn thời hạn của mã / choose how long the code works")
        return _refused(ctx, device_id, "code", form)
    with ctx.center.sessions() as session:
        try:
            issued = enrolment.issue_code(session, device_id=device_id, actor=ctx.actor,
                                          now=ctx.center.clock(), ttl=timedelta(hours=int(hours)))
        except CenterError as exc:
            return _refused(ctx, device_id, "code", form, exc)
        device = fleet.get_device(session, device_id=device_id)
        rows = code_sheet(ctx, session, [(device.id, device.name, device.unit_id, issued)])
    return show_codes(ctx, rows, title="Mã ghi danh / enrolment code")


def _take_out(ctx: ConsoleContext, device_id: str, which: str, reason: str,
              confirm: str | None) -> Response:
    _visible(ctx, device_id)
    field = "reason" if which == "retire" else "revoke_reason"  # two forms on one page
    form = FormState(values={field: reason})
    if not reason.strip():
        form.error(field, "Ghi lý do, được lưu cùng lịch sử thiết bị / say why: it is kept "
                          "with the device's history")
    elif len(reason.strip()) > 500:
        form.error(field, "Tối đa 500 ký tự / at most 500 characters")
    if confirm is not None and confirm != "yes":
        form.error("confirm", "Đánh dấu ô xác nhận: thu hồi không thể hoàn tác / tick the box: "
                              "revoking cannot be undone")
    if not form.ok:
        return _refused(ctx, device_id, which, form)
    take = device_lifecycle.revoke if which == "revoke" else device_lifecycle.retire
    with ctx.center.sessions() as session:
        try:
            take(session, ctx.center.accounts, device_id=device_id, reason=reason,
                 actor=ctx.actor, now=ctx.center.clock())
        except BrokerUnavailable:  # the state is committed; the account follows on a retry
            return redirect(f"{PREFIX}/devices/{device_id}?done=broker")
        except CenterError as exc:
            return _refused(ctx, device_id, which, form, exc)
    return redirect(f"{PREFIX}/devices/{device_id}?done={which}d")


@router.post("/devices/{device_id}/retire")
def retire_device(ctx: ConsoleDep, device_id: str, csrf: FormText = "",
                  reason: FormText = "") -> Response:
    """Out of service: empty manifest, broker account disabled, history kept."""
    ctx.check_csrf(csrf)
    return _take_out(ctx, device_id, "retire", reason, None)


@router.post("/devices/{device_id}/revoke")
def revoke_device(ctx: ConsoleDep, device_id: str, csrf: FormText = "",
                  revoke_reason: FormText = "", confirm: FormText = "") -> Response:
    """Stolen or compromised: cut off for good (never enrolled again); needs the box ticked."""
    ctx.check_csrf(csrf)
    return _take_out(ctx, device_id, "revoke", revoke_reason, confirm)


@router.post("/devices/{device_id}/rotate")
def rotate_credential(ctx: ConsoleDep, device_id: str, csrf: FormText = "") -> Response:
    """Send a new broker password in a signed command."""
    ctx.check_csrf(csrf)
    _visible(ctx, device_id)
    center = ctx.center
    with center.sessions() as session:
        try:
            device_lifecycle.rotate_credential(
                session, signer=center.signer, bridge=center.bridge,
                pending=center.pending_passwords, device_id=device_id, actor=ctx.actor,
                now=center.clock(), timeout_s=center.settings.publish_timeout_s)
        except CenterError as exc:
            return _refused(ctx, device_id, "rotate", FormState(), exc)
    return redirect(f"{PREFIX}/devices/{device_id}?done=rotating")
