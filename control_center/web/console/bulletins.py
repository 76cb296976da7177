"""Console pages: the bulletin list, the bulletin form, the detail page and its actions.

Every action goes through the same services as the API (``services.bulletins``,
``services.workflow``, ``services.distribution``); a refused action re-renders the page with
the message beside the field it concerns and what the user typed kept.
"""

from __future__ import annotations

import json
from typing import Annotated, TypedDict
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from control_center.errors import CenterError
from control_center.feedback.survey_schemas import SurveyOut
from control_center.feedback.survey_view import survey_view
from control_center.models import AdminUnit, Bulletin, BulletinKind, BulletinStatus, MediaAsset
from control_center.schemas.content import BulletinCreate, BulletinUpdate
from control_center.schemas.distribution import PublishRequest
from control_center.services import bulletins, distribution, text_bulletins, workflow
from control_center.web.console.bulletin_forms import (
    KIND_LABELS,
    PRIORITY_LABELS,
    bulletin_form,
    parse_slot,
    shown_window,
    store_recording,
    subtree_units,
    upload_error,
)
from control_center.web.console.common import PREFIX, ConsoleDep, FormState, redirect, render
from control_center.web.console.federation_view import already_sent, send_targets
from protocol.base import Priority

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
FLASH = {"created": "Đã lưu bản nháp / draft saved", "saved": "Đã lưu / saved",
         "submit": "Đã gửi duyệt / submitted for approval", "approve": "Đã duyệt / approved",
         "reject": "Đã từ chối / rejected", "publish": "Đã gửi xuống cấp dưới / sent down",
         "survey": "Ki-ốt sẽ hỏi người dân / kiosks will ask passers-by",
         "survey_stopped": "Đã dừng hỏi / no longer asked"}


class _Labels(TypedDict):
    status_labels: dict[str, str]
    priority_labels: dict[str, str]
    kind_labels: dict[str, str]
    priority_options: list[tuple[str, str]]


def _labels() -> _Labels:
    return {"status_labels": {s.value: label for s, label in workflow.STATUS_LABELS.items()},
            "priority_labels": PRIORITY_LABELS, "kind_labels": KIND_LABELS,
            "priority_options": [(k, f"{v} / {k}") for k, v in PRIORITY_LABELS.items()]}


def _unit_names(session: Session, found: list[Bulletin]) -> dict[int | None, str]:
    names: dict[int | None, str] = {None: "Trung tâm / system"}
    names.update(distribution.unit_names(session, {b.unit_id for b in found if b.unit_id}).items())
    return names


@router.get("/bulletins")
def bulletin_list(ctx: ConsoleDep, status: str = "") -> Response:
    """Bulletins of the user's subtree and those sent down to it, newest change first."""
    wanted = next((s for s in BulletinStatus if s.value == status), None)
    with ctx.center.read_sessions() as session:
        found = bulletins.list_bulletins(session, actor=ctx.actor, status=wanted, limit=300)
        names = _unit_names(session, found)
    return render(ctx, "console_bulletins.html", bulletins=found, units=names,
                  status=wanted.value if wanted else "", **_labels())


def _form_page(ctx: ConsoleDep, form: FormState, *, bulletin: Bulletin | None,
               status_code: int = 200) -> Response:
    return render(ctx, "console_bulletin_form.html", status_code=status_code, form=form,
                  bulletin=bulletin, **_labels())


@router.get("/bulletins/new")
def new_bulletin(ctx: ConsoleDep) -> Response:
    form = FormState(values={"priority": "normal", "kind": "audio"})
    return _form_page(ctx, form, bulletin=None)


def _has_file(audio: UploadFile | str | None) -> bool:
    # the parsed part is Starlette's UploadFile (FastAPI's is a subclass used for annotations)
    return isinstance(audio, StarletteUpload) and bool(audio.filename)


@router.post("/bulletins/new")
def create_bulletin(
    ctx: ConsoleDep, csrf: FormText = "", title: FormText = "", category: FormText = "",
    priority: FormText = "normal", kind: FormText = "audio", text: FormText = "",
    source_url: FormText = "", window_minutes: FormText = "", shown_until: FormText = "",
    audio: Annotated[UploadFile | str | None, File()] = None,
    filler: Annotated[UploadFile | str | None, File()] = None,
) -> Response:
    """Validate everything, then store the recording, then the draft: all or nothing."""
    ctx.check_csrf(csrf)
    values = {"title": title, "category": category, "priority": priority, "kind": kind,
              "text": text, "source_url": source_url, "window_minutes": window_minutes,
              "shown_until": shown_until}
    form = bulletin_form(values, has_file=_has_file(audio), needs_file=True)
    shown = shown_window(FormState(values=values)) if kind == BulletinKind.TEXT.value \
        else (None, None)
    now = ctx.center.clock()
    sha = filler_sha = None
    if form.ok and kind == BulletinKind.AUDIO.value and isinstance(audio, StarletteUpload):
        try:
            sha = store_recording(ctx, audio, now=now)
        except CenterError as exc:
            form.error("audio", upload_error(exc))
    relay = kind == BulletinKind.RELAY.value
    if form.ok and relay and _has_file(filler):
        assert isinstance(filler, StarletteUpload)
        try:
            filler_sha = store_recording(ctx, filler, now=now)
        except CenterError as exc:
            form.error("filler", upload_error(exc))
    if not form.ok:
        return _form_page(ctx, form, bulletin=None, status_code=422)
    data = BulletinCreate(
        title=title, category=category, priority=Priority(priority), kind=BulletinKind(kind),
        media_sha256=sha, text=None if relay else text.strip() or None,
        source_url=source_url.strip() if relay else None,
        window_minutes=int(window_minutes) if relay else None, filler_sha256=filler_sha,
        shown_minutes=shown[0], shown_until=shown[1])
    with ctx.center.sessions() as session:
        try:
            created = bulletins.create_bulletin(session, data=data, actor=ctx.actor, now=now)
        except CenterError as exc:
            form.error("_form", str(exc))
            return _form_page(ctx, form, bulletin=None, status_code=exc.status_code)
        return redirect(f"{PREFIX}/bulletins/{created.id}?done=created")


@router.get("/bulletins/{bulletin_id}/edit")
def edit_bulletin(ctx: ConsoleDep, bulletin_id: int) -> Response:
    with ctx.center.read_sessions() as session:
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=ctx.actor)
        workflow.require_owner(ctx.actor, bulletin, doing=("sửa", "edit"))
        form = FormState(values={"title": bulletin.title, "category": bulletin.category,
                                 "priority": bulletin.priority.value,
                                 "kind": bulletin.kind.value, "text": bulletin.text or "",
                                 "source_url": bulletin.source_url or "",  # loads its stream
                                 "window_minutes": str(bulletin.window_minutes or ""),
                                 "shown_until": bulletin.shown_until
                                 or str(bulletin.shown_minutes or "")})
    return _form_page(ctx, form, bulletin=bulletin)


@router.post("/bulletins/{bulletin_id}/edit")
def update_bulletin(
    ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "", title: FormText = "",
    category: FormText = "", priority: FormText = "normal", text: FormText = "",
    source_url: FormText = "", window_minutes: FormText = "", drop_filler: FormText = "",
    shown_until: FormText = "", audio: Annotated[UploadFile | str | None, File()] = None,
    filler: Annotated[UploadFile | str | None, File()] = None,
) -> Response:
    """Save changes; an approved or scheduled bulletin goes back to draft (and off the air)."""
    ctx.check_csrf(csrf)
    with ctx.center.read_sessions() as session:
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=ctx.actor)
        workflow.require_owner(ctx.actor, bulletin, doing=("sửa", "edit"))
        relay = bulletin.kind == BulletinKind.RELAY
        filler_now = bulletin.filler_sha256
    values = {"title": title, "category": category, "priority": priority,
              "kind": bulletin.kind.value, "text": text, "source_url": source_url,
              "window_minutes": window_minutes, "shown_until": shown_until}
    form = bulletin_form(values, has_file=_has_file(audio), needs_file=False)
    now = ctx.center.clock()
    changes: dict[str, object] = {"title": title, "category": category,
                                  "priority": Priority(priority) if form.ok else None,
                                  "text": text.strip() or None}
    if bulletin.kind == BulletinKind.TEXT and form.ok:
        changes["shown_minutes"], changes["shown_until"] = shown_window(
            FormState(values=values))
    if relay and form.ok:
        changes.update(source_url=source_url.strip(), window_minutes=int(window_minutes),
                       filler_sha256=None if drop_filler else filler_now)
    if form.ok and bulletin.kind == BulletinKind.AUDIO and _has_file(audio):
        assert isinstance(audio, StarletteUpload)
        try:
            changes["media_sha256"] = store_recording(ctx, audio, now=now)
        except CenterError as exc:
            form.error("audio", upload_error(exc))
    if form.ok and relay and _has_file(filler):
        assert isinstance(filler, StarletteUpload)
        try:
            changes["filler_sha256"] = store_recording(ctx, filler, now=now)
        except CenterError as exc:
            form.error("filler", upload_error(exc))
    if not form.ok:
        return _form_page(ctx, form, bulletin=bulletin, status_code=422)
    with ctx.center.sessions() as session:
        try:
            _, devices = bulletins.update_bulletin(
                session, bulletin_id=bulletin_id, data=BulletinUpdate.model_validate(changes),
                actor=ctx.actor, now=now)
        except CenterError as exc:
            form.error("_form", str(exc))
            return _form_page(ctx, form, bulletin=bulletin, status_code=exc.status_code)
    return redirect(f"{PREFIX}/bulletins/{bulletin_id}?done=saved")


def _note(detail: str) -> str:
    """The note (or reason) an audit entry carries, if any."""
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return ""
    return str(data.get("note") or data.get("reason") or "") if isinstance(data, dict) else ""


def detail_page(ctx: ConsoleDep, bulletin_id: int, *,
                forms: dict[str, FormState] | None = None, status_code: int = 200,
                done: str = "") -> Response:
    tz = ZoneInfo(ctx.center.settings.timezone)
    with ctx.center.read_sessions() as session:
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=ctx.actor)
        asset = (session.get(MediaAsset, bulletin.media_sha256)
                 if bulletin.media_sha256 else None)
        relay = ({"source_url": bulletin.source_url, "window_minutes": bulletin.window_minutes,
                  "filler": session.get(MediaAsset, bulletin.filler_sha256)
                  if bulletin.filler_sha256 else None}
                 if bulletin.kind == BulletinKind.RELAY else None)
        voice = (session.get(MediaAsset, bulletin.voice_sha256)
                 if bulletin.voice_sha256 else None)
        owner = session.get(AdminUnit, bulletin.unit_id) if bulletin.unit_id else None
        allowed = workflow.allowed_actions(bulletin, ctx.actor)
        units = (subtree_units(session, unit_id=ctx.actor.unit_id)
                 if "publish" in allowed and ctx.actor.unit_id is not None else [])
        entries = workflow.history(session, bulletin_id=bulletin.id)
        sent = bool(distribution.list_distributions(session, actor=ctx.actor,
                                                    bulletin_id=bulletin.id, limit=1))
        survey = survey_view(session, bulletin_id=bulletin.id, actor=ctx.actor,
                             now=ctx.center.clock())
        centers = send_targets(session, actor=ctx.actor, bulletin=bulletin)
        centers_sent = already_sent(session, bulletin_id=bulletin.id) if centers else {}
    forms = forms or {}
    return render(ctx, "console_bulletin.html", status_code=status_code, bulletin=bulletin,
                  asset=asset, relay=relay, owner=owner, allowed=allowed, units=units,
                  voice=voice, voice_state=text_bulletins.voice_state(bulletin),
                  history=entries,
                  notes={e.id: _note(e.detail) for e in entries},
                  sent=sent,
                  review=forms.get("review", FormState()),
                  publish=forms.get("publish", FormState(values={"slot_kind": "once"})),
                  survey=survey, survey_form=forms.get("survey", _survey_form(survey)),
                  centers=centers, centers_sent=centers_sent,
                  centers_form=forms.get("centers", FormState(values={"slot_kind": "once"})),
                  action_labels=workflow.ACTION_LABELS, flash=FLASH.get(done, ""),
                  today=ctx.center.clock().astimezone(tz).date().isoformat(), **_labels())


def _survey_form(survey: SurveyOut | None) -> FormState:
    """The survey form filled with the questions asked (or empty, for 7 days)."""
    values = {"days": "7"}
    for q in survey.questions if survey else []:
        values.update({f"q{q.position}": q.text, f"kind{q.position}": q.kind.value,
                       f"choices{q.position}": "; ".join(q.choices)
                       if q.kind.value == "choice" else ""})
    return FormState(values=values)


@router.get("/bulletins/{bulletin_id}")
def bulletin_detail(ctx: ConsoleDep, bulletin_id: int, done: str = "") -> Response:
    """The bulletin with its preview, status history and the actions this user may take."""
    return detail_page(ctx, bulletin_id, done=done)


def _review(ctx: ConsoleDep, bulletin_id: int, action: str, csrf: str,
            note: str) -> Response:
    ctx.check_csrf(csrf)
    now, devices = ctx.center.clock(), set[str]()
    with ctx.center.sessions() as session:
        try:
            if action == "submit":
                workflow.submit(session, bulletin_id=bulletin_id, actor=ctx.actor, now=now,
                                note=note)
            elif action == "approve":
                _, devices = workflow.approve(session, bulletin_id=bulletin_id, actor=ctx.actor,
                                              now=now, note=note)
            else:
                workflow.reject(session, bulletin_id=bulletin_id, actor=ctx.actor, now=now,
                                note=note)
        except CenterError as exc:
            session.rollback()
            form = FormState(values={"note": note})
            form.error("note" if action == "reject" and exc.status_code == 422 else "_form",
                       str(exc))
            return detail_page(ctx, bulletin_id, forms={"review": form},
                           status_code=exc.status_code)
    return redirect(f"{PREFIX}/bulletins/{bulletin_id}?done={action}")


@router.post("/bulletins/{bulletin_id}/submit")
def submit_bulletin(ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "",
                    note: FormText = "") -> Response:
    return _review(ctx, bulletin_id, "submit", csrf, note)


@router.post("/bulletins/{bulletin_id}/approve")
def approve_bulletin(ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "",
                     note: FormText = "") -> Response:
    return _review(ctx, bulletin_id, "approve", csrf, note)


@router.post("/bulletins/{bulletin_id}/reject")
def reject_bulletin(ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "",
                    note: FormText = "") -> Response:
    return _review(ctx, bulletin_id, "reject", csrf, note)


@router.post("/bulletins/{bulletin_id}/publish")
def publish_bulletin(
    ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "",
    unit_ids: Annotated[list[str] | None, Form()] = None, slot_kind: FormText = "once",
    at: FormText = "", time: FormText = "", from_date: FormText = "", until_date: FormText = "",
) -> Response:
    """Send down to every commune below the ticked units (priority: scheduled in the slot)."""
    ctx.check_csrf(csrf)
    checked = unit_ids or []
    form = FormState(values={"unit_ids": ",".join(checked), "slot_kind": slot_kind, "at": at,
                             "time": time, "from_date": from_date, "until_date": until_date})
    if not checked:
        form.error("unit_ids", "Chọn ít nhất một đơn vị / tick at least one unit")
    now, tz = ctx.center.clock(), ZoneInfo(ctx.center.settings.timezone)
    with ctx.center.sessions() as session:
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=ctx.actor)
        slot = (parse_slot(form, tz=tz, now=now)
                if bulletin.priority == Priority.PRIORITY else None)
        session.rollback()
        if not form.ok:
            return detail_page(ctx, bulletin_id, forms={"publish": form}, status_code=422)
        try:
            _, devices = distribution.publish(
                session, bulletin_id=bulletin_id,
                request=PublishRequest(unit_ids=[int(u) for u in checked if u.isdigit()],
                                       slot=slot),
                actor=ctx.actor, now=now, default_tz=ctx.center.settings.timezone)
        except CenterError as exc:
            session.rollback()
            form.error("_form", str(exc))
            return detail_page(ctx, bulletin_id, forms={"publish": form},
                           status_code=exc.status_code)
    return redirect(f"{PREFIX}/bulletins/{bulletin_id}/distribution?done=publish")
