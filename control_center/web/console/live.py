"""Console pages: speaking live (Phát trực tiếp) in two steps, then on air from the browser.

Step 1 names the session (title, unit, priority) and saves it as prepared; step 2 shows how
many devices it will reach and asks to confirm. On air, a small script
(``/static/console_live.js``) takes the microphone, sends each MediaRecorder chunk to the
session's audio route, shows the count of devices playing, and stops it. A session may speak
from a device's microphone instead (a commune office's Pi): the page then only counts and stops.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from control_center.core.permissions import Permission
from control_center.errors import CenterError, Forbidden
from control_center.live import microphone, source
from control_center.models import LiveState
from control_center.telemetry.fleet_overview import fleet_overview
from control_center.web.console.common import (
    PREFIX,
    ConsoleContext,
    ConsoleDep,
    FormState,
    redirect,
    render,
)
from control_center.web.console.devices import unit_options
from protocol.base import Priority

router = APIRouter(prefix=PREFIX, include_in_schema=False)

DENIED = "Vai trò của bạn không được phát trực tiếp / your role may not speak live."
PRIORITIES = {Priority.NORMAL.value: "Thường / normal",
              Priority.PRIORITY.value: "Ưu tiên / priority",
              Priority.EMERGENCY.value: "Khẩn cấp, ngắt mọi bản tin / emergency: interrupts "
                                        "anything playing"}
Str = Annotated[str, Form()]


def _allowed(ctx: ConsoleContext) -> None:
    if not ctx.may(Permission.LIVE):
        raise Forbidden(DENIED)


def _step1(ctx: ConsoleContext, form: FormState, status_code: int = 200) -> Response:
    with ctx.center.read_sessions() as session:
        overview = fleet_overview(session, unit_id=ctx.actor.unit_id)
        sessions = microphone.list_sessions(session, actor=ctx.actor, limit=20)
        devices = source.source_options(session, actor=ctx.actor)
    priorities = {k: v for k, v in PRIORITIES.items()
                  if k != Priority.EMERGENCY.value or ctx.may(Permission.EMERGENCY)}
    return render(ctx, "console_live.html", status_code=status_code, form=form,
                  units=[("", "— Chọn đơn vị / pick a unit —"), *unit_options(overview.units)],
                  priorities=list(priorities.items()), sessions=sessions,
                  sources=[("", "Micrô của máy này (trình duyệt) / this computer's microphone"),
                           *((d.device_id, f"Micrô của thiết bị {d.label} / the microphone of "
                              f"device {d.device_id}") for d in devices)])


@router.get("/live")
def live_form(ctx: ConsoleDep) -> Response:
    """Step 1: title, unit and priority; below it, the latest sessions."""
    _allowed(ctx)
    return _step1(ctx, FormState(values={"priority": Priority.PRIORITY.value}))


@router.post("/live")
def live_create(ctx: ConsoleDep, csrf: Str = "", title: Str = "", target_unit_id: Str = "",
                priority: Str = Priority.PRIORITY.value, source_device_id: Str = "") -> Response:
    """Save the prepared session and show step 2 (or step 1 again with the errors)."""
    ctx.check_csrf(csrf)
    _allowed(ctx)
    form = FormState(values={"title": title, "target_unit_id": target_unit_id,
                             "priority": priority, "source_device_id": source_device_id})
    if not target_unit_id.strip().isdigit():
        form.error("target_unit_id", "Chọn đơn vị nhận / pick the unit to speak to")
    if priority not in PRIORITIES:
        form.error("priority", "Chọn mức ưu tiên / pick a priority")
    if form.ok:
        with ctx.center.sessions() as session:
            try:
                row = microphone.create_session(
                    session, actor=ctx.actor, title=title, priority=Priority(priority),
                    target_unit_id=int(target_unit_id), now=ctx.center.clock(),
                    source_device_id=source_device_id.strip() or None)
                return redirect(f"{PREFIX}/live/{row.id}")
            except CenterError as exc:
                session.rollback()
                form.error(getattr(exc, "field", "_form"), str(exc))
    return _step1(ctx, form, status_code=422)


def _session_page(ctx: ConsoleContext, session_id: str, form: FormState | None = None,
                  status_code: int = 200) -> Response:
    with ctx.center.read_sessions() as session:
        row = microphone.get_session(session, actor=ctx.actor, stream_id=session_id)
        counts = microphone.counts(session, row=row)
        unit = microphone.target_unit_name(session, row=row)
        session.expunge(row)
    return render(ctx, "console_live_session.html", status_code=status_code, s=row,
                  counts=counts, unit_name=unit, form=form or FormState(),
                  priority_label=PRIORITIES.get(row.priority.value, row.priority.value),
                  LiveState=LiveState)


@router.get("/live/{session_id}")
def live_session(ctx: ConsoleDep, session_id: str) -> Response:
    """Prepared: the confirmation (devices it will reach). Live: on air (microphone, count,
    stop). Ended: who spoke, how long, and the recording."""
    _allowed(ctx)
    return _session_page(ctx, session_id)


@router.post("/live/{session_id}/start")
def live_start(ctx: ConsoleDep, session_id: str, csrf: Str = "") -> Response:
    """Step 2 confirmed: on air."""
    ctx.check_csrf(csrf)
    _allowed(ctx)
    form = FormState()
    with ctx.center.sessions() as session:
        try:
            microphone.start_session(session, desk=ctx.center.emergency, actor=ctx.actor,
                                     stream_id=session_id, now=ctx.center.clock())
            return redirect(f"{PREFIX}/live/{session_id}")
        except CenterError as exc:
            session.rollback()
            if exc.status_code == 404:
                raise
            form.error("_form", str(exc))
    return _session_page(ctx, session_id, form, status_code=422)


@router.post("/live/{session_id}/stop")
def live_stop(ctx: ConsoleDep, session_id: str, csrf: Str = "") -> Response:
    """Stop (the page's script sends the last audio first); then the summary."""
    ctx.check_csrf(csrf)
    _allowed(ctx)
    with ctx.center.sessions() as session:
        microphone.stop_session(session, desk=ctx.center.emergency, live=ctx.center.live,
                                inputs=ctx.center.microphones, actor=ctx.actor,
                                stream_id=session_id, now=ctx.center.clock())
    return redirect(f"{PREFIX}/live/{session_id}")
