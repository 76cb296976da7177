"""The append-only audit log: who did what, to which object, from where."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.models import AdminUnit, AuditEntry, Role


def record(
    session: Session, *, actor: Actor, action: str, object_type: str, object_id: str | int,
    detail: Mapping[str, object], at: datetime, flagged: bool = False,
) -> None:
    """Add one audit row in the caller's transaction (committed with the change itself)."""
    session.add(AuditEntry(
        at=at, actor=actor.name, source_ip=actor.source_ip, action=action,
        object_type=object_type, object_id=str(object_id), unit_id=actor.unit_id,
        flagged=flagged,
        detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
    ))


def list_entries(
    session: Session, *, object_type: str | None = None, actor: str | None = None,
    object_id: str | None = None, action: str | None = None, since: datetime | None = None,
    until: datetime | None = None, flagged_only: bool = False, viewer: Actor | None = None,
    limit: int = 500, offset: int = 0,
) -> list[AuditEntry]:
    """Entries matching every given filter, newest first.

    ``since`` is inclusive and ``until`` exclusive (UTC instants). With ``viewer`` only the
    entries that viewer may read are returned (see ``visible_to``).
    """
    query = select(AuditEntry)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if flagged_only:
        query = query.where(AuditEntry.flagged.is_(True))
    if viewer is not None and (condition := visible_to(session, viewer)) is not None:
        query = query.where(condition)
    query = query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def add_entry(
    session: Session, *, actor: Actor, action: str, object_type: str, object_id: str | int,
    detail: Mapping[str, object], at: datetime, flagged: bool = False,
) -> AuditEntry:
    """Like ``record``, but flushed and returned (its id names the action, e.g. a broadcast)."""
    entry = AuditEntry(
        at=at, actor=actor.name, source_ip=actor.source_ip, action=action,
        object_type=object_type, object_id=str(object_id), unit_id=actor.unit_id,
        flagged=flagged,
        detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
    )
    session.add(entry)
    session.flush()
    return entry


def sees_system_entries(session: Session, viewer: Actor) -> bool:
    """Whether ``viewer`` may read entries written without a unit (the system API token,
    failed sign-ins of unknown names): the system token itself and administrators of a root
    unit, who answer for the whole tree the token acts on. Nobody below a root may: the
    token's actions span every unit, so they are not "inside" a commune's subtree."""
    if viewer.scope is None:
        return True
    if viewer.role != Role.ADMIN or viewer.unit_id is None:
        return False
    parent = session.scalar(select(AdminUnit.parent_id).where(AdminUnit.id == viewer.unit_id))
    return parent is None


def visible_to(session: Session, viewer: Actor) -> ColumnElement[bool] | None:
    """The condition on AuditEntry rows a viewer may read (None: every row).

    A user reads the entries of actors whose unit lies inside the user's subtree
    (``AuditEntry.unit_id`` in scope), plus the unit-less entries when
    ``sees_system_entries`` allows it.
    """
    if viewer.scope is None:
        return None
    in_scope = AuditEntry.unit_id.in_(sorted(viewer.scope))
    if sees_system_entries(session, viewer):
        return or_(in_scope, AuditEntry.unit_id.is_(None))
    return in_scope
