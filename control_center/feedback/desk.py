"""The officers' desk: the queue of a unit subtree with its filters, counts and reminders,
and an item's history (notes and audited steps), as the console pages show them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from control_center.feedback.routing import OPEN
from control_center.feedback.service import scope_units
from control_center.models import AuditEntry, Feedback, FeedbackPriority, FeedbackStatus

REMIND_BEFORE = timedelta(days=2)
"""An open item due within this long is listed under "nhắc hạn / due soon"."""
PER_PAGE = 25


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: FeedbackStatus | None = None
    category: str | None = None
    unit_id: int | None = None
    overdue: bool = False
    mine: bool = False
    newest: bool = False  # else the most urgent first
    page: int = 1


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: list[Feedback]
    total: int
    counts: dict[FeedbackStatus, int]
    overdue: int
    due_soon: list[Feedback]
    pages: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    who: str
    what: str


_URGENCY = case({FeedbackPriority.URGENT.value: 0, FeedbackPriority.HIGH.value: 1},
                value=Feedback.priority, else_=2)


def _open_past(now: datetime) -> ColumnElement[bool]:
    return (Feedback.due_at < now) & Feedback.status.in_(OPEN)


def queue(session: Session, *, scope_unit_id: int, me: str, filt: QueueFilter,
          now: datetime, per_page: int = PER_PAGE) -> QueuePage:
    """One page of the subtree's feedback matching the filter, with the counts per status
    (of the whole subtree) and the open items due within REMIND_BEFORE."""
    units = scope_units(session, scope_unit_id)
    inside = Feedback.unit_id.in_(units)
    where: list[ColumnElement[bool]] = [inside]
    if filt.status is not None:
        where.append(Feedback.status == filt.status)
    if filt.category:
        where.append(Feedback.category == filt.category)
    if filt.unit_id is not None:
        where.append(Feedback.unit_id == filt.unit_id)
    if filt.overdue:
        where.append(_open_past(now))
    if filt.mine:
        where.append(Feedback.assignee == me)
    total = session.scalar(select(func.count()).select_from(Feedback).where(*where)) or 0
    order = (Feedback.received_at.desc(), Feedback.id.desc()) if filt.newest else (
        _URGENCY, Feedback.status.in_(OPEN).desc(), Feedback.due_at, Feedback.id)
    pages = max(1, -(-total // per_page))
    page = min(max(1, filt.page), pages)
    items = list(session.scalars(select(Feedback).where(*where).order_by(*order)
                                 .offset((page - 1) * per_page).limit(per_page)))
    counts = {s: 0 for s in FeedbackStatus}
    for status, n in session.execute(select(Feedback.status, func.count()).where(inside)
                                     .group_by(Feedback.status)):
        counts[FeedbackStatus(status)] = n
    overdue = session.scalar(select(func.count()).select_from(Feedback)
                             .where(inside, _open_past(now))) or 0
    due_soon = list(session.scalars(select(Feedback).where(
        inside, Feedback.status.in_(OPEN), Feedback.due_at >= now,
        Feedback.due_at < now + REMIND_BEFORE).order_by(Feedback.due_at).limit(50)))
    return QueuePage(items, total, counts, overdue, due_soon, pages)


def reminders(session: Session, *, scope_unit_id: int, now: datetime) -> tuple[int, int]:
    """What the console's first page reminds an officer of: the subtree's open items due
    within REMIND_BEFORE, and those already past due."""
    inside = Feedback.unit_id.in_(scope_units(session, scope_unit_id))
    soon = session.scalar(select(func.count()).select_from(Feedback).where(
        inside, Feedback.status.in_(OPEN), Feedback.due_at >= now,
        Feedback.due_at < now + REMIND_BEFORE)) or 0
    late = session.scalar(select(func.count()).select_from(Feedback)
                          .where(inside, _open_past(now))) or 0
    return soon, late


_STEPS = {"triage": "Phân loại / triaged", "assign": "Giao cho / assigned",
          "answer": "Trả lời / answered", "close": "Đóng / closed",
          "route": "Chuyển cho đơn vị / passed to a unit",
          "escalate": "Chuyển lên cấp trên / escalated",
          "read_on_speakers": "Đọc trên loa / read on the loudspeakers"}


def history(session: Session, *, feedback: Feedback) -> list[HistoryEntry]:
    """Its notes and audited steps (triage, assignment, routing, answer, ...), oldest first."""
    out = [HistoryEntry(n.at, n.author, f"Ghi chú / note: {n.text}") for n in feedback.notes]
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "feedback", AuditEntry.object_id == str(feedback.id))):
        detail = json.loads(entry.detail or "{}")
        shown = ", ".join(f"{k}={v}" for k, v in sorted(detail.items()) if v is not None)
        out.append(HistoryEntry(entry.at, entry.actor,
                                f"{_STEPS.get(entry.action, entry.action)} ({shown})"))
    return sorted(out, key=lambda h: h.at)
