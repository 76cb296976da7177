"""What the console's federation pages show: this center's peers, the bulletins it sent to
child centers (with the states they reported) and those it received from its parent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import is_root_unit
from control_center.federation import outbox, peers
from control_center.federation.content_down import OUT
from control_center.models import (
    AdminUnit,
    Bulletin,
    BulletinKind,
    FederatedBulletin,
    FederationPeer,
    MediaAsset,
    PeerRole,
    PeerState,
)

STATE_LABELS: dict[str, str] = {
    "sent": "Đã gửi", "inbox": "Chờ quyết định", "scheduled": "Đã lập lịch",
    "declined": "Từ chối", "emergency": "Phát khẩn cấp", "failed": "Không nhận được",
}
ROLE_LABELS: dict[str, str] = {PeerRole.CHILD.value: "Cấp dưới", PeerRole.PARENT.value: "Cấp trên"}
CROSSING = (BulletinKind.TEXT, BulletinKind.AUDIO)
"""The bulletins that cross centers (a relay does not)."""


@dataclass(frozen=True, slots=True)
class PeerRow:
    peer: FederationPeer
    fingerprint: str
    pending: int
    unit_name: str


@dataclass(frozen=True, slots=True)
class BulletinRow:
    """A bulletin that crossed a link, with what the pages show about it."""

    row: FederatedBulletin
    bulletin: Bulletin | None
    peer_name: str
    audio_sha: str | None  # the delivery rendition, for a preview


def peer_rows(session: Session) -> list[PeerRow]:
    out = []
    for peer in peers.listing(session):
        unit = session.get(AdminUnit, peer.unit_id) if peer.unit_id is not None else None
        out.append(PeerRow(peer, peers.fingerprint(peer.public_key),
                           outbox.pending(session, peer_id=peer.id), unit.name if unit else ""))
    return out


def bulletin_rows(session: Session, *, direction: str, limit: int = 200) -> list[BulletinRow]:
    """Sent (``out``) or received (``in``) bulletins, newest first."""
    names = {p.id: p.name for p in peers.listing(session)}
    found = session.scalars(select(FederatedBulletin).where(
        FederatedBulletin.direction == direction).order_by(FederatedBulletin.id.desc())
        .limit(limit))
    out = []
    for row in found:
        bulletin = session.get(Bulletin, row.bulletin_id) if row.bulletin_id else None
        asset = (session.get(MediaAsset, bulletin.media_sha256)
                 if bulletin is not None and bulletin.media_sha256 else None)
        audio = asset.delivery_file()[0] if asset is not None and asset.renditions else None
        out.append(BulletinRow(row, bulletin, names.get(row.peer_id, "?"), audio))
    return out


def send_targets(session: Session, *, actor: Actor, bulletin: Bulletin) -> list[FederationPeer]:
    """The active child centers this user may send the bulletin to (none when it cannot be
    sent: not approved, a relay, or a user who does not act for the whole center)."""
    if (not bulletin.status.broadcastable or bulletin.kind not in CROSSING
            or not actor.may(Permission.SCHEDULE) or not is_root_unit(session, actor.unit_id)):
        return []
    return list(session.scalars(select(FederationPeer).where(
        FederationPeer.role == PeerRole.CHILD, FederationPeer.state == PeerState.ACTIVE)
        .order_by(FederationPeer.name)))


def already_sent(session: Session, *, bulletin_id: int) -> dict[int, str]:
    """Child peer id -> the state of this bulletin sent to it."""
    return {r.peer_id: r.state for r in session.scalars(select(FederatedBulletin).where(
        FederatedBulletin.bulletin_id == bulletin_id, FederatedBulletin.direction == OUT))}

