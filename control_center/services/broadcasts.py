"""Emergency broadcasts and their progress on the devices.

A broadcast (or a request waiting for an approver) is an ``EmergencyBroadcast`` row with one
``EmergencyTarget`` row per targeted device. The ingest fills each target in from what its
agent reported: the typed ``command_ack`` carrying the broadcast's command id (acknowledged,
refused, or expired: it reached the device after its validity window, counted apart as
missed) and the play events of its item id (started, failed); the send itself marks the
devices the broker did not accept. The audit log keeps who did what, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.errors import FieldError, NotFound
from control_center.models import (
    AdminUnit,
    BroadcastKind,
    Bulletin,
    BulletinStatus,
    Device,
    EmergencyBroadcast,
    EmergencyTarget,
)
from control_center.services import workflow
from control_center.services.commands import is_emergency_item
from protocol.events import (
    CommandAck,
    CommandOutcome,
    PlayCompleted,
    PlayFailed,
    PlayInterrupted,
    PlayStarted,
)

SEND_ACTION = "emergency_send"
REQUEST_ACTION = "emergency_request"
UNDELIVERED_ACTION = "emergency_undelivered"
UNDELIVERED = "máy chủ MQTT không nhận lệnh / the broker did not accept the command"


class ProgressState(StrEnum):
    WAITING_APPROVAL = "waiting_approval"
    SENT = "sent"


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One broadcast (kind ``send``) or request (kind ``request``)."""

    id: int
    kind: BroadcastKind
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
    valid_minutes: int | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceProgress:
    id: str
    name: str
    unit_name: str
    acked_at: datetime | None
    started_at: datetime | None
    failed: str | None
    expired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a broadcast stands; ``sent_id`` names the send of a request once approved."""

    broadcast: Broadcast
    state: ProgressState
    sent_id: int | None
    targeted: int
    acknowledged: int
    started: int
    failed: int
    devices: list[DeviceProgress]
    expired: int = 0
    """Devices the command reached too late (``command_ack`` ``expired``; also in failed)."""


def _view(row: EmergencyBroadcast) -> Broadcast:
    return Broadcast(
        id=row.id, kind=row.kind, at=row.at, actor=row.actor, actor_unit_id=row.actor_unit_id,
        bulletin_id=row.bulletin_id, title=row.title,
        unit_ids=tuple(u.unit_id for u in row.units),
        unit_names=tuple(u.unit_name for u in row.units),
        device_ids=tuple(t.device_id for t in row.targets), device_count=row.device_count,
        command_id=row.command_id or "", item_id=row.item_id or "", flagged=row.flagged,
        approval_skipped=row.approval_skipped, request_id=row.request_id,
        valid_minutes=row.valid_minutes, expires_at=row.expires_at,
    )


def _visible(broadcast: Broadcast, actor: Actor) -> bool:
    """Seen by actors covering the sender's unit or one of the units it was sent to."""
    return actor.covers(broadcast.actor_unit_id) or any(actor.covers(u)
                                                        for u in broadcast.unit_ids)


def get_broadcast(session: Session, *, actor: Actor, broadcast_id: int) -> Broadcast:
    """The broadcast (or request) with that id, if the actor may see it (else 404)."""
    row = session.get(EmergencyBroadcast, broadcast_id)
    if row is None:
        raise FieldError("id", f"lần phát khẩn cấp {broadcast_id} không tồn tại / emergency "
                               f"broadcast {broadcast_id} does not exist", status_code=404)
    broadcast = _view(row)
    if not _visible(broadcast, actor):
        raise FieldError("id", f"lần phát khẩn cấp {broadcast_id} không tồn tại / emergency "
                               f"broadcast {broadcast_id} does not exist", status_code=404)
    return broadcast


def sent_for(session: Session, *, request: Broadcast) -> Broadcast | None:
    """The send that answered a request, if any."""
    row = session.scalar(select(EmergencyBroadcast).where(
        EmergencyBroadcast.request_id == request.id).order_by(EmergencyBroadcast.id).limit(1))
    return None if row is None else _view(row)


def pending_request(session: Session, *, bulletin_id: int) -> Broadcast | None:
    """The latest request for a bulletin that no send has answered yet."""
    answered = select(EmergencyBroadcast.request_id).where(
        EmergencyBroadcast.request_id.is_not(None))
    row = session.scalar(select(EmergencyBroadcast).where(
        EmergencyBroadcast.kind == BroadcastKind.REQUEST,
        EmergencyBroadcast.bulletin_id == bulletin_id,
        EmergencyBroadcast.id.not_in(answered)).order_by(EmergencyBroadcast.id.desc()).limit(1))
    return None if row is None else _view(row)


def list_broadcasts(session: Session, *, actor: Actor, limit: int = 30) -> list[Progress]:
    """The latest broadcasts and requests the actor may see, newest first, with progress."""
    rows = session.scalars(select(EmergencyBroadcast)
                           .order_by(EmergencyBroadcast.id.desc()).limit(limit * 10))
    visible = [b for b in map(_view, rows) if _visible(b, actor)][:limit]
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
    if broadcast.kind == BroadcastKind.REQUEST:
        done = sent_for(session, request=broadcast)
        if done is None:
            return Progress(broadcast, ProgressState.WAITING_APPROVAL, None,
                            broadcast.device_count, 0, 0, 0, [])
        sent = progress(session, actor=actor, broadcast=done)
        return Progress(broadcast, ProgressState.SENT, done.id, sent.targeted,
                        sent.acknowledged, sent.started, sent.failed, sent.devices,
                        sent.expired)
    targets = list(session.scalars(select(EmergencyTarget).where(
        EmergencyTarget.broadcast_id == broadcast.id).order_by(EmergencyTarget.device_id)))
    devices = {d.id: d for d in session.scalars(
        select(Device).where(Device.id.in_([t.device_id for t in targets])))}
    shown = [t for t in targets if actor.covers(broadcast.actor_unit_id)
             or (t.device_id in devices and actor.covers(devices[t.device_id].unit_id))]
    units = {uid: name for uid, name in session.execute(select(AdminUnit.id, AdminUnit.name)
             .where(AdminUnit.id.in_({d.unit_id for d in devices.values()})))}
    rows = [DeviceProgress(
        id=t.device_id, name=devices[t.device_id].name if t.device_id in devices else t.device_id,
        unit_name=units.get(devices[t.device_id].unit_id, "") if t.device_id in devices else "",
        acked_at=t.acked_at, started_at=t.started_at,
        failed=None if t.started_at is not None else t.failed,
        expired_at=t.expired_at) for t in shown]
    return Progress(broadcast, ProgressState.SENT, broadcast.id, len(rows),
                    sum(1 for r in rows if r.acked_at is not None),
                    sum(1 for r in rows if r.started_at is not None),
                    sum(1 for r in rows if r.failed), rows,
                    sum(1 for r in rows if r.expired_at is not None and r.started_at is None))


def _target(session: Session, device_id: str, *, command_id: str | None = None,
            item_id: str | None = None) -> EmergencyTarget | None:
    query = select(EmergencyTarget).join(EmergencyBroadcast).where(
        EmergencyTarget.device_id == device_id)
    if command_id is not None:
        query = query.where(EmergencyBroadcast.command_id == command_id)
    if item_id is not None:
        query = query.where(EmergencyBroadcast.item_id == item_id)
    return session.scalar(query.limit(1))


def apply_ack(session: Session, *, ack: CommandAck) -> None:
    """A device acknowledged (or refused) a command: fill in its target, if an emergency's."""
    target = _target(session, ack.device_id, command_id=ack.command_id)
    if target is None:
        return
    if ack.outcome == CommandOutcome.ACCEPTED:
        target.acked_at = ack.at
    elif ack.outcome == CommandOutcome.EXPIRED:
        target.expired_at = ack.at
        target.failed = (f"đến quá hạn, không phát / arrived after its validity, not played: "
                         f"{ack.reason}").rstrip(": ")[:500]
    else:
        target.failed = (f"thiết bị từ chối lệnh / command {ack.outcome.value}: "
                         f"{ack.reason}").rstrip(": ")[:500]


def apply_play(session: Session, *,
               event: PlayStarted | PlayCompleted | PlayInterrupted | PlayFailed) -> None:
    """A device started (or failed) an emergency's item: fill in its target."""
    if not is_emergency_item(event.item_id):
        return  # only emergency items are tracked here
    target = _target(session, event.device_id, item_id=event.item_id)
    if target is None:
        return
    if isinstance(event, PlayFailed):
        target.failed = f"phát lỗi / play failed: {event.reason or ''}".rstrip(": ")[:500]
    elif target.started_at is None:
        target.started_at = event.started_at
