"""Registering the other centers: an administrator of the whole tree enters a peer's id, URL
and identity public key (read from its ``GET /api/v1/federation/identity``, compared by
fingerprint over the phone or on paper); the peer registers this center the same way."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import Conflict, InvalidInput, NotFound
from control_center.models import AdminUnit, FederationPeer, PeerRole, PeerState
from protocol.errors import SignatureInvalid
from protocol.signing import key_id, public_key_from_b64


def fingerprint(public_key: str) -> str:
    """What two administrators compare: the key id, grouped by four (``a1b2 c3d4 …``)."""
    kid = key_id(public_key_from_b64(public_key))
    return " ".join(kid[i:i + 4] for i in range(0, len(kid), 4))


def register(session: Session, *, center_id: str, name: str, url: str, public_key: str,
             role: PeerRole, unit_id: int | None, own_id: str, actor: Actor,
             now: datetime) -> FederationPeer:
    """Add a peer (409 when its id or key is already registered)."""
    if center_id == own_id:
        raise InvalidInput(f"'{center_id}' là chính trung tâm này / '{center_id}' is this "
                           "center's own id")
    try:
        fingerprint(public_key)
    except SignatureInvalid as exc:
        raise InvalidInput(f"khóa công khai không hợp lệ / public_key: {exc}") from exc
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("url phải là https://… của trung tâm kia / url must be the other "
                           "center's base URL (https://…)")
    if role == PeerRole.CHILD:
        if unit_id is None or session.get(AdminUnit, unit_id) is None:
            raise InvalidInput("trung tâm cấp dưới cần unit_id: đơn vị (tỉnh) nó đại diện / a "
                               "child center needs unit_id: the unit (its province) it stands "
                               "for in this center's tree")
    elif unit_id is not None:
        raise InvalidInput("trung tâm cấp trên không gắn với đơn vị / a parent center has no "
                           "unit_id")
    elif session.scalar(select(FederationPeer.id).where(
            FederationPeer.role == PeerRole.PARENT, FederationPeer.state == PeerState.ACTIVE)):
        raise Conflict("đã có trung tâm cấp trên / a parent center is already registered: "
                       "revoke it first")
    if session.scalar(select(FederationPeer.id).where(FederationPeer.public_key == public_key)):
        raise Conflict("khóa này đã được đăng ký / this public key is already registered")
    peer = FederationPeer(center_id=center_id, name=name, url=url.rstrip("/"),
                          public_key=public_key, role=role, unit_id=unit_id,
                          state=PeerState.ACTIVE, created_by=actor.name, created_at=now)
    session.add(peer)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"trung tâm '{center_id}' đã được đăng ký / center '{center_id}' is "
                       "already registered") from exc
    audit.record(session, actor=actor, action="register", object_type="federation_peer",
                 object_id=peer.id, detail={"center_id": center_id, "role": role.value,
                                            "fingerprint": fingerprint(public_key)}, at=now)
    return peer


def get(session: Session, peer_id: int) -> FederationPeer:
    peer = session.get(FederationPeer, peer_id)
    if peer is None:
        raise NotFound(f"không có trung tâm {peer_id} / peer {peer_id} does not exist")
    return peer


def by_center_id(session: Session, center_id: str) -> FederationPeer | None:
    return session.scalar(select(FederationPeer).where(FederationPeer.center_id == center_id))


def revoke(session: Session, *, peer_id: int, actor: Actor, now: datetime) -> FederationPeer:
    peer = get(session, peer_id)
    peer.state = PeerState.REVOKED
    audit.record(session, actor=actor, action="revoke", object_type="federation_peer",
                 object_id=peer.id, detail={"center_id": peer.center_id}, at=now)
    return peer


def listing(session: Session) -> list[FederationPeer]:
    return list(session.scalars(select(FederationPeer).order_by(FederationPeer.id)))
