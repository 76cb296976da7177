"""Emergency broadcasts as recorded in the audit log, and their progress on the devices.

A broadcast's id is the id of its ``emergency_send`` audit entry (a request waiting for an
approver: its ``emergency_request`` entry); see ``services.emergency`` for why. Progress is
read from what the agents reported: ``command_ack`` events carrying the broadcast's command id
(acknowledged, or refused/expired) and the play log row of its item id (started, failed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.errors import FieldError, NotFound
from control_center.models import (
    AdminUnit,
    AuditEntry,
    Bulletin,
    BulletinStatus,
    Device,
    DeviceEventRecord,
    PlayLog,
    PlayStatus,
)
from control_center.services import workflow

SEND_ACTION = "emergency_send"
REQUEST_ACTION = "emergency_request"
UNDELIVERED_ACTION = "emergency_undelivered"
_STARTED = (PlayStatus.STARTED, PlayStatus.COMPLETED, PlayStatus.INTERRUPTED)


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One ``emergency_send`` (kind "send") or ``emergency_request`` (kind "request") entry."""

    id: int
    kind: str
    at: datetime
    actor: str
    actor_unit_id: int | None
    bulletin_id: int
    title: str
    unit_ids: tuple[int, ...]
    unit_names: tuple[str, ...]
    device_ids: tuple[str, ...]
    device_count: int
    command_id: str
    item_id: str
    flagged: bool
    approval_skipped: bool
    request_id: int | None


@dataclass(frozen=True, slots=True)
class DeviceProgress:
    id: str
    name: str
    unit_name: str
    acked_at: datetime | None
    started_at: datetime | None
    failed: str | None


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a broadcast stands; ``sent_id`` names the send of a request once approved."""

    broadcast: Broadcast
    state: str  # "waiting_approval" | "sent"
    sent_id: int | None
    targeted: int
    acknowledged: int
    started: int
    failed: int
    devices: list[DeviceProgress]


def _parse(entry: AuditEntry) -> Broadcast:
    detail = json.loads(entry.detail or "{}")
    return Broadcast(
        id=entry.id, kind="send" if entry.action == SEND_ACTION else "request", at=entry.at,
        actor=entry.actor, actor_unit_id=entry.unit_id,
        bulletin_id=int(detail.get("bulletin_id") or entry.object_id),
        title=str(detail.get("title", "")), unit_ids=tuple(detail.get("unit_ids", ())),
        unit_names=tuple(detail.get("unit_names", ())),
        device_ids=tuple(detail.get("device_ids", ())),
        device_count=int(detail.get("device_count", 0)),
        command_id=str(detail.get("command_id", "")), item_id=str(detail.get("item_id", "")),
        flagged=entry.flagged, approval_skipped=bool(detail.get("approval_skipped", False)),
        request_id=detail.get("request_id"),
    )


def _visible(broadcast: Broadcast, actor: Actor) -> bool:
    """Seen by actors covering the sender's unit or one of the units it was sent to."""
    return actor.covers(broadcast.actor_unit_id) or any(actor.covers(u)
                                                        for u in broadcast.unit_ids)


def get_broadcast(session: Session, *, actor: Actor, broadcast_id: int) -> Broadcast:
    """The broadcast (or request) with that id, if the actor may see it (else 404)."""
    entry = session.get(AuditEntry, broadcast_id)
    if entry is None or entry.action not in (SEND_ACTION, REQUEST_ACTION):
        raise FieldError("id", f"lần phát khẩn cấp {broadcast_id} không tồn tại / emergency "
                               f"broadcast {broadcast_id} does not exist", status_code=404)
    broadcast = _parse(entry)
    if not _visible(broadcast, actor):
        raise FieldError("id", f"lần phát khẩn cấp {broadcast_id} không tồn tại / emergency "
                               f"broadcast {broadcast_id} does not exist", status_code=404)
    return broadcast


def sent_for(session: Session, *, request: Broadcast) -> Broadcast | None:
    """The send that answered a request, if any."""
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == SEND_ACTION, AuditEntry.object_type == "bulletin",
        AuditEntry.object_id == str(request.bulletin_id)).order_by(AuditEntry.id))
    return next((b for b in map(_parse, entries) if b.request_id == request.id), None)


def pending_request(session: Session, *, bulletin_id: int) -> Broadcast | None:
    """The latest request for a bulletin that no send has answered yet."""
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == REQUEST_ACTION, AuditEntry.object_type == "bulletin",
        AuditEntry.object_id == str(bulletin_id)).order_by(AuditEntry.id.desc()))
    return next((b for b in map(_parse, entries) if sent_for(session, request=b) is None), None)


def list_broadcasts(session: Session, *, actor: Actor, limit: int = 30) -> list[Progress]:
    """The latest broadcasts and requests the actor may see, newest first, with progress."""
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_((SEND_ACTION, REQUEST_ACTION)))
        .order_by(AuditEntry.id.desc()).limit(limit * 10))
    visible = [b for b in map(_parse, entries) if _visible(b, actor)][:limit]
    return [progress(session, actor=actor, broadcast=b) for b in visible]


def visible_bulletin(session: Session, *, actor: Actor, bulletin_id: int) -> Bulletin:
    """A bulletin of the actor's subtree, or one distributed into it (else 404 on the field)."""
    try:
        return workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    except NotFound as exc:
        raise FieldError("bulletin_id", f"bản tin {bulletin_id} không tồn tại / bulletin "
                                        f"{bulletin_id} does not exist",
                         status_code=404) from exc


def sendable_bulletins(session: Session, *, actor: Actor, limit: int = 200) -> list[Bulletin]:
    """Approved bulletins the actor may broadcast, newest first."""
    query = select(Bulletin).where(Bulletin.status.in_(
        (BulletinStatus.APPROVED, BulletinStatus.SCHEDULED)))
    condition = workflow.visible_filter(actor)
    if condition is not None:
        query = query.where(condition)
    return list(session.scalars(query.order_by(Bulletin.id.desc()).limit(limit)))


def status(session: Session, *, actor: Actor, broadcast_id: int) -> Progress:
    """Progress of a broadcast; for a request already sent, the progress of its send."""
    broadcast = get_broadcast(session, actor=actor, broadcast_id=broadcast_id)
    return progress(session, actor=actor, broadcast=broadcast)


def progress(session: Session, *, actor: Actor, broadcast: Broadcast) -> Progress:
    if broadcast.kind == "request":
        done = sent_for(session, request=broadcast)
        if done is None:
            return Progress(broadcast, "waiting_approval", None, broadcast.device_count,
                            0, 0, 0, [])
        sent = progress(session, actor=actor, broadcast=done)
        return Progress(broadcast, "sent", done.id, sent.targeted, sent.acknowledged,
                        sent.started, sent.failed, sent.devices)
    devices = {d.id: d for d in session.scalars(
        select(Device).where(Device.id.in_(broadcast.device_ids)))}
    ids = [d for d in broadcast.device_ids
           if actor.covers(broadcast.actor_unit_id)
           or (d in devices and actor.covers(devices[d].unit_id))]
    units = {uid: name for uid, name in session.execute(select(AdminUnit.id, AdminUnit.name)
             .where(AdminUnit.id.in_({d.unit_id for d in devices.values()})))}
    acked: dict[str, datetime] = {}
    failed: dict[str, str] = {}
    for device_id, at, payload in session.execute(
            select(DeviceEventRecord.device_id, DeviceEventRecord.at, DeviceEventRecord.payload)
            .where(DeviceEventRecord.type == "command_ack",
                   DeviceEventRecord.device_id.in_(ids),
                   func.json_extract(DeviceEventRecord.payload, "$.command_id")
                   == broadcast.command_id)):
        body = json.loads(payload)
        if body.get("outcome") == "accepted":
            acked[device_id] = at
        else:
            failed[device_id] = (f"thiết bị từ chối lệnh / command {body.get('outcome')}: "
                                 f"{body.get('reason', '')}").rstrip(": ")
    started: dict[str, datetime] = {}
    for play in session.scalars(select(PlayLog).where(
            PlayLog.item_id == broadcast.item_id, PlayLog.device_id.in_(ids))):
        if play.status in _STARTED and play.started_at is not None:
            started[play.device_id] = play.started_at
        elif play.status == PlayStatus.FAILED:
            failed[play.device_id] = f"phát lỗi / play failed: {play.reason or ''}".rstrip(": ")
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.action == UNDELIVERED_ACTION, AuditEntry.object_type == "broadcast",
            AuditEntry.object_id == str(broadcast.id))):
        for device_id in json.loads(entry.detail or "{}").get("device_ids", ()):
            failed.setdefault(device_id, "máy chủ MQTT không nhận lệnh / the broker did not "
                                         "accept the command")
    rows = [DeviceProgress(
        id=d, name=devices[d].name if d in devices else d,
        unit_name=units.get(devices[d].unit_id, "") if d in devices else "",
        acked_at=acked.get(d), started_at=started.get(d),
        failed=None if d in started else failed.get(d)) for d in ids]
    return Progress(broadcast, "sent", broadcast.id, len(rows), len(acked), len(started),
                    sum(1 for r in rows if r.failed), rows)
