"""The append-only audit log: who did what, to which object, from where."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.models import AuditEntry


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: the API token for now (operators with roles come later)."""

    name: str
    source_ip: str | None = None


def record(
    session: Session, *, actor: Actor, action: str, object_type: str, object_id: str | int,
    detail: Mapping[str, object], at: datetime,
) -> None:
    """Add one audit row in the caller's transaction (committed with the change itself)."""
    session.add(AuditEntry(
        at=at, actor=actor.name, source_ip=actor.source_ip, action=action,
        object_type=object_type, object_id=str(object_id),
        detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
    ))


def list_entries(
    session: Session, *, object_type: str | None = None, actor: str | None = None,
    object_id: str | None = None, limit: int = 500, offset: int = 0,
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    query = query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))
