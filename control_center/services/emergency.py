"""Emergency broadcasts: content played at once on every device of chosen unit subtrees.

Each device gets a signed one-shot ``play_now`` command at emergency priority (it interrupts
whatever else is playing), valid for the minutes the sender chose (``valid_minutes``, default
30): an agent reached later, by its corrected clock, answers ``command_ack`` ``expired`` (a
reason starting "missed:") instead of playing it. A broadcast is an ``EmergencyBroadcast`` row
with the units it was addressed to and one target row per device, under the id of the audit
entry that records who sent it (so links to either agree); the ingest fills the targets
in from the agents' ``command_ack`` and play events (``services.broadcasts``). A request
waiting for an approver is a row of kind ``request``; sending it makes a ``send`` row naming
the request. The audit log records who sent or requested what, as for every action.

Approval: an approved bulletin may be sent by anyone holding Permission.EMERGENCY. New
content (a recording or typed text, spoken by the center's TTS so every device plays the same
audio) becomes an emergency bulletin of the actor's unit; it is approved at once, with
``approval_skipped`` and a flagged audit entry, only when the actor's role is one of
TT_EMERGENCY_ROLES (``Actor.emergency_direct``); otherwise it waits for an approver.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.broker.routing import Publisher
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.errors import (
    BrokerUnavailable,
    CenterError,
    Conflict,
    FieldError,
    InvalidInput,
)
from control_center.models import (
    BroadcastKind,
    Bulletin,
    BulletinKind,
    BulletinStatus,
    Distribution,
    DistributionState,
    EmergencyBroadcast,
    EmergencyTarget,
    EmergencyUnit,
)
from control_center.schemas.content import BulletinCreate
from control_center.services import bulletins, media_store
from control_center.services.broadcasts import (
    REQUEST_ACTION,
    SEND_ACTION,
    UNDELIVERED,
    UNDELIVERED_ACTION,
    get_broadcast,
    pending_request,
    sent_for,
    visible_bulletin,
)
from control_center.services.commands import command_messages, play_now
from control_center.services.emergency_checks import (
    TITLE_MAX,
    Message,
    Plan,
    check_confirmation,
    check_sendable,
    plan,
    source_of,
)
from control_center.services.emergency_media import TEXT_MAX, speech_media
from control_center.services.manifests import media_url
from control_center.services.media_intake import MediaIntake
from protocol.base import Priority
from protocol.manifest import AudioContent, PlayNow
from protocol.signing import Signer

log = logging.getLogger(__name__)

DEFAULT_VALID_MINUTES = 30
MAX_VALID_MINUTES = 24 * 60
"""An emergency command stays valid 1 to 1440 minutes after it is sent (the sender's choice)."""


def check_valid_minutes(valid_minutes: int) -> int:
    """The validity window, or a 422 on ``valid_minutes`` saying the range."""
    if not 1 <= valid_minutes <= MAX_VALID_MINUTES:
        raise FieldError("valid_minutes", f"Thời hạn hiệu lực từ 1 đến {MAX_VALID_MINUTES} phút "
                                          f"/ valid_minutes must be 1 to {MAX_VALID_MINUTES}: "
                                          "how many minutes a device may still start it")
    return valid_minutes


@dataclass(frozen=True, slots=True)
class EmergencyDesk:
    """What sending an emergency uses, built once by the runtime: the signer, the broker link,
    the media intake (for typed text and recordings) and three settings."""

    signer: Signer
    bridge: Publisher
    intake: MediaIntake
    public_base_url: str
    timezone: str
    publish_timeout_s: float


class OutcomeState(StrEnum):
    SENT = "sent"
    WAITING_APPROVAL = "waiting_approval"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a submission: sent at once, or waiting for an approver; a send also
    names the command every device got (``command_id``, ``action``, ``expires_at``)."""

    id: int
    state: OutcomeState
    bulletin_id: int
    targeted: int
    published: int
    message: str
    command_id: str | None = None
    action: PlayNow | None = None
    expires_at: datetime | None = None


def require_link(desk: EmergencyDesk) -> None:
    """Refuse before anything is saved when the broker cannot take the commands."""
    if not desk.bridge.connected:
        raise BrokerUnavailable("không kết nối được máy chủ MQTT, chưa gửi gì / the MQTT broker "
                                "is not reachable: nothing was sent; try again in a moment")


def default_title(desk: EmergencyDesk, now: datetime) -> str:
    local = now.astimezone(ZoneInfo(desk.timezone))
    return f"Phát khẩn cấp / emergency {local:%d/%m/%Y %H:%M}"


def submit(
    session: Session, *, desk: EmergencyDesk, actor: Actor, unit_ids: list[int],
    message: Message, confirm: str | None, now: datetime,
    valid_minutes: int = DEFAULT_VALID_MINUTES,
) -> Outcome:
    """Validate everything, then send at once or leave the new bulletin for an approver
    (the request keeps ``valid_minutes`` for the send).

    Nothing is saved when any check fails (the confirmation, the units, the content, the
    broker); speech for a text is synthesised before the bulletin is made.
    """
    actor.require(Permission.EMERGENCY)
    check_confirmation(confirm)
    check_valid_minutes(valid_minutes)
    target = plan(session, actor=actor, unit_ids=unit_ids)
    source = source_of(message)
    title = " ".join(message.title.split())
    if len(title) > TITLE_MAX:
        raise FieldError("title", f"Tiêu đề tối đa {TITLE_MAX} ký tự / the title is longer "
                                  f"than {TITLE_MAX} characters")
    if source == "bulletin":
        assert message.bulletin_id is not None
        bulletin = visible_bulletin(session, actor=actor, bulletin_id=message.bulletin_id)
        approve = check_sendable(bulletin, actor)
        require_link(desk)
        request = None
        if approve:  # an approver sending a submitted emergency answers its request
            request = pending_request(session, bulletin_id=bulletin.id)
            _approve(session, bulletin=bulletin, actor=actor, now=now, skipped=False)
        return send(session, desk=desk, actor=actor, bulletin=bulletin, target=target,
                    now=now, approval_skipped=False, valid_minutes=valid_minutes,
                    request_id=request.id if request is not None else None)
    if source == "text":
        asset = speech_media(session, intake=desk.intake, text=message.text or "", actor=actor,
                             now=now)
    else:
        try:
            asset = media_store.require_ready(session, sha256=message.media_sha256 or "")
        except CenterError as exc:
            raise FieldError("media", str(exc), status_code=exc.status_code) from exc
    if actor.emergency_direct:
        require_link(desk)
    text = (message.text or "").strip() or None
    bulletin = bulletins.create_bulletin(session, data=BulletinCreate(
        title=title or default_title(desk, now), priority=Priority.EMERGENCY,
        kind=BulletinKind.AUDIO, media_sha256=asset.sha256, text=text[:TEXT_MAX] if text else None,
    ), actor=actor, now=now)
    bulletin.unit_id, bulletin.created_by = actor.unit_id, actor.name
    bulletin.submitted_by = actor.name
    if actor.emergency_direct:
        _approve(session, bulletin=bulletin, actor=actor, now=now, skipped=True)
        return send(session, desk=desk, actor=actor, bulletin=bulletin, target=target,
                    now=now, approval_skipped=True, valid_minutes=valid_minutes)
    bulletin.status = BulletinStatus.SUBMITTED
    entry = audit.add_entry(
        session, actor=actor, action=REQUEST_ACTION, object_type="bulletin",
        object_id=bulletin.id, at=now,
        detail={"bulletin_id": bulletin.id, "title": bulletin.title,
                "unit_ids": list(target.unit_ids), "unit_names": list(target.unit_names),
                "device_count": len(target.devices), "valid_minutes": valid_minutes})
    row = _broadcast(session, entry_id=entry.id, actor=actor, bulletin=bulletin,
                     target=target, now=now, valid_minutes=valid_minutes)
    session.commit()
    log.info("emergency request %s by %s waits for an approver (%d devices)", row.id,
             actor.name, len(target.devices))
    return Outcome(row.id, OutcomeState.WAITING_APPROVAL, bulletin.id, len(target.devices), 0,
                   "Đã gửi, đang chờ người duyệt phát / submitted: an approver must send it "
                   "(your role may not send new emergency content without approval)")


def _broadcast(
    session: Session, *, entry_id: int, actor: Actor, bulletin: Bulletin, target: Plan,
    now: datetime, action: PlayNow | None = None, command_id: str | None = None,
    expires_at: datetime | None = None, approval_skipped: bool = False,
    request_id: int | None = None, valid_minutes: int = DEFAULT_VALID_MINUTES,
) -> EmergencyBroadcast:
    """The broadcast's row under its audit entry's id, with its units; a send (``action``,
    what every device gets) also has one target row per device."""
    row = EmergencyBroadcast(
        id=entry_id, kind=BroadcastKind.REQUEST if action is None else BroadcastKind.SEND,
        bulletin_id=bulletin.id, title=bulletin.title[:TITLE_MAX], actor=actor.name[:100],
        actor_unit_id=actor.unit_id, at=now, device_count=len(target.devices),
        command_id=command_id, item_id=action.item.item_id if action else None,
        expires_at=expires_at, flagged=approval_skipped, approval_skipped=approval_skipped,
        request_id=request_id, valid_minutes=valid_minutes)
    row.units = [EmergencyUnit(position=i, unit_id=u, unit_name=n[:200]) for i, (u, n)
                 in enumerate(zip(target.unit_ids, target.unit_names, strict=True))]
    if action is not None:
        row.targets = [EmergencyTarget(device_id=d) for d in sorted(target.devices)]
    session.add(row)
    session.flush()
    return row


def send_request(
    session: Session, *, desk: EmergencyDesk, actor: Actor, request_id: int,
    confirm: str | None, now: datetime, valid_minutes: int | None = None,
) -> Outcome:
    """An approver sends a waiting request (approving its bulletin) to the requested units,
    valid ``valid_minutes`` (default: what the request asked for)."""
    actor.require(Permission.EMERGENCY)
    actor.require(Permission.APPROVE)
    check_confirmation(confirm)
    if valid_minutes is not None:
        check_valid_minutes(valid_minutes)
    request = get_broadcast(session, actor=actor, broadcast_id=request_id)
    if request.kind != BroadcastKind.REQUEST:
        raise Conflict(f"broadcast {request_id} has already been sent")
    if (done := sent_for(session, request=request)) is not None:
        raise Conflict(f"yêu cầu {request_id} đã được phát (lần phát {done.id}) / request "
                       f"{request_id} was already sent as broadcast {done.id}")
    # approvers act for the requester's unit and every unit the request names
    actor.require_unit(request.actor_unit_id, what=f"emergency request {request_id}")
    for unit_id in request.unit_ids:
        actor.require_unit(unit_id, what=f"unit {unit_id}")
    bulletin = visible_bulletin(session, actor=actor, bulletin_id=request.bulletin_id)
    approve = check_sendable(bulletin, actor)
    target = plan(session, actor=actor, unit_ids=list(request.unit_ids))
    require_link(desk)
    if approve:
        _approve(session, bulletin=bulletin, actor=actor, now=now, skipped=False)
    return send(session, desk=desk, actor=actor, bulletin=bulletin, target=target, now=now,
                approval_skipped=False, request_id=request_id,
                valid_minutes=valid_minutes or request.valid_minutes or DEFAULT_VALID_MINUTES)


def _approve(
    session: Session, *, bulletin: Bulletin, actor: Actor, now: datetime, skipped: bool
) -> None:
    bulletin.status, bulletin.approved_by, bulletin.approved_at = (
        BulletinStatus.APPROVED, actor.name, now)
    bulletin.approval_skipped = skipped
    bulletin.updated_at = now
    audit.record(session, actor=actor, action="approve", object_type="bulletin",
                 object_id=bulletin.id, at=now, flagged=skipped,
                 detail={"via": "emergency", "approval_skipped": skipped})


def _content(session: Session, *, desk: EmergencyDesk, bulletin: Bulletin, actor: Actor,
             now: datetime) -> AudioContent:
    """What devices play: the bulletin's audio, or its text spoken by the center."""
    if bulletin.kind == BulletinKind.RELAY:
        raise InvalidInput(f"bulletin {bulletin.id} relays a station in scheduled windows and "
                           "cannot be sent as an emergency: send a recording or a text, or "
                           "schedule the relay at emergency priority")
    if bulletin.kind == BulletinKind.TEXT:
        asset = speech_media(session, intake=desk.intake, text=bulletin.text or "", actor=actor,
                             now=now)
    else:
        asset = media_store.require_ready(session, sha256=bulletin.media_sha256 or "")
    sha256, size, mime, duration_ms = asset.delivery_file()
    return AudioContent(sha256=sha256, url=media_url(desk.public_base_url, sha256),
                        size=size, duration_ms=duration_ms, mime=mime)


def send(
    session: Session, *, desk: EmergencyDesk, actor: Actor, bulletin: Bulletin, target: Plan,
    now: datetime, approval_skipped: bool, request_id: int | None = None,
    valid_minutes: int = DEFAULT_VALID_MINUTES,
) -> Outcome:
    """Record the broadcast (audit entry, a ``sent`` Distribution per receiving unit), commit,
    then publish one signed play_now command per device in one batch, valid
    ``valid_minutes`` from now (its ``expires_at``)."""
    content = _content(session, desk=desk, bulletin=bulletin, actor=actor, now=now)
    action = play_now(bulletin=bulletin, content=content, now=now, emergency=True)
    command_id = uuid.uuid4().hex
    expires_at = now + timedelta(minutes=check_valid_minutes(valid_minutes))
    receiving = sorted(set(target.devices.values()))
    entry = audit.add_entry(
        session, actor=actor, action=SEND_ACTION, object_type="bulletin",
        object_id=bulletin.id, at=now, flagged=approval_skipped,
        detail={"bulletin_id": bulletin.id, "title": bulletin.title,
                "unit_ids": list(target.unit_ids), "unit_names": list(target.unit_names),
                "device_ids": sorted(target.devices), "device_count": len(target.devices),
                "receiving_unit_ids": receiving, "command_id": command_id,
                "item_id": action.item.item_id, "expires_at": expires_at.isoformat(),
                "valid_minutes": valid_minutes,
                "approval_skipped": approval_skipped, "request_id": request_id})
    row = _broadcast(session, entry_id=entry.id, actor=actor, bulletin=bulletin,
                     target=target, now=now, action=action, command_id=command_id,
                     expires_at=expires_at, approval_skipped=approval_skipped,
                     request_id=request_id, valid_minutes=valid_minutes)
    _distribute(session, actor=actor, bulletin=bulletin, target=target, units=receiving,
                now=now, note=f"khẩn cấp / emergency broadcast {row.id}")
    session.commit()
    devices = sorted(target.devices)
    messages = command_messages(desk.signer, command_id=command_id, device_ids=devices,
                                action=action, now=now, expires_at=expires_at)
    bridge = desk.bridge
    acked = bridge.wait_many(bridge.send_many(messages, qos=1, retain=False),
                             timeout=desk.publish_timeout_s)
    missing = {d for d, ok in zip(devices, acked, strict=True) if not ok}
    if missing:
        for undelivered in row.targets:
            if undelivered.device_id in missing:
                undelivered.failed = UNDELIVERED
        audit.record(session, actor=actor, action=UNDELIVERED_ACTION, object_type="broadcast",
                     object_id=row.id, at=now, flagged=True,
                     detail={"device_ids": sorted(missing),
                             "reason": bridge.last_error or "no PUBACK"})
        session.commit()
        log.warning("emergency %s: the broker did not acknowledge %d of %d commands", row.id,
                    len(missing), len(messages))
    log.info("emergency %s (bulletin %s) sent by %s to %d devices", row.id, bulletin.id,
             actor.name, len(messages))
    published = len(messages) - len(missing)
    return Outcome(row.id, OutcomeState.SENT, bulletin.id, len(messages), published,
                   f"Đã phát lệnh khẩn cấp tới {published}/{len(messages)} thiết bị / emergency "
                   f"sent to {published} of {len(messages)} devices",
                   command_id=command_id, action=action, expires_at=expires_at)


def _distribute(
    session: Session, *, actor: Actor, bulletin: Bulletin, target: Plan, units: list[int],
    now: datetime, note: str,
) -> None:
    """One ``sent`` Distribution per unit owning a targeted device (updated on a resend)."""
    existing = {d.unit_id: d for d in session.scalars(select(Distribution).where(
        Distribution.bulletin_id == bulletin.id, Distribution.unit_id.in_(units)))}
    root = target.unit_ids[0]
    for unit_id in units:
        row = existing.get(unit_id)
        if row is None:
            row = Distribution(bulletin_id=bulletin.id, unit_id=unit_id,
                               from_unit_id=actor.unit_id or root)
            session.add(row)
        row.state = DistributionState.SENT
        row.published_by, row.published_at = actor.name, now
        row.decided_by, row.decided_at = actor.name, now
        row.note = note[:500]
