"""Queueing a message for a peer in the caller's transaction: sealed now, sent by the link
(``workers.federation_link``) until the peer acknowledges it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.federation.identity import Identity
from control_center.federation.messages import Kind, new_message
from control_center.models import FederationOutbox, FederationPeer


def enqueue(session: Session, *, identity: Identity, peer: FederationPeer, kind: Kind,
            payload: dict[str, Any], now: datetime) -> FederationOutbox:
    message = new_message(sender=identity.center_id, to=peer.center_id, kind=kind, at=now,
                          payload=payload)
    row = FederationOutbox(peer_id=peer.id, message_id=message.id, kind=kind.value,
                           envelope=identity.signer.seal(message).decode(), created_at=now,
                           attempts=0, next_try_at=now)
    session.add(row)
    return row


def pending(session: Session, *, peer_id: int) -> int:
    return session.scalar(select(func.count()).select_from(FederationOutbox).where(
        FederationOutbox.peer_id == peer_id, FederationOutbox.delivered_at.is_(None))) or 0
