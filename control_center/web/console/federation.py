"""Console pages for the links between centers (docs/federation.md, "Console"): this center's
identity and peers (register, revoke), the bulletins sent to child centers with the states
they report, the parent's bulletins to accept into a slot or decline, and sending an approved
bulletin of the bulletin page to child centers. Center-wide: users of a root unit only."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from control_center.core.permissions import Permission
from control_center.errors import CenterError
from control_center.federation import content_down, peers, sending
from control_center.federation.messages import Slot
from control_center.federation.schemas import PeerCreate
from control_center.models import AdminUnit, PeerRole, PeerState
from control_center.services import workflow
from control_center.web.console.bulletin_forms import PRIORITY_LABELS, parse_slot, subtree_units
from control_center.web.console.bulletins import detail_page
from control_center.web.console.common import PREFIX, ConsoleDep, FormState, redirect, render
from control_center.web.console.federation_view import (
    ROLE_LABELS,
    STATE_LABELS,
    bulletin_rows,
    peer_rows,
)
from protocol.base import Priority

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
FLASH = {"register": "Đã đăng ký trung tâm / center registered",
         "revoke": "Đã thu hồi / revoked", "accept": "Đã nhận và lập lịch / accepted and scheduled",
         "decline": "Đã từ chối / declined", "send": "Đã gửi các tỉnh / sent to the provinces"}
SLOT_FIELDS = ("slot_kind", "at", "time", "from_date", "until_date")


def _page(ctx: ConsoleDep, *, forms: dict[str, FormState] | None = None,
          status_code: int = 200, done: str = "") -> Response:
    me = ctx.center.federation.identity
    tz = ZoneInfo(ctx.center.settings.timezone)
    with ctx.center.read_sessions() as session:
        rows = peer_rows(session)
        sent = bulletin_rows(session, direction=content_down.OUT)
        received = bulletin_rows(session, direction=content_down.IN)
        units = [(str(u.id), f"{u.name} ({u.level})") for u, depth, _ in _units(ctx, session)
                 if depth <= 1]
    return render(
        ctx, "console_federation.html", status_code=status_code, center_id=me.center_id,
        public_key=me.public_key, fingerprint=peers.fingerprint(me.public_key), peers=rows,
        has_children=any(r.peer.role == PeerRole.CHILD for r in rows),
        has_parent=any(r.peer.role == PeerRole.PARENT for r in rows), sent=sent,
        waiting=[r for r in received if r.row.state == "inbox"],
        decided=[r for r in received if r.row.state != "inbox"], units=units,
        forms=forms or {}, empty=FormState(), flash=FLASH.get(done, ""),
        state_labels=STATE_LABELS, role_labels=ROLE_LABELS, priority_labels=PRIORITY_LABELS,
        active_state=PeerState.ACTIVE, can_decide=ctx.may(Permission.SCHEDULE),
        can_register=ctx.may(Permission.MANAGE_USERS),
        today=ctx.center.clock().astimezone(tz).date().isoformat())


def _units(ctx: ConsoleDep, session: Session) -> list[tuple[AdminUnit, int, bool]]:
    """The units a child center may stand for: this user's unit and those below it."""
    if ctx.actor.unit_id is None:
        return []
    return subtree_units(session, unit_id=ctx.actor.unit_id)


@router.get("/federation")
def federation_page(ctx: ConsoleDep, done: str = "") -> Response:
    """This center's identity, its peers and the bulletins that crossed its links."""
    return _page(ctx, done=done)


@router.post("/federation/peers")
def register_peer(ctx: ConsoleDep, csrf: FormText = "", center_id: FormText = "",
                  name: FormText = "", url: FormText = "", public_key: FormText = "",
                  role: FormText = "", unit_id: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    form = FormState(values={"center_id": center_id.strip(), "name": name.strip(),
                             "url": url.strip(), "public_key": public_key.strip(),
                             "role": role, "unit_id": unit_id})
    try:
        body = PeerCreate(center_id=center_id.strip(), name=name.strip(), url=url.strip(),
                          public_key=public_key.strip(), role=role or "child",
                          unit_id=int(unit_id) if unit_id.isdigit() else None)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "_form"
            form.error(field, f"Giá trị không hợp lệ / {err['msg']}")
        return _page(ctx, forms={"register": form}, status_code=422)
    with ctx.center.sessions() as session:
        try:
            peers.register(session, center_id=body.center_id, name=body.name, url=body.url,
                           public_key=body.public_key, role=body.role, unit_id=body.unit_id,
                           own_id=ctx.center.federation.identity.center_id, actor=ctx.actor,
                           now=ctx.center.clock())
            session.commit()
        except CenterError as exc:
            session.rollback()
            form.error("_form", str(exc))
            return _page(ctx, forms={"register": form}, status_code=exc.status_code)
    return redirect(f"{PREFIX}/federation?done=register")


@router.post("/federation/peers/{peer_id}/revoke")
def revoke_peer(ctx: ConsoleDep, peer_id: int, csrf: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    with ctx.center.sessions() as session:
        peers.revoke(session, peer_id=peer_id, actor=ctx.actor, now=ctx.center.clock())
        session.commit()
    return redirect(f"{PREFIX}/federation?done=revoke")


def _decide(ctx: ConsoleDep, row_id: int, accept: bool, form: FormState) -> Response:
    now, tz = ctx.center.clock(), ZoneInfo(ctx.center.settings.timezone)
    key = f"{'accept' if accept else 'decline'}-{row_id}"
    slot = parse_slot(form, tz=tz, now=now) if accept else None
    if form.ok:
        with ctx.center.sessions() as session:
            try:
                content_down.decide(
                    session, identity=ctx.center.federation.identity, row_id=row_id,
                    accept=accept, slot=Slot(**slot.model_dump()) if slot else None,
                    note=form.values.get("note", ""), actor=ctx.actor,
                    default_tz=ctx.center.settings.timezone, now=now)
            except CenterError as exc:
                session.rollback()
                if exc.status_code == 404:
                    raise
                form.error("note" if exc.status_code == 422 and not accept else "_form",
                           str(exc))
    if not form.ok:
        return _page(ctx, forms={key: form}, status_code=422)
    ctx.center.federation_link.wake()
    return redirect(f"{PREFIX}/federation?done={'accept' if accept else 'decline'}")


@router.post("/federation/bulletins/{row_id}/accept")
def accept(ctx: ConsoleDep, row_id: int, csrf: FormText = "", slot_kind: FormText = "once",
           at: FormText = "", time: FormText = "", from_date: FormText = "",
           until_date: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    return _decide(ctx, row_id, True, FormState(values=dict(zip(
        SLOT_FIELDS, (slot_kind, at, time, from_date, until_date), strict=True))))


@router.post("/federation/bulletins/{row_id}/decline")
def decline(ctx: ConsoleDep, row_id: int, csrf: FormText = "", note: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    return _decide(ctx, row_id, False, FormState(values={"note": note}))


@router.post("/bulletins/{bulletin_id}/centers")
def send_to_centers(
    ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "",
    peer_ids: Annotated[list[str] | None, Form()] = None, slot_kind: FormText = "once",
    at: FormText = "", time: FormText = "", from_date: FormText = "", until_date: FormText = "",
) -> Response:
    """Send an approved bulletin of this center to the ticked child centers (a priority one
    with its slot)."""
    ctx.check_csrf(csrf)
    ticked = [p for p in peer_ids or [] if p.isdigit()]
    form = FormState(values={"peer_ids": ",".join(ticked), **dict(zip(
        SLOT_FIELDS, (slot_kind, at, time, from_date, until_date), strict=True))})
    if not ticked:
        form.error("peer_ids", "Chọn ít nhất một tỉnh / tick at least one center")
    now, tz = ctx.center.clock(), ZoneInfo(ctx.center.settings.timezone)
    with ctx.center.sessions() as session:
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=ctx.actor)
        slot = (parse_slot(form, tz=tz, now=now)
                if bulletin.priority == Priority.PRIORITY else None)
        if form.ok:
            try:
                sending.send_bulletin(
                    session, identity=ctx.center.federation.identity, bulletin_id=bulletin_id,
                    peer_ids=[int(p) for p in ticked],
                    slot=Slot(**slot.model_dump()) if slot else None, valid_minutes=None,
                    actor=ctx.actor, now=now)
            except CenterError as exc:
                session.rollback()
                form.error("_form", str(exc))
    if not form.ok:
        return detail_page(ctx, bulletin_id, forms={"centers": form}, status_code=422)
    ctx.center.federation_link.wake()
    return redirect(f"{PREFIX}/federation?done=send")
