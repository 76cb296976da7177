"""Console pages: emergency broadcast in two steps, then a live view of the devices.

Step 1 picks the units and the message (an approved bulletin, a recording, or a typed text
spoken by the center's TTS); step 2 reviews it (units, device count, the audio) and asks to
tick a box and type the confirmation word. Nothing is saved until step 2 passes, except the
uploaded or synthesised audio (content-addressed media, reused when sent).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from control_center.core.permissions import Permission
from control_center.errors import CenterError, Forbidden
from control_center.models import Bulletin, BulletinKind
from control_center.services import (
    broadcasts,
    emergency,
    emergency_checks,
    emergency_media,
    media_store,
)
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

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SOURCES = {"bulletin": "Bản tin đã duyệt / approved bulletin",
           "upload": "Bản ghi âm / recording", "text": "Nhập văn bản, máy đọc / typed text (TTS)"}
DENIED = "Vai trò của bạn không được phát khẩn cấp / your role may not send emergency broadcasts."
_FIELDS = ("source", "bulletin_id", "media_sha256", "media_name", "text", "title",
           "valid_minutes")
_VALID_DEFAULT = str(emergency.DEFAULT_VALID_MINUTES)
Str = Annotated[str, Form()]
Ids = Annotated[list[str], Form()]


def _field(exc: CenterError, default: str = "_form") -> str:
    return getattr(exc, "field", default)


def _ids(raw: list[str]) -> list[int]:
    return [int(v) for v in raw if v.strip().isdigit()]


def _step1(ctx: ConsoleContext, form: FormState, chosen: list[int], status_code: int = 200
           ) -> Response:
    with ctx.center.read_sessions() as session:
        overview = fleet_overview(session, unit_id=ctx.actor.unit_id)
        choices = [(int(i), label) for i, label in unit_options(overview.units)]
        options = [("", "— Chọn bản tin / pick a bulletin —")] + [
            (str(b.id), f"#{b.id} · {b.title} ({b.priority.value})")
            for b in broadcasts.sendable_bulletins(session, actor=ctx.actor)]
        recent = broadcasts.list_broadcasts(session, actor=ctx.actor, limit=20)
    return render(ctx, "console_emergency.html", status_code=status_code,
                  form=form, units=choices, chosen=set(chosen), bulletin_options=options,
                  sources=SOURCES, recent=recent, confirm_word=emergency_checks.CONFIRM_WORD)


@router.get("/emergency")
def emergency_form(ctx: ConsoleDep) -> Response:
    """Step 1: units and message; below it, the latest broadcasts and waiting requests."""
    if not ctx.may(Permission.EMERGENCY):
        raise Forbidden(DENIED)
    return _step1(ctx, FormState(values={"source": "", "valid_minutes": _VALID_DEFAULT}), [])


def _check_message(session: Session, ctx: ConsoleContext, form: FormState,
                   recording: UploadFile | None) -> Bulletin | None:
    """Check (and for a recording or text, prepare) the message; errors go into ``form``."""
    v = form.values
    source, actor, center, now = v["source"], ctx.actor, ctx.center, ctx.center.clock()
    try:
        if source == "bulletin":
            if not v["bulletin_id"].isdigit():
                form.error("bulletin_id", "Chọn một bản tin đã duyệt / pick an approved bulletin")
                return None
            bulletin = broadcasts.visible_bulletin(session, actor=actor,
                                                   bulletin_id=int(v["bulletin_id"]))
            emergency_checks.check_sendable(bulletin, actor)
            return bulletin
        if source == "upload":
            if recording is not None and recording.filename:
                sink = center.intake.sink()
                try:
                    while chunk := recording.file.read(1024 * 1024):
                        sink.write(chunk)
                except BaseException:
                    sink.discard()
                    raise
                asset = emergency_media.ready_media(
                    session, intake=center.intake, sink=sink, name=recording.filename, actor=actor,
                    now=now, field="recording")
                v["media_sha256"], v["media_name"] = asset.sha256, recording.filename[:200]
            elif v["media_sha256"]:
                media_store.require_ready(session, sha256=v["media_sha256"])
            else:
                form.error("recording", "Chọn tệp ghi âm / choose a recording file")
        elif source == "text":
            asset = emergency_media.speech_media(session, intake=center.intake, text=v["text"],
                                                 actor=actor, now=now)
            v["media_sha256"] = asset.sha256
        else:
            form.error("source", "Chọn nguồn nội dung / choose what to broadcast")
    except CenterError as exc:
        default = {"upload": "recording", "text": "text"}.get(source, "bulletin_id")
        form.error(default if _field(exc) in ("media", "_form") else _field(exc), str(exc))
    return None


def _valid_minutes(form: FormState) -> int:
    """The validity window typed in step 1 (an error on the field when it is not 1–1440)."""
    raw = form.values.get("valid_minutes", "").strip() or _VALID_DEFAULT
    try:
        return emergency.check_valid_minutes(int(raw) if raw.isdigit() else 0)
    except CenterError as exc:
        form.error("valid_minutes", str(exc))
        return emergency.DEFAULT_VALID_MINUTES


def _review(ctx: ConsoleContext, session: Session, form: FormState, chosen: list[int],
            bulletin: Bulletin | None, status_code: int = 200) -> Response:
    plan = emergency_checks.plan(session, actor=ctx.actor, unit_ids=chosen)
    v = form.values
    audio = v["media_sha256"] or (bulletin.media_sha256 if bulletin is not None else None)
    title = (bulletin.title if bulletin is not None else v["title"].strip()
             or emergency.default_title(ctx.center.emergency, ctx.center.clock()))
    return render(
        ctx, "console_emergency_review.html", status_code=status_code, form=form,
        chosen=chosen, plan=plan, title=title, bulletin=bulletin, audio=audio,
        source_label=SOURCES.get(v["source"], ""), confirm_word=emergency_checks.CONFIRM_WORD,
        text=v["text"] if v["source"] == "text" else (
            bulletin.text if bulletin is not None and bulletin.kind == BulletinKind.TEXT
            else ""),
        will_wait=v["source"] != "bulletin" and not ctx.actor.emergency_direct)


@router.post("/emergency/review")
def emergency_review(
    ctx: ConsoleDep, csrf: Str = "", unit_ids: Ids = [], source: Str = "",  # noqa: B006
    bulletin_id: Str = "", media_sha256: Str = "", media_name: Str = "", text: Str = "",
    title: Str = "", valid_minutes: Str = _VALID_DEFAULT,
    recording: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Check step 1; show the review (step 2) or step 1 again with the errors."""
    ctx.check_csrf(csrf)
    if not ctx.may(Permission.EMERGENCY):
        raise Forbidden(DENIED)
    form = FormState(values=dict(zip(_FIELDS, (source, bulletin_id, media_sha256.strip(),
                                               media_name, text, title, valid_minutes),
                                     strict=True)))
    _valid_minutes(form)
    chosen = _ids(unit_ids)
    with ctx.center.sessions() as session:
        bulletin = _check_message(session, ctx, form, recording)
        try:
            emergency_checks.plan(session, actor=ctx.actor, unit_ids=chosen)
        except CenterError as exc:
            form.error("unit_ids", str(exc))
        if form.ok:
            return _review(ctx, session, form, chosen, bulletin)
    return _step1(ctx, form, chosen, status_code=422)


@router.post("/emergency/edit")
def emergency_edit(
    ctx: ConsoleDep, csrf: Str = "", unit_ids: Ids = [], source: Str = "",  # noqa: B006
    bulletin_id: Str = "", media_sha256: Str = "", media_name: Str = "", text: Str = "",
    title: Str = "", valid_minutes: Str = _VALID_DEFAULT,
) -> Response:
    """Back from the review to step 1, with everything chosen so far."""
    ctx.check_csrf(csrf)
    if not ctx.may(Permission.EMERGENCY):
        raise Forbidden(DENIED)
    form = FormState(values=dict(zip(_FIELDS, (source, bulletin_id, media_sha256, media_name,
                                               text, title, valid_minutes), strict=True)))
    return _step1(ctx, form, _ids(unit_ids))


def _confirmed(form: FormState, confirm: str, confirm_check: str) -> None:
    form.values.update(confirm=confirm, confirm_check=confirm_check)
    if not confirm_check:
        form.error("confirm_check", "Đánh dấu ô xác nhận / tick the box to confirm")
    if not emergency_checks.confirmation_ok(confirm):
        form.error("confirm", f'Gõ đúng "{emergency_checks.CONFIRM_WORD}" để xác nhận / type '
                              f'"{emergency_checks.CONFIRM_WORD}" to confirm')


@router.post("/emergency/send")
def emergency_send(
    ctx: ConsoleDep, csrf: Str = "", unit_ids: Ids = [], source: Str = "",  # noqa: B006
    bulletin_id: Str = "", media_sha256: Str = "", media_name: Str = "", text: Str = "",
    title: Str = "", confirm: Str = "", confirm_check: Str = "",
    valid_minutes: Str = _VALID_DEFAULT,
) -> Response:
    """Step 2: with the box ticked and the word typed, send (or submit for approval)."""
    ctx.check_csrf(csrf)
    if not ctx.may(Permission.EMERGENCY):
        raise Forbidden(DENIED)
    form = FormState(values=dict(zip(_FIELDS, (source, bulletin_id, media_sha256, media_name,
                                               text, title, valid_minutes), strict=True)))
    chosen = _ids(unit_ids)
    minutes = _valid_minutes(form)
    _confirmed(form, confirm, confirm_check)
    message = emergency_checks.Message(
        bulletin_id=int(bulletin_id) if source == "bulletin" and bulletin_id.isdigit() else None,
        media_sha256=(media_sha256 or None) if source in ("upload", "text") else None,
        text=text if source == "text" else None, title=title)
    with ctx.center.sessions() as session:
        if form.ok:
            try:
                outcome = emergency.submit(session, desk=ctx.center.emergency,
                                           actor=ctx.actor,
                                           unit_ids=chosen, message=message, confirm=confirm,
                                           now=ctx.center.clock(), valid_minutes=minutes)
                return redirect(f"{PREFIX}/emergency/{outcome.id}")
            except CenterError as exc:
                session.rollback()
                form.error("confirm" if _field(exc) == "confirm" else "_form", str(exc))
        bulletin = None
        if message.bulletin_id is not None:
            bulletin = session.get(Bulletin, message.bulletin_id)
        try:
            return _review(ctx, session, form, chosen, bulletin, status_code=422)
        except CenterError as exc:
            form.error("unit_ids", str(exc))
    return _step1(ctx, form, chosen, status_code=422)


def _live(ctx: ConsoleContext, broadcast_id: int, form: FormState | None = None,
          status_code: int = 200) -> Response:
    with ctx.center.read_sessions() as session:
        progress = broadcasts.status(session, actor=ctx.actor, broadcast_id=broadcast_id)
        bulletin = session.get(Bulletin, progress.broadcast.bulletin_id)
        audio, text = (bulletin.media_sha256, bulletin.text) if bulletin else (None, None)
    b = progress.broadcast
    if b.kind == "request" and progress.sent_id is not None:
        return redirect(f"{PREFIX}/emergency/{progress.sent_id}")
    if b.kind == "request":
        can_send = (ctx.may(Permission.APPROVE) and b.actor != ctx.actor.name
                    and ctx.actor.covers(b.actor_unit_id))
        return render(ctx, "console_emergency_request.html", status_code=status_code,
                      progress=progress, can_send=can_send, form=form or FormState(),
                      confirm_word=emergency_checks.CONFIRM_WORD, audio=audio, text=text)
    return render(ctx, "console_emergency_live.html", status_code=status_code,
                  progress=progress, now=ctx.center.clock())


@router.get("/emergency/{broadcast_id}")
def emergency_live(ctx: ConsoleDep, broadcast_id: int) -> Response:
    """The broadcast's progress (updated every second by a small script; current counts
    without it); a request waiting for approval shows who may send it."""
    if not ctx.may(Permission.EMERGENCY):
        raise Forbidden(DENIED)
    return _live(ctx, broadcast_id)


@router.post("/emergency/{broadcast_id}/send")
def emergency_send_request(
    ctx: ConsoleDep, broadcast_id: int, csrf: Str = "", confirm: Str = "",
    confirm_check: Str = "",
) -> Response:
    """An approver approves and sends a waiting request (the same two confirmations)."""
    ctx.check_csrf(csrf)
    if not ctx.may(Permission.EMERGENCY):
        raise Forbidden(DENIED)
    form = FormState()
    _confirmed(form, confirm, confirm_check)
    if form.ok:
        with ctx.center.sessions() as session:
            try:
                outcome = emergency.send_request(session, desk=ctx.center.emergency,
                                                 actor=ctx.actor,
                                                 request_id=broadcast_id, confirm=confirm,
                                                 now=ctx.center.clock())
                return redirect(f"{PREFIX}/emergency/{outcome.id}")
            except CenterError as exc:
                session.rollback()
                form.error("confirm" if _field(exc) == "confirm" else "_form", str(exc))
    return _live(ctx, broadcast_id, form, status_code=422)
