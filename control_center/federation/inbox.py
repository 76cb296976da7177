"""Receiving a batch of messages from a peer: every envelope verified with that peer's key,
then each message applied at most once, in order, in a transaction of its own.

A message the handler refuses (bad content, an unknown reference) is recorded as refused and
acknowledged, so the sender stops resending it; an unexpected failure is answered ``retry``
for it and every later message of the batch, so order is kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import CenterError, Forbidden, InvalidInput
from control_center.federation.identity import Identity
from control_center.federation.messages import MAX_BATCH, FederationMessage
from control_center.federation.peers import by_center_id
from control_center.models import FederationPeer, FederationReceived, PeerState
from protocol.errors import ProtocolError
from protocol.signing import Verifier, public_key_from_b64

log = logging.getLogger(__name__)

Handler = Callable[[Session, FederationPeer, FederationMessage], str]
"""Applies one message in the given session (not committing); returns a detail to keep, or
raises a CenterError (4xx) to refuse it for good."""


@dataclass(frozen=True, slots=True)
class Receipt:
    id: str
    outcome: str  # applied | duplicate | refused | retry
    reason: str = ""


def _sender(raw: str) -> str:
    try:
        sender = json.loads(json.loads(raw)["body"])["sender"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"phong bì không hợp lệ / malformed envelope: {exc}") from exc
    if not isinstance(sender, str):
        raise InvalidInput("phong bì không ghi trung tâm gửi / the envelope names no sender")
    return sender


def open_batch(session: Session, *, identity: Identity, envelopes: list[str],
               now: datetime) -> tuple[FederationPeer, list[FederationMessage]]:
    """The peer that signed every envelope, and the messages (403 when the sender is not a
    registered, active peer, a signature fails, or a message is not addressed to us)."""
    if not envelopes or len(envelopes) > MAX_BATCH:
        raise InvalidInput(f"gửi từ 1 đến {MAX_BATCH} thông điệp / send 1 to {MAX_BATCH} "
                           "messages at once")
    senders = {_sender(raw) for raw in envelopes}
    if len(senders) != 1:
        raise InvalidInput("mọi thông điệp của một lần gửi phải từ một trung tâm / all messages "
                           "of a batch must come from one center")
    (sender,) = senders
    peer = by_center_id(session, sender)
    if peer is None or peer.state != PeerState.ACTIVE:
        _refuse(session, sender, "not registered" if peer is None else "revoked", now)
        raise Forbidden(f"trung tâm '{sender}' chưa được đăng ký ở đây / center '{sender}' is "
                        f"{'not registered' if peer is None else 'revoked'} here")
    verifier = Verifier([public_key_from_b64(peer.public_key)])
    messages = []
    for raw in envelopes:
        try:
            message = FederationMessage.model_validate_json(verifier.open(raw.encode()))
        except (ProtocolError, ValidationError) as exc:
            _refuse(session, sender, f"bad signature or body: {str(exc)[:200]}", now)
            raise Forbidden(f"thông điệp không đúng chữ ký của '{sender}' / a message is not "
                            f"validly signed by '{sender}': {str(exc)[:200]}") from exc
        if message.sender != sender or message.to != identity.center_id:
            raise Forbidden(f"thông điệp {message.id} gửi cho '{message.to}', không phải "
                            f"'{identity.center_id}' / message {message.id} is addressed to "
                            f"'{message.to}', not to this center")
        messages.append(message)
    return peer, messages


def _refuse(session: Session, sender: str, why: str, now: datetime) -> None:
    log.warning("refused messages from center %r: %s", sender, why)
    audit.record(session, actor=Actor(name=f"trung tâm / center {sender[:60]}"),
                 action="refuse", object_type="federation_message", object_id=sender[:60],
                 detail={"reason": why}, at=now)
    session.commit()


def _forget(session: Session, peer_id: int, message_id: str) -> None:
    """After a handler failed: roll back, and remove the receipt if a commit inside the
    handler (the emergency path stores its speech first) already wrote it, so the resend
    applies the message instead of finding it applied."""
    session.rollback()
    gone = session.execute(delete(FederationReceived).where(
        FederationReceived.peer_id == peer_id, FederationReceived.message_id == message_id))
    if gone.rowcount:  # type: ignore[attr-defined]
        log.warning("message %s failed after a partial commit; its receipt is withdrawn",
                    message_id)
    session.commit()


def apply_batch(sessions: sessionmaker[Session], *, peer_id: int,
                messages: list[FederationMessage], handler: Handler,
                now: datetime) -> list[Receipt]:
    receipts: list[Receipt] = []
    for index, message in enumerate(messages):
        with sessions() as session:
            seen = session.scalar(select(FederationReceived.id).where(
                FederationReceived.peer_id == peer_id,
                FederationReceived.message_id == message.id))
            if seen is not None:
                receipts.append(Receipt(message.id, "duplicate"))
                continue
            peer = session.get(FederationPeer, peer_id)
            assert peer is not None
            # the receipt goes first: a handler that commits (an emergency is sent, then
            # committed) commits it with its change, so a resend cannot apply it twice
            receipt = FederationReceived(peer_id=peer_id, message_id=message.id,
                                         kind=message.kind.value, received_at=now,
                                         outcome="applied", detail="")
            session.add(receipt)
            try:
                receipt.detail = handler(session, peer, message)[:2000]
            except CenterError as exc:
                _forget(session, peer_id, message.id)
                if exc.status_code >= 500:  # this center cannot take it now (its broker)
                    log.warning("%s message %s waits: %s", message.kind, message.id, exc)
                    receipts += [Receipt(m.id, "retry", str(exc)[:200])
                                 for m in messages[index:]]
                    break
                receipt = FederationReceived(peer_id=peer_id, message_id=message.id,
                                             kind=message.kind.value, received_at=now,
                                             outcome="refused", detail=str(exc)[:2000])
                session.add(receipt)
            except Exception:
                _forget(session, peer_id, message.id)
                log.exception("applying %s message %s failed; the peer retries", message.kind,
                              message.id)
                receipts += [Receipt(m.id, "retry") for m in messages[index:]]
                break
            peer = session.get(FederationPeer, peer_id)
            assert peer is not None
            peer.last_received_at = now
            outcome, detail = receipt.outcome, receipt.detail
            try:
                session.commit()
            except IntegrityError:  # the same message, applied meanwhile by another request
                session.rollback()
                outcome = "duplicate"
            receipts.append(Receipt(message.id, outcome, "" if outcome != "refused" else detail))
    return receipts
