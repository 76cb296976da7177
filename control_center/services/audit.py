"""The append-only audit log: who did what, to which object, from where."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.accounts.permissions import ROLE_PERMISSIONS, Permission
from control_center.errors import Forbidden, NotFound
from control_center.models import AuditEntry, Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting and what they may touch.

    A signed-in user has a role and a ``scope``: the ids of their unit and every unit below it.
    The system API token (``role`` None) acts on the whole tree with every permission.
    """

    name: str
    source_ip: str | None = None
    user_id: int | None = None
    role: Role | None = None
    unit_id: int | None = None
    scope: frozenset[int] | None = None
    emergency_direct: bool = True  # may send an emergency without approval

    @property
    def is_system(self) -> bool:
        return self.role is None

    def may(self, permission: Permission) -> bool:
        return self.role is None or permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise Forbidden (403) naming the permission when the role lacks it."""
        if not self.may(permission):
            raise Forbidden(f"vai trò {self.role} không được phép / the role {self.role} may not "
                            f"{permission.value.replace('_', ' ')}")

    def covers(self, unit_id: int | None) -> bool:
        """True when the unit is inside the actor's subtree (None = the root's own objects)."""
        if self.scope is None:
            return True
        return unit_id is not None and unit_id in self.scope

    def require_unit(self, unit_id: int | None, *, what: str) -> None:
        """Objects outside the subtree do not exist for this actor: 404, not 403."""
        if not self.covers(unit_id):
            raise NotFound(f"{what} does not exist")


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
