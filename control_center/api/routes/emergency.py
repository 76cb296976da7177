"""Emergency broadcasts: send at once to unit subtrees, follow the devices' progress.

Every route needs Permission.EMERGENCY (set where the router is mounted).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.schemas.common import InputModel, ItemList, Sha256
from control_center.services import broadcasts, emergency, emergency_checks, emergency_media

router = APIRouter(prefix="/emergency", tags=["emergency"])


class EmergencyCreate(InputModel):
    """Give exactly one of ``bulletin_id`` (approved), ``media_sha256`` (processed) or ``text``
    (spoken by the center's TTS), and the confirmation typed out."""

    unit_ids: list[int] = Field(default_factory=list,
                                description="roots of the subtrees to reach (inside yours)")
    bulletin_id: int | None = None
    media_sha256: Sha256 | None = None
    text: str | None = Field(default=None, max_length=emergency_media.TEXT_MAX)
    title: str = Field(default="", max_length=emergency_checks.TITLE_MAX,
                       description="for new content; default 'Phát khẩn cấp <time>'")
    confirm: str = Field(default="", description=f'must be "{emergency_checks.CONFIRM_WORD}"')
    valid_minutes: int = Field(
        default=emergency.DEFAULT_VALID_MINUTES, ge=1, le=emergency.MAX_VALID_MINUTES,
        description="minutes a device may still start it (by its corrected clock); a device "
                    "reached later answers command_ack expired (missed)")


class EmergencySend(InputModel):
    confirm: str = Field(default="", description=f'must be "{emergency_checks.CONFIRM_WORD}"')
    valid_minutes: int | None = Field(
        default=None, ge=1, le=emergency.MAX_VALID_MINUTES,
        description="minutes a device may still start it; default: what the request asked")


class EmergencyAnswer(BaseModel):
    id: int = Field(description="the broadcast (or, waiting, the request) id")
    state: str = Field(description="sent | waiting_approval")
    bulletin_id: int
    targeted: int
    published: int = Field(description="commands the broker acknowledged")
    message: str
    status_url: str
    expires_at: datetime | None = Field(description="when a send stops being valid on the "
                                                    "devices (null while waiting)")


class DeviceProgressPublic(BaseModel):
    id: str
    name: str
    unit_name: str
    acked_at: datetime | None
    started_at: datetime | None
    failed: str | None
    expired_at: datetime | None = Field(
        description="when the device reported the command arrived after its validity")


class BroadcastStatus(BaseModel):
    id: int
    kind: str = Field(description="send | request")
    state: str = Field(description="sent | waiting_approval")
    sent_id: int | None = Field(description="the send answering a request")
    at: datetime
    actor: str
    bulletin_id: int
    title: str
    unit_ids: list[int]
    unit_names: list[str]
    flagged: bool
    approval_skipped: bool
    valid_minutes: int | None = Field(description="the validity asked (request) or given (send)")
    expires_at: datetime | None = Field(description="a send's end of validity")
    targeted: int
    acknowledged: int = Field(description="devices that acknowledged the command")
    started: int = Field(description="devices that reported play_started")
    failed: int = Field(description="devices that refused it, failed to play or missed it "
                                    "(expired included), and were never started")
    expired: int = Field(description="devices it reached after its validity (missed)")
    devices: list[DeviceProgressPublic]


def _answer(outcome: emergency.Outcome) -> EmergencyAnswer:
    return EmergencyAnswer(
        id=outcome.id, state=outcome.state, bulletin_id=outcome.bulletin_id,
        targeted=outcome.targeted, published=outcome.published, message=outcome.message,
        status_url=f"/api/v1/emergency/{outcome.id}/status", expires_at=outcome.expires_at)


def status_public(progress: broadcasts.Progress) -> BroadcastStatus:
    b = progress.broadcast
    return BroadcastStatus(
        id=b.id, kind=b.kind, state=progress.state, sent_id=progress.sent_id, at=b.at,
        actor=b.actor, bulletin_id=b.bulletin_id, title=b.title, unit_ids=list(b.unit_ids),
        unit_names=list(b.unit_names), flagged=b.flagged, approval_skipped=b.approval_skipped,
        valid_minutes=b.valid_minutes, expires_at=b.expires_at,
        targeted=progress.targeted, acknowledged=progress.acknowledged,
        started=progress.started, failed=progress.failed, expired=progress.expired,
        devices=[DeviceProgressPublic(id=d.id, name=d.name, unit_name=d.unit_name,
                                      acked_at=d.acked_at, started_at=d.started_at,
                                      failed=d.failed, expired_at=d.expired_at)
                 for d in progress.devices])


@router.post("", response_model=EmergencyAnswer, status_code=201,
             responses={202: {"model": EmergencyAnswer,
                              "description": "new content waiting for an approver"}})
def create_emergency(
    data: EmergencyCreate, response: Response, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> EmergencyAnswer:
    """Broadcast now to every device of the chosen units (201), or, for new content from a
    role that may not skip approval, leave it waiting for an approver (202).

    New content sent without approval is flagged in the audit log. 422: wrong confirmation,
    no unit, no or several messages; 404: a unit or bulletin outside your subtree;
    409: the bulletin is not approved; 503: the broker is unreachable (nothing sent).
    """
    message = emergency_checks.Message(bulletin_id=data.bulletin_id,
                                       media_sha256=data.media_sha256, text=data.text,
                                       title=data.title)
    outcome = emergency.submit(session, desk=center.emergency, actor=actor,
                               unit_ids=data.unit_ids, confirm=data.confirm, message=message,
                               now=now, valid_minutes=data.valid_minutes)
    if outcome.state != emergency.OutcomeState.SENT:
        response.status_code = 202
    return _answer(outcome)


@router.post("/{broadcast_id}/send", response_model=EmergencyAnswer, status_code=201)
def send_request(
    broadcast_id: int, data: EmergencySend, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> EmergencyAnswer:
    """An approver approves a waiting request and broadcasts it to the requested units."""
    return _answer(emergency.send_request(session, desk=center.emergency, actor=actor,
                                          request_id=broadcast_id, confirm=data.confirm,
                                          now=now, valid_minutes=data.valid_minutes))


@router.get("", response_model=ItemList[BroadcastStatus])
def list_emergencies(session: SessionDep, actor: ActorDep) -> ItemList[BroadcastStatus]:
    """Recent broadcasts and requests inside your subtree, newest first."""
    return ItemList.of([status_public(p)
                        for p in broadcasts.list_broadcasts(session, actor=actor)])


@router.get("/{broadcast_id}/status", response_model=BroadcastStatus)
def emergency_status(broadcast_id: int, session: SessionDep, actor: ActorDep) -> BroadcastStatus:
    """Targeted devices, and how many acknowledged the command and started playing."""
    return status_public(broadcasts.status(session, actor=actor, broadcast_id=broadcast_id))
