"""Links between centers (docs/federation.md): this center's identity, its peers, the signed
messages they send it, and bulletins sent to child centers or received from the parent."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.federation import content_down, inbox, outbox, peers, sending
from control_center.federation.schemas import (
    Decision,
    FederatedBulletinPublic,
    IdentityPublic,
    MessagesIn,
    PeerCreate,
    PeerPublic,
    ReceiptPublic,
    Receipts,
    SendRequest,
)
from control_center.models import FederatedBulletin, FederationPeer
from control_center.schemas.common import ItemList

router = APIRouter(prefix="/federation", tags=["federation"])


def _peer(session: SessionDep, peer: FederationPeer) -> PeerPublic:
    out = PeerPublic.model_validate(peer)
    out.fingerprint = peers.fingerprint(peer.public_key)
    out.pending = outbox.pending(session, peer_id=peer.id)
    return out


@router.get("/identity", response_model=IdentityPublic)
def identity(center: CenterDep) -> IdentityPublic:
    me = center.federation.identity
    return IdentityPublic(center_id=me.center_id, public_key=me.public_key,
                          fingerprint=peers.fingerprint(me.public_key))


@router.get("/peers", response_model=ItemList[PeerPublic])
def list_peers(session: SessionDep) -> ItemList[PeerPublic]:
    return ItemList.of([_peer(session, p) for p in peers.listing(session)])


@router.post("/peers", response_model=PeerPublic, status_code=201)
def register_peer(body: PeerCreate, center: CenterDep, session: SessionDep, actor: ActorDep,
                  now: NowDep) -> PeerPublic:
    peer = peers.register(session, center_id=body.center_id, name=body.name, url=body.url,
                          public_key=body.public_key, role=body.role, unit_id=body.unit_id,
                          own_id=center.federation.identity.center_id, actor=actor, now=now)
    session.commit()
    return _peer(session, peer)


@router.post("/peers/{peer_id}/revoke", response_model=PeerPublic)
def revoke_peer(peer_id: int, session: SessionDep, actor: ActorDep,
                now: NowDep) -> PeerPublic:
    peer = peers.revoke(session, peer_id=peer_id, actor=actor, now=now)
    session.commit()
    return _peer(session, peer)


@router.post("/messages", response_model=Receipts)
def receive(body: MessagesIn, center: CenterDep, session: SessionDep, now: NowDep) -> Receipts:
    """Signed messages from a registered peer (no token: each envelope's signature is the
    credential); answers a receipt per message."""
    peer, messages = inbox.open_batch(session, identity=center.federation.identity,
                                      envelopes=body.messages, now=now)
    peer_id = peer.id
    session.rollback()  # the batch is applied in sessions of its own
    receipts = inbox.apply_batch(center.sessions, peer_id=peer_id, messages=messages,
                                 handler=center.federation.apply, now=now)
    center.federation_link.wake()  # a state may have been queued for the sender
    return Receipts(receipts=[ReceiptPublic(id=r.id, outcome=r.outcome, reason=r.reason)
                              for r in receipts])


@router.post("/bulletins", response_model=ItemList[FederatedBulletinPublic], status_code=201)
def send(body: SendRequest, center: CenterDep, session: SessionDep, actor: ActorDep,
         now: NowDep) -> ItemList[FederatedBulletinPublic]:
    rows = sending.send_bulletin(session, identity=center.federation.identity,
                                 bulletin_id=body.bulletin_id, peer_ids=body.peer_ids,
                                 slot=body.slot, valid_minutes=body.valid_minutes, actor=actor,
                                 now=now)
    center.federation_link.wake()
    return ItemList.of([FederatedBulletinPublic.model_validate(r) for r in rows])


@router.get("/bulletins", response_model=ItemList[FederatedBulletinPublic])
def list_bulletins(session: SessionDep, direction: str | None = Query(
        default=None, pattern="^(in|out)$")) -> ItemList[FederatedBulletinPublic]:
    q = select(FederatedBulletin).order_by(FederatedBulletin.id.desc()).limit(500)
    if direction is not None:
        q = q.where(FederatedBulletin.direction == direction)
    return ItemList.of([FederatedBulletinPublic.model_validate(r) for r in session.scalars(q)])


@router.post("/bulletins/{row_id}/accept", response_model=FederatedBulletinPublic)
def accept(row_id: int, body: Decision, center: CenterDep, session: SessionDep,
           actor: ActorDep, now: NowDep) -> FederatedBulletinPublic:
    row = content_down.decide(session, identity=center.federation.identity, row_id=row_id,
                              accept=True, slot=body.slot, note=body.note, actor=actor,
                              default_tz=center.settings.timezone, now=now)
    center.federation_link.wake()
    return FederatedBulletinPublic.model_validate(row)


@router.post("/bulletins/{row_id}/decline", response_model=FederatedBulletinPublic)
def decline(row_id: int, body: Decision, center: CenterDep, session: SessionDep,
            actor: ActorDep, now: NowDep) -> FederatedBulletinPublic:
    row = content_down.decide(session, identity=center.federation.identity, row_id=row_id,
                              accept=False, slot=None, note=body.note, actor=actor,
                              default_tz=center.settings.timezone, now=now)
    center.federation_link.wake()
    return FederatedBulletinPublic.model_validate(row)
