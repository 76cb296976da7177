"""Who is acting: a signed-in user's role and unit subtree, or the system API token."""

from __future__ import annotations

from dataclasses import dataclass

from control_center.core.permissions import ROLE_PERMISSIONS, Permission, denied_message
from control_center.errors import Forbidden, NotFound
from control_center.models import Role


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
        if self.role is not None and not self.may(permission):
            raise Forbidden(denied_message(self.role, permission))

    def covers(self, unit_id: int | None) -> bool:
        """True when the unit is inside the actor's subtree (None = the root's own objects)."""
        if self.scope is None:
            return True
        return unit_id is not None and unit_id in self.scope

    def for_system_task(self, task: str) -> Actor:
        """The center acting for this user on a task whose targets it computed itself (such as
        showing a feedback answer on the kiosks of the feedback's own unit): full permissions,
        still attributed to the user in the audit log."""
        return Actor(name=f"{self.name} ({task})"[:100], source_ip=self.source_ip,
                     user_id=self.user_id, unit_id=self.unit_id)

    def unit_or_own(self, unit_id: int | None) -> int | None:
        """The unit to show: the one asked for (inside the subtree, 404 otherwise), else the
        actor's own unit."""
        if unit_id is None:
            return self.unit_id
        self.require_unit(unit_id, what=f"unit {unit_id}")
        return unit_id

    def require_unit(self, unit_id: int | None, *, what: str) -> None:
        """Objects outside the subtree do not exist for this actor: 404, not 403."""
        if not self.covers(unit_id):
            raise NotFound(f"{what} does not exist")
