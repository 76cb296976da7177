"""Feedback categories, each owned by a unit: kiosks offer those of their unit and the units
above it; officials change only those of their own subtree, up to a cap per unit.

A category without a unit belongs to the top of the tree (categories made before units had
them): every kiosk offers it, and only the system token or a user of a top-level unit changes
it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.targets import ancestor_unit_ids, descendant_unit_ids
from control_center.errors import Conflict, Forbidden, UnknownReference
from control_center.models import AdminUnit, Device, FeedbackCategoryRow
from protocol.events import DeviceKind

log = logging.getLogger(__name__)

MAX_PER_UNIT = 20
"""Categories one unit may own (active or not); one more answers 409."""
MAX_PER_KIOSK = 60
"""Categories one kiosk's manifest carries at most (the top of the tree first)."""


def list_categories(session: Session, *, active_only: bool = True) -> list[FeedbackCategoryRow]:
    """Every category (Open311 ``services.json``, the officials' list), in display order."""
    query = select(FeedbackCategoryRow).order_by(FeedbackCategoryRow.position,
                                                 FeedbackCategoryRow.code)
    if active_only:
        query = query.where(FeedbackCategoryRow.active.is_(True))
    return list(session.scalars(query))


def for_kiosk_units(session: Session, *, unit_ids: Iterable[int]
                    ) -> dict[int, list[FeedbackCategoryRow]]:
    """For each unit: the active categories of the top of the tree, its ancestors and its own,
    top first, at most MAX_PER_KIOSK."""
    active = list_categories(session)
    result: dict[int, list[FeedbackCategoryRow]] = {}
    for unit_id in set(unit_ids):
        chain = ancestor_unit_ids(session, unit_id=unit_id)  # nearest first
        depth = {u: len(chain) - i for i, u in enumerate(chain)}  # the root is 1
        mine = sorted((c for c in active if c.unit_id is None or c.unit_id in depth),
                      key=lambda c: depth.get(c.unit_id, 0) if c.unit_id is not None else 0)
        if len(mine) > MAX_PER_KIOSK:
            log.warning("unit %s: %d categories offered, kiosks get the first %d", unit_id,
                        len(mine), MAX_PER_KIOSK)
        result[unit_id] = mine[:MAX_PER_KIOSK]
    return result


def _top_level(session: Session, actor: Actor) -> bool:
    return actor.unit_id is not None and session.scalar(
        select(AdminUnit.parent_id).where(AdminUnit.id == actor.unit_id)) is None


def _require_changeable(session: Session, actor: Actor, unit_id: int | None, what: str) -> None:
    """403 unless the unit (None: the top of the tree) lies in the actor's subtree."""
    if actor.scope is None or (unit_id is None and _top_level(session, actor)) \
            or (unit_id is not None and unit_id in actor.scope):
        return
    owner = "cấp cao nhất / the top of the tree" if unit_id is None else f"đơn vị / unit {unit_id}"
    raise Forbidden(f"{what} thuộc {owner}, ngoài đơn vị của bạn: không được sửa / {what} "
                    "belongs to a unit outside your subtree: ask an official of that unit")


def _kiosks_under(session: Session, unit_id: int | None) -> set[str]:
    query = select(Device.id).where(Device.kind == DeviceKind.KIOSK)
    if unit_id is not None:
        query = query.where(Device.unit_id.in_(descendant_unit_ids(session, unit_ids=[unit_id])))
    return set(session.scalars(query))


def _check_cap(session: Session, unit_id: int | None) -> None:
    owned = FeedbackCategoryRow.unit_id.is_(None) if unit_id is None \
        else FeedbackCategoryRow.unit_id == unit_id
    count = session.scalar(select(func.count()).select_from(FeedbackCategoryRow)
                           .where(owned)) or 0
    if count >= MAX_PER_UNIT:
        raise Conflict(f"đơn vị đã có {count} danh mục, tối đa {MAX_PER_UNIT}: hãy sửa hoặc "
                       f"dùng lại một danh mục cũ / the unit already has {count} categories, "
                       f"the most one unit may have is {MAX_PER_UNIT}: change or reuse one")


def upsert_category(
    session: Session, *, code: str, name_vi: str, name_en: str, due_days: int, active: bool,
    unit_id: int | None, actor: Actor, now: datetime,
) -> FeedbackCategoryRow:
    """Create or change a category of a unit of the actor's subtree (``unit_id`` None: a new
    category belongs to the actor's unit, a changed one stays where it is)."""
    row = session.get(FeedbackCategoryRow, code)
    if row is not None:
        _require_changeable(session, actor, row.unit_id, f"danh mục / category {code!r}")
    owner = unit_id if unit_id is not None else row.unit_id if row is not None \
        else actor.unit_id
    if row is None or owner != row.unit_id:
        _require_changeable(session, actor, owner, f"đơn vị / unit {owner}")
        if owner is not None and session.get(AdminUnit, owner) is None:
            raise UnknownReference(f"unit {owner} does not exist")
        _check_cap(session, owner)
    affected = _kiosks_under(session, owner)
    if row is None:
        position = session.scalar(select(func.count()).select_from(FeedbackCategoryRow)) or 0
        row = FeedbackCategoryRow(code=code, position=position)
        session.add(row)
    else:
        affected |= _kiosks_under(session, row.unit_id)
    row.name_vi, row.name_en, row.due_days, row.active = name_vi, name_en, due_days, active
    row.unit_id = owner
    audit.record(session, actor=actor, action="upsert", object_type="feedback_category",
                 object_id=code, detail={"name_vi": name_vi, "due_days": due_days,
                                         "active": active, "unit_id": owner}, at=now)
    manifests_changed(session, affected)  # the kiosks that offer it (or did)
    session.commit()
    return row
