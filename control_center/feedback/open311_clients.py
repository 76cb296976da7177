"""Open311 client keys: made by administrators for a unit of their subtree, shown once,
stored as a SHA-256, revocable.

A key reads ``tt311_<prefix>_<secret>`` (``core.api_keys``: the prefix finds the client's
row, SHA-256 of the whole key is compared in constant time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.api_keys import key_digest, key_matches, key_prefix, new_key
from control_center.core.permissions import Permission
from control_center.errors import Conflict, Forbidden, NotFound, UnknownReference
from control_center.models import AdminUnit, Open311Client

KEY_START = "tt311_"


def create_client(
    session: Session, *, name: str, unit_id: int, actor: Actor, now: datetime,
) -> tuple[Open311Client, str]:
    """A new client of a unit of the actor's subtree; returns it and its key (shown once)."""
    actor.require(Permission.MANAGE_USERS)
    actor.require_unit(unit_id, what=f"unit {unit_id}")  # first: no probing outside
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    prefix, key = new_key(KEY_START, taken=lambda p: session.scalar(
        select(Open311Client.id).where(Open311Client.key_prefix == p)) is not None)
    row = Open311Client(name=name, unit_id=unit_id, key_prefix=prefix, key_sha256=key_digest(key),
                        created_by=actor.name, created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="open311_client",
                 object_id=row.id, detail={"name": name, "unit_id": unit_id,
                                           "key_prefix": prefix}, at=now)
    session.commit()
    return row, key


def list_clients(session: Session, *, actor: Actor) -> list[Open311Client]:
    """The clients of the actor's subtree, newest first (revoked ones too)."""
    actor.require(Permission.MANAGE_USERS)
    query = select(Open311Client).order_by(Open311Client.id.desc())
    if actor.scope is not None:
        query = query.where(Open311Client.unit_id.in_(actor.scope))
    return list(session.scalars(query))


def revoke_client(session: Session, *, client_id: int, actor: Actor,
                  now: datetime) -> Open311Client:
    """Revoke a client of the actor's subtree: its key is refused from now on (409 if it
    already was)."""
    actor.require(Permission.MANAGE_USERS)
    row = session.get(Open311Client, client_id)
    if row is None or not actor.covers(row.unit_id):
        raise NotFound(f"Open311 client {client_id} does not exist")
    if row.revoked_at is not None:
        raise Conflict(f"Open311 client {client_id} was already revoked at "
                       f"{row.revoked_at.isoformat()} by {row.revoked_by}")
    row.revoked_at, row.revoked_by = now, actor.name
    audit.record(session, actor=actor, action="revoke", object_type="open311_client",
                 object_id=row.id, detail={"key_prefix": row.key_prefix}, at=now)
    session.commit()
    return row


def authenticate(session: Session, *, key: str, now: datetime) -> Open311Client:
    """The live client holding ``key`` (its last use noted, committed by the caller); 403
    for a missing, unknown or revoked key."""
    prefix = key_prefix(key, KEY_START)
    row = session.scalar(select(Open311Client).where(Open311Client.key_prefix == prefix)) \
        if prefix is not None else None
    if row is None or not key_matches(row.key_sha256, key):
        raise Forbidden("api_key missing or not valid: ask the administrator of your unit for "
                        "an Open311 client key")
    if row.revoked_at is not None:
        raise Forbidden(f"this api_key was revoked at {row.revoked_at.isoformat()}: ask the "
                        "administrator of your unit for a new one")
    row.last_used_at = now
    return row
