"""Content down, as the parent sends it: an approved bulletin of this center to chosen child
centers, one signed message each, and the states the children report back."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import Conflict, InvalidInput, NotFound
from control_center.federation import outbox
from control_center.federation.content_down import OUT
from control_center.federation.identity import Identity
from control_center.federation.messages import (
    BulletinDown,
    BulletinState,
    FederationMessage,
    Kind,
    MediaRef,
    Slot,
    State,
)
from control_center.models import (
    Bulletin,
    BulletinKind,
    FederatedBulletin,
    FederationPeer,
    PeerRole,
    PeerState,
)
from control_center.services import media_store
from protocol.base import Priority


def _media(session: Session, bulletin: Bulletin) -> MediaRef | None:
    """What the child fetches by hash for an audio bulletin: the original upload (its own
    intake makes the renditions its devices play)."""
    if bulletin.kind == BulletinKind.TEXT:
        return None
    if bulletin.kind != BulletinKind.AUDIO or not bulletin.media_sha256:
        raise InvalidInput("chỉ gửi bản tin văn bản hoặc ghi âm sang trung tâm khác / only text "
                           "and audio bulletins cross centers (a relay does not)")
    asset = media_store.require_ready(session, sha256=bulletin.media_sha256)
    return MediaRef(sha256=asset.sha256, size=asset.size)


def send_bulletin(session: Session, *, identity: Identity, bulletin_id: int,
                  peer_ids: list[int], slot: Slot | None, valid_minutes: int | None,
                  actor: Actor, now: datetime) -> list[FederatedBulletin]:
    """Queue the bulletin for each child (409 for one that already has it)."""
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None or not actor.covers(bulletin.unit_id):
        raise NotFound(f"không có bản tin {bulletin_id} / bulletin {bulletin_id} does not exist")
    if not bulletin.status.broadcastable:
        raise Conflict(f"bản tin chưa được duyệt / bulletin {bulletin_id} is "
                       f"{bulletin.status.value}: only approved bulletins are sent down")
    media = _media(session, bulletin)
    if (bulletin.priority == Priority.PRIORITY) != (slot is not None):
        raise InvalidInput("bản tin ưu tiên đi kèm khung giờ; bản tin thường thì không / a "
                           "priority bulletin needs a slot; a normal or emergency one has none")
    if not peer_ids:
        raise InvalidInput("chọn ít nhất một trung tâm / choose at least one center (peer_ids)")
    try:
        payload = BulletinDown(
            title=bulletin.title, category=bulletin.category, priority=bulletin.priority,
            kind="audio" if media else "text", text=bulletin.text, media=media, slot=slot,
            valid_minutes=valid_minutes,
            sent_by=actor.name).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise InvalidInput(f"bản tin không gửi được / cannot send: {exc}") from exc
    rows = []
    for peer_id in dict.fromkeys(peer_ids):
        peer = session.get(FederationPeer, peer_id)
        if peer is None or peer.role != PeerRole.CHILD or peer.state != PeerState.ACTIVE:
            raise NotFound(f"không có trung tâm cấp dưới {peer_id} / no active child center "
                           f"{peer_id}")
        sent = session.scalar(select(FederatedBulletin.id).where(
            FederatedBulletin.peer_id == peer.id, FederatedBulletin.direction == OUT,
            FederatedBulletin.bulletin_id == bulletin.id))
        if sent is not None:
            raise Conflict(f"đã gửi cho {peer.name} / already sent to {peer.center_id}")
        queued = outbox.enqueue(session, identity=identity, peer=peer, kind=Kind.BULLETIN,
                                payload=payload, now=now)
        row = FederatedBulletin(peer_id=peer.id, remote_ref=queued.message_id,
                                bulletin_id=bulletin.id, direction=OUT, state="sent",
                                plays_completed=0, devices_targeted=0, updated_at=now)
        session.add(row)
        rows.append(row)
    session.flush()
    audit.record(session, actor=actor, action="send_to_centers", object_type="bulletin",
                 object_id=bulletin.id, at=now,
                 detail={"peer_ids": [r.peer_id for r in rows],
                         "message_ids": [r.remote_ref for r in rows]})
    session.commit()
    return rows


def take_state(session: Session, *, peer: FederationPeer, message: FederationMessage) -> str:
    """A child's report on a bulletin this center sent it."""
    try:
        state = BulletinState.model_validate(message.payload)
    except ValidationError as exc:
        raise InvalidInput(f"trạng thái không hợp lệ / invalid state: {exc}") from exc
    row = session.scalar(select(FederatedBulletin).where(
        FederatedBulletin.peer_id == peer.id, FederatedBulletin.remote_ref == state.ref,
        FederatedBulletin.direction == OUT))
    if row is None:
        raise NotFound(f"không có tin đã gửi {state.ref} / no bulletin sent as {state.ref}")
    if message.at >= row.updated_at:  # the newest state wins (both aware)
        if state.reason or state.state.value != row.state:  # a plays report keeps the reason
            row.reason = state.reason
        row.state, row.devices_targeted = state.state.value, state.devices_targeted
        row.plays_completed, row.updated_at = state.plays_completed, message.at
    return f"{state.ref}: {state.state.value}"


def refused(session: Session, *, message_id: str, reason: str, now: datetime) -> None:
    """The child refused a bulletin message for good (e.g. its media failed the hash check):
    the row becomes ``failed`` with the child's reason (in the caller's transaction)."""
    row = session.scalar(select(FederatedBulletin).where(
        FederatedBulletin.remote_ref == message_id, FederatedBulletin.direction == OUT))
    if row is not None:
        row.state, row.reason, row.updated_at = State.FAILED.value, reason[:500], now
