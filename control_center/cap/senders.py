"""CAP senders: who may alert where. An administrator registers a sender (its CAP ``sender``
string) for a unit of their subtree; the sender may alert that unit's subtree only. Its key
(``ttcap_<prefix>_<secret>``, ``core.api_keys``) is shown once and revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.cap.schemas import SenderCreate
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.api_keys import key_digest, key_matches, key_prefix, new_key
from control_center.core.permissions import Permission
from control_center.errors import Conflict, Forbidden, NotFound, UnknownReference
from control_center.models import AdminUnit, CapSender, EmergencyRule

KEY_START = "ttcap_"


def create_sender(session: Session, *, data: SenderCreate, actor: Actor,
                  now: datetime) -> tuple[CapSender, str]:
    """A new sender for a unit of the actor's subtree; returns it and its key (shown once).
    409 while another live registration holds the same ``sender``."""
    actor.require(Permission.MANAGE_USERS)
    actor.require_unit(data.unit_id, what=f"unit {data.unit_id}")
    if session.get(AdminUnit, data.unit_id) is None:
        raise UnknownReference(f"unit {data.unit_id} does not exist")
    if session.scalar(select(CapSender.id).where(CapSender.sender == data.sender,
                                                 CapSender.revoked_at.is_(None))):
        raise Conflict(f"sender {data.sender!r} is already registered: revoke it first to "
                       "give it another unit or key")
    prefix, key = new_key(KEY_START, taken=lambda p: session.scalar(
        select(CapSender.id).where(CapSender.key_prefix == p)) is not None)
    row = CapSender(sender=data.sender, name=data.name, unit_id=data.unit_id,
                    emergency_rule=data.emergency_rule, key_prefix=prefix,
                    key_sha256=key_digest(key), created_by=actor.name, created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="cap_sender",
                 object_id=row.id, detail={**data.model_dump(mode="json"), "key_prefix": prefix},
                 at=now)
    session.commit()
    return row, key


def list_senders(session: Session, *, actor: Actor) -> list[CapSender]:
    """The senders of the actor's subtree, newest first (revoked ones too)."""
    actor.require(Permission.MANAGE_USERS)
    query = select(CapSender).order_by(CapSender.id.desc())
    if actor.scope is not None:
        query = query.where(CapSender.unit_id.in_(actor.scope))
    return list(session.scalars(query))


def _own(session: Session, sender_id: int, actor: Actor) -> CapSender:
    actor.require(Permission.MANAGE_USERS)
    row = session.get(CapSender, sender_id)
    if row is None or not actor.covers(row.unit_id):
        raise NotFound(f"CAP sender {sender_id} does not exist")
    return row


def set_rule(session: Session, *, sender_id: int, rule: EmergencyRule, actor: Actor,
             now: datetime) -> CapSender:
    """Change what the sender's Extreme + Immediate alerts do."""
    row = _own(session, sender_id, actor)
    was, row.emergency_rule = row.emergency_rule, rule
    audit.record(session, actor=actor, action="update", object_type="cap_sender",
                 object_id=row.id, detail={"emergency_rule": rule.value, "was": was.value},
                 at=now)
    session.commit()
    return row


def revoke_sender(session: Session, *, sender_id: int, actor: Actor,
                  now: datetime) -> CapSender:
    """Revoke a sender: its key is refused from now on (409 if it already was)."""
    row = _own(session, sender_id, actor)
    if row.revoked_at is not None:
        raise Conflict(f"CAP sender {sender_id} was already revoked at "
                       f"{row.revoked_at.isoformat()} by {row.revoked_by}")
    row.revoked_at, row.revoked_by = now, actor.name
    audit.record(session, actor=actor, action="revoke", object_type="cap_sender",
                 object_id=row.id, detail={"sender": row.sender}, at=now)
    session.commit()
    return row


def authenticate(session: Session, *, key: str, now: datetime) -> CapSender:
    """The live sender holding ``key`` (its last use noted, committed by the caller); 403 for
    a missing, unknown or revoked key."""
    prefix = key_prefix(key, KEY_START)
    row = session.scalar(select(CapSender).where(CapSender.key_prefix == prefix)) \
        if prefix is not None else None
    if row is None or row.key_sha256 is None or not key_matches(row.key_sha256, key):
        raise Forbidden("X-CAP-Key missing or not valid: ask the administrator of your area's "
                        "unit to register your sender")
    if row.revoked_at is not None:
        raise Forbidden(f"this X-CAP-Key was revoked at {row.revoked_at.isoformat()}: ask the "
                        "administrator of your area's unit for a new one")
    row.last_used_at = now
    return row
