"""CAP 1.2 in (``/api/v1/cap``): registered senders post alerts; administrators register the
senders of their subtree and read what was received (docs/cap.md).

``POST /cap/alerts`` is open to anyone at the gate: the ``X-CAP-Key`` header is the
credential, checked here. The public CAP 1.2 out (``/cap/feed.atom``) is ``cap_feed``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep, client_ip
from control_center.cap import senders
from control_center.cap.document import MAX_BYTES
from control_center.cap.receiving import Received, receive
from control_center.cap.schemas import (
    AlertPublic,
    SenderCreate,
    SenderCreated,
    SenderPublic,
    SenderUpdate,
)
from control_center.errors import PayloadTooLarge, UnsupportedMedia
from control_center.models import CapAlert, CapSender
from control_center.schemas.common import ItemList
from control_center.workers.runtime import Center

router = APIRouter(prefix="/cap", tags=["cap"])
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
OPENAPI_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    t: {"schema": {"type": "string"}} for t in CAP_TYPES}}}


def _public(row: CapAlert, *, duplicate: bool = False) -> AlertPublic:
    return AlertPublic.model_validate({
        **{c: getattr(row, c) for c in AlertPublic.model_fields if hasattr(row, c)},
        "unit_ids": [int(u) for u in row.unit_ids.split(",") if u], "duplicate": duplicate})


async def _body(request: Request) -> bytes:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in CAP_TYPES:
        raise UnsupportedMedia(f"send the CAP document as {', '.join(CAP_TYPES)} (got "
                               f"{kind or 'no Content-Type'})")
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > MAX_BYTES:
            raise PayloadTooLarge(f"a CAP document is at most {MAX_BYTES // 1024} KB")
    return bytes(data)


def _receive(center: Center, *, key: str, body: bytes, ip: str | None) -> Received:
    now = center.clock()
    with center.sessions() as session:
        sender = senders.authenticate(session, key=key, now=now)
        session.commit()  # the key's last use, whatever the alert does
        return receive(session, desk=center.emergency, sender=sender, body=body, now=now,
                       default_tz=center.settings.timezone, source_ip=ip)


@router.post("/alerts", response_model=AlertPublic, status_code=201, openapi_extra=OPENAPI_BODY,
             responses={200: {"model": AlertPublic, "description": "a duplicate: the alert "
                                                                   "was already received"}})
async def post_alert(request: Request, center: CenterDep,
                     x_cap_key: Annotated[str, Header()] = "") -> JSONResponse:
    """Take in one CAP 1.2 document from the sender holding ``X-CAP-Key``: 201 with what it
    did, 200 with the first answer for a duplicate; 4xx with the reason when refused."""
    body = await _body(request)
    received = await run_in_threadpool(_receive, center, key=x_cap_key, body=body,
                                       ip=client_ip(request))
    answer = _public(received.row, duplicate=received.duplicate)
    return JSONResponse(answer.model_dump(mode="json"),
                        status_code=200 if received.duplicate else 201)


@router.get("/alerts", response_model=ItemList[AlertPublic])
def list_alerts(session: SessionDep, actor: ActorDep, limit: int = 200) -> ItemList[AlertPublic]:
    """Alerts received from the senders of the caller's subtree, newest first."""
    query = select(CapAlert).order_by(CapAlert.id.desc()).limit(max(1, min(limit, 1000)))
    if actor.scope is not None:
        query = query.join(CapSender).where(CapSender.unit_id.in_(actor.scope))
    return ItemList.of([_public(r) for r in session.scalars(query)])


@router.post("/senders", response_model=SenderCreated, status_code=201)
def create_sender(data: SenderCreate, session: SessionDep, actor: ActorDep,
                  now: NowDep) -> SenderCreated:
    """A sender for a unit of the caller's subtree; ``api_key`` is shown only here."""
    row, key = senders.create_sender(session, data=data, actor=actor, now=now)
    return SenderCreated.model_validate({**SenderPublic.model_validate(row).model_dump(),
                                         "api_key": key})


@router.get("/senders", response_model=ItemList[SenderPublic])
def list_senders(session: SessionDep, actor: ActorDep) -> ItemList[SenderPublic]:
    rows = senders.list_senders(session, actor=actor)
    return ItemList.of([SenderPublic.model_validate(r) for r in rows])


@router.patch("/senders/{sender_id}", response_model=SenderPublic)
def update_sender(sender_id: int, data: SenderUpdate, session: SessionDep, actor: ActorDep,
                  now: NowDep) -> SenderPublic:
    row = senders.set_rule(session, sender_id=sender_id, rule=data.emergency_rule, actor=actor,
                           now=now)
    return SenderPublic.model_validate(row)


@router.post("/senders/{sender_id}/revoke", response_model=SenderPublic)
def revoke_sender(sender_id: int, session: SessionDep, actor: ActorDep,
                  now: NowDep) -> SenderPublic:
    row = senders.revoke_sender(session, sender_id=sender_id, actor=actor, now=now)
    return SenderPublic.model_validate(row)
