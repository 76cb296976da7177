"""Passing a submission to another unit: down the official's subtree, or up the tree
("chuyển lên cấp trên") when a matter is beyond the unit; and the overdue job's escalation.

The receiving unit's officers see it in their queue; an officer who passes it up loses sight
of it (it is no longer in their subtree), as the tree's scope rules say.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.targets import ancestor_unit_ids, descendant_unit_ids
from control_center.errors import Conflict, InvalidInput
from control_center.feedback.service import get_feedback
from control_center.models import AdminUnit, Feedback, FeedbackNote, FeedbackStatus

OPEN = (FeedbackStatus.NEW, FeedbackStatus.TRIAGED, FeedbackStatus.ASSIGNED)
OVERDUE_ACTOR = Actor(name="hệ thống: quá hạn / system: overdue")


def _name(session: Session, unit_id: int) -> str:
    return session.scalar(select(AdminUnit.name).where(AdminUnit.id == unit_id)) or str(unit_id)


def targets(session: Session, *, feedback: Feedback, scope_unit_id: int) -> list[int]:
    """Where an official may pass it: the units above it (nearest first), then their subtree."""
    above = ancestor_unit_ids(session, unit_id=feedback.unit_id)[1:]
    below = sorted(descendant_unit_ids(session, unit_ids=[scope_unit_id]) - {feedback.unit_id})
    return above + [u for u in below if u not in above]


def _move(session: Session, row: Feedback, *, to: int, text: str, action: str, actor: Actor,
          now: datetime) -> None:
    before = row.unit_id
    row.notes.append(FeedbackNote(at=now, author=actor.name, text=text))
    row.unit_id, row.assignee, row.updated_at = to, None, now
    if row.status in (FeedbackStatus.NEW, FeedbackStatus.ASSIGNED):  # an assignee was the
        row.status = FeedbackStatus.TRIAGED                          # old unit's official
    audit.record(session, actor=actor, action=action, object_type="feedback", object_id=row.id,
                 detail={"from_unit_id": before, "unit_id": to}, at=now)


def route(
    session: Session, *, feedback_id: int, scope_unit_id: int, unit_id: int, note: str | None,
    actor: Actor, now: datetime,
) -> Feedback:
    """Pass it to a unit of the official's subtree or to a unit above the submission's unit."""
    row = get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope_unit_id)
    if row.status not in OPEN:
        raise Conflict(f"phản ánh {row.ref_code} đã {row.status.value}: không chuyển được / "
                       f"feedback {row.id} is {row.status.value}: it can no longer be passed on")
    if unit_id == row.unit_id:
        raise InvalidInput(f"phản ánh đã ở đơn vị này / feedback {row.id} is already with "
                           f"unit {unit_id}")
    above = ancestor_unit_ids(session, unit_id=row.unit_id)
    if unit_id not in above and unit_id not in descendant_unit_ids(
            session, unit_ids=[scope_unit_id]):
        raise InvalidInput(f"đơn vị {unit_id} không ở cấp trên cũng không thuộc đơn vị của bạn / "
                           f"unit {unit_id} is neither above the feedback's unit nor in your "
                           "subtree")
    up = unit_id in above
    what = "Chuyển lên cấp trên / escalated to" if up else "Chuyển cho / passed to"
    text = f"{what} {_name(session, unit_id)}" + (f": {note}" if note else "")
    _move(session, row, to=unit_id, text=text, action="escalate" if up else "route",
          actor=actor, now=now)
    session.commit()
    return row


def escalate_overdue(session: Session, *, now: datetime) -> list[int]:
    """Pass every open, unflagged submission past its due date to its unit's parent, once
    (``escalated_at``); at the top of the tree it stays. Returns the ids moved."""
    parent = select(AdminUnit.parent_id).where(AdminUnit.id == Feedback.unit_id) \
        .scalar_subquery()
    rows = list(session.scalars(select(Feedback).where(
        Feedback.due_at < now, Feedback.status.in_(OPEN), Feedback.escalated_at.is_(None),
        Feedback.flagged.is_(None), parent.is_not(None)).order_by(Feedback.id).limit(500)))
    for row in rows:
        up = session.scalar(select(AdminUnit.parent_id).where(AdminUnit.id == row.unit_id))
        assert up is not None  # the query's condition
        _move(session, row, to=up, action="escalate", actor=OVERDUE_ACTOR, now=now,
              text=f"Quá hạn, tự động chuyển lên cấp trên / overdue, escalated automatically "
                   f"to {_name(session, up)}")
        row.escalated_at = now
    session.commit()
    return [r.id for r in rows]
