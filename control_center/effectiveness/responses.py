"""Citizens' feedback per unit: received, answered, answered on time, overdue, by category.

A submission counts for the unit it came from (``origin_unit_id``; the handling unit for one
without an origin), so passing it up the tree does not move it out of its commune's figures.
It counts in the period its center reception (``received_at``) falls in; whether it was
answered, on time or is overdue is judged at the report's instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.effectiveness.figures import FeedbackCounts, UnitFigures
from control_center.models import Feedback, FeedbackStatus

CLOSED = (FeedbackStatus.ANSWERED, FeedbackStatus.CLOSED)


def judge(*, due_at: datetime, answered_at: datetime | None, status: FeedbackStatus,
          now: datetime) -> FeedbackCounts:
    """One submission's counts: answered on time when answered by its due instant; overdue
    when answered after it, or still open (neither answered nor closed) past it."""
    answered = answered_at is not None
    on_time = answered_at is not None and answered_at <= due_at
    open_late = not answered and status not in CLOSED and due_at < now
    return FeedbackCounts(received=1, answered=int(answered), answered_on_time=int(on_time),
                          overdue=int((answered and not on_time) or open_late))


def add_feedback(session: Session, *, own: Mapping[int, UnitFigures], start: datetime,
                 end: datetime, now: datetime) -> None:
    """Add each unit's own submissions (those that came from it) to ``own``."""
    origin = func.coalesce(Feedback.origin_unit_id, Feedback.unit_id)
    rows = session.execute(
        select(origin, Feedback.category, Feedback.due_at, Feedback.answered_at,
               Feedback.status)
        .where(origin.in_(list(own)), Feedback.received_at >= start,
               Feedback.received_at < end))
    for unit_id, category, due_at, answered_at, status in rows:
        counts = judge(due_at=due_at, answered_at=answered_at, status=status, now=now)
        row = own[unit_id]
        row.feedback.add(counts)
        row.feedback_by_category.setdefault(category, FeedbackCounts()).add(counts)
