"""Content from the parent center, as the child takes it (Circular 39's priorities):

- normal: a bulletin of the child's top unit, approved by the parent, waiting in the child's
  federation inbox until an operator accepts it into a slot or declines it;
- priority: the same bulletin, scheduled at once in the slot it came with, on every device of
  the child's tree;
- emergency: sent at once through the child's emergency path (its text spoken by the child's
  TTS, or its audio), to every device of its tree.

An audio bulletin is taken only once its media, fetched by hash from the parent
(``media_down``), is processed here; until then the message waits (``retry``).

Every step the child takes is reported back (``bulletin_state``) through its outbox.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.voices import voice_wanted
from control_center.errors import Conflict, Forbidden, InvalidInput, NotFound
from control_center.federation import outbox
from control_center.federation.identity import Identity
from control_center.federation.media_down import MediaFetcher
from control_center.federation.messages import (
    BulletinDown,
    BulletinState,
    FederationMessage,
    Kind,
    Slot,
    State,
)
from control_center.models import (
    AdminUnit,
    Bulletin,
    BulletinKind,
    BulletinStatus,
    FederatedBulletin,
    FederationPeer,
    PeerRole,
    PlayLog,
    PlayStatus,
)
from control_center.schemas.content import BulletinCreate, ScheduleCreate, Targets
from control_center.services import bulletins, emergency, schedules
from control_center.services.emergency import EmergencyDesk
from control_center.services.emergency_checks import CONFIRM_WORD, Message
from protocol.base import Priority

IN = "in"
OUT = "out"


def parent_actor(peer: FederationPeer, unit_id: int) -> Actor:
    """Who the child's audit log names for what the parent sent."""
    return Actor(name=f"trung ương / central: {peer.center_id}"[:100], unit_id=unit_id)


def top_unit(session: Session) -> AdminUnit:
    unit = session.scalar(select(AdminUnit).where(AdminUnit.parent_id.is_(None))
                          .order_by(AdminUnit.id).limit(1))
    if unit is None:
        raise Conflict("trung tâm chưa có đơn vị nào / this center has no unit yet")
    return unit


def _parse(message: FederationMessage) -> BulletinDown:
    try:
        return BulletinDown.model_validate(message.payload)
    except ValidationError as exc:
        raise InvalidInput(f"bản tin không hợp lệ / invalid bulletin: {exc}") from exc


def _media(session: Session, *, down: BulletinDown, peer: FederationPeer,
           media: MediaFetcher) -> str | None:
    """The local hash of an audio bulletin's processed media (None for a text bulletin)."""
    if down.kind == "text":
        if not (down.text or "").strip():
            raise InvalidInput("bản tin văn bản không có nội dung / a text bulletin needs text")
        return None
    if down.media is None:
        raise InvalidInput("bản tin âm thanh cần tệp / an audio bulletin needs media "
                           "{sha256, size}")
    return media.ready(session, peer=peer, media=down.media).sha256


def take(session: Session, *, peer: FederationPeer, message: FederationMessage,
         identity: Identity, desk: EmergencyDesk, media: MediaFetcher, default_tz: str,
         now: datetime) -> str:
    """Apply a BULLETIN message from the parent; returns what was done."""
    if peer.role != PeerRole.PARENT:
        raise Forbidden(f"chỉ trung tâm cấp trên gửi tin xuống / only the parent center sends "
                        f"content down; '{peer.center_id}' is a child here")
    down = _parse(message)
    sha = _media(session, down=down, peer=peer, media=media)
    root = top_unit(session)
    actor = parent_actor(peer, root.id)
    row = FederatedBulletin(peer_id=peer.id, remote_ref=message.id, direction=IN,
                            state=State.INBOX.value, plays_completed=0, devices_targeted=0,
                            updated_at=now)
    if down.priority == Priority.EMERGENCY:
        emergency.require_link(desk)  # broker down: retry later, before anything is stored
        sent = emergency.submit(
            session, desk=desk, actor=actor, unit_ids=[root.id], confirm=CONFIRM_WORD,
            message=Message(text=None if sha else down.text, media_sha256=sha,
                            title=down.title), now=now,
            valid_minutes=down.valid_minutes or emergency.DEFAULT_VALID_MINUTES)
        row.bulletin_id, row.state, row.devices_targeted = \
            sent.bulletin_id, State.EMERGENCY.value, sent.targeted
    else:
        bulletin = bulletins.create_bulletin(session, data=BulletinCreate(
            title=down.title, category=down.category, priority=down.priority,
            kind=BulletinKind.AUDIO if sha else BulletinKind.TEXT, media_sha256=sha,
            text=down.text), actor=actor, now=now,
            status=BulletinStatus.APPROVED)
        bulletin.approved_by, bulletin.approved_at = actor.name, now
        if sha is None:
            voice_wanted(session, bulletin.id)
        row.bulletin_id = bulletin.id
        if down.priority == Priority.PRIORITY:
            if down.slot is None:
                raise InvalidInput("bản tin ưu tiên cần khung giờ / a priority bulletin needs "
                                   "its slot")
            _, devices = _schedule(session, bulletin=bulletin, slot=down.slot, unit_id=root.id,
                                   actor=actor, default_tz=default_tz, now=now)
            row.state, row.devices_targeted = State.SCHEDULED.value, len(devices)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="receive", object_type="bulletin",
                 object_id=row.bulletin_id, at=now,
                 detail={"from_center": peer.center_id, "message_id": message.id,
                         "priority": down.priority.value, "state": row.state})
    report(session, identity=identity, peer=peer, row=row, now=now)
    return f"bulletin {row.bulletin_id}: {row.state}"


def _schedule(session: Session, *, bulletin: Bulletin, slot: Slot, unit_id: int, actor: Actor,
              default_tz: str, now: datetime) -> tuple[object, set[str]]:
    try:
        data = ScheduleCreate(bulletin_id=bulletin.id, start_at=slot.start_at, rrule=slot.rrule,
                              valid_from=slot.valid_from, valid_until=slot.valid_until,
                              targets=Targets(unit_ids=[unit_id]))
    except ValidationError as exc:
        raise InvalidInput(f"khung giờ không hợp lệ / invalid slot: {exc}") from exc
    return schedules.create_schedule(session, data=data, default_tz=default_tz, actor=actor,
                                     now=now)


def report(session: Session, *, identity: Identity, peer: FederationPeer,
           row: FederatedBulletin, now: datetime, reason: str = "") -> None:
    """Queue the row's state for the parent (in the caller's transaction)."""
    state = BulletinState(ref=row.remote_ref, state=State(row.state),
                          devices_targeted=row.devices_targeted,
                          plays_completed=row.plays_completed, reason=reason)
    outbox.enqueue(session, identity=identity, peer=peer, kind=Kind.BULLETIN_STATE,
                   payload=state.model_dump(mode="json"), now=now)


def decide(session: Session, *, identity: Identity, row_id: int, accept: bool,
           slot: Slot | None, note: str, actor: Actor, default_tz: str,
           now: datetime) -> FederatedBulletin:
    """An operator of the child accepts a normal bulletin into a slot, or declines it."""
    row = session.get(FederatedBulletin, row_id)
    if row is None or row.direction != IN:
        raise NotFound(f"không có tin {row_id} từ cấp trên / no received bulletin {row_id}")
    if row.state != State.INBOX.value:
        raise Conflict(f"tin {row_id} đã {row.state} / received bulletin {row_id} is "
                       f"{row.state}, not waiting")
    peer = session.get(FederationPeer, row.peer_id)
    bulletin = session.get(Bulletin, row.bulletin_id) if row.bulletin_id else None
    assert peer is not None
    if bulletin is None:
        raise Conflict("bản tin đã bị xóa / its bulletin was deleted")
    if accept:
        if slot is None:
            raise InvalidInput("chọn khung giờ phát / give the slot (start_at, or rrule with "
                               "valid_from)")
        _, devices = _schedule(session, bulletin=bulletin, slot=slot, unit_id=top_unit(
            session).id, actor=actor, default_tz=default_tz, now=now)
        row.state, row.devices_targeted = State.SCHEDULED.value, len(devices)
    else:
        if not note.strip():
            raise InvalidInput("nhập lý do từ chối / give a reason (note) for declining")
        row.state, row.reason = State.DECLINED.value, note.strip()[:500]
    row.updated_at = now
    audit.record(session, actor=actor, action="accept" if accept else "decline",
                 object_type="bulletin", object_id=bulletin.id, at=now,
                 detail={"from_center": peer.center_id, "note": note.strip()})
    report(session, identity=identity, peer=peer, row=row, now=now, reason=note.strip())
    session.commit()
    return row


def refresh_plays(session: Session, *, identity: Identity, now: datetime) -> int:
    """Report the completed plays of received bulletins whose count changed; returns how many
    reports were queued."""
    queued = 0
    rows = list(session.scalars(select(FederatedBulletin).where(
        FederatedBulletin.direction == IN, FederatedBulletin.bulletin_id.is_not(None),
        FederatedBulletin.state.in_((State.SCHEDULED.value, State.EMERGENCY.value)))))
    completed = {bulletin_id: n for bulletin_id, n in session.execute(  # one query for all
        select(PlayLog.bulletin_id, func.count()).where(
            PlayLog.bulletin_id.in_([r.bulletin_id for r in rows]),
            PlayLog.status == PlayStatus.COMPLETED).group_by(PlayLog.bulletin_id))}
    for row in rows:
        done = completed.get(row.bulletin_id, 0)
        if done != row.plays_completed:
            row.plays_completed, row.updated_at = done, now
            peer = session.get(FederationPeer, row.peer_id)
            if peer is not None:
                report(session, identity=identity, peer=peer, row=row, now=now)
                queued += 1
    session.commit()
    return queued
