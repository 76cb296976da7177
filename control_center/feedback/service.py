"""The feedback workflow: new -> triaged -> assigned -> answered -> closed.

Every call names the official's scope (a unit id): a submission outside that unit's subtree
does not exist for them (NotFound), so one commune never sees or answers another's. There are
no user accounts yet; the scope comes from the ``X-Unit-Id`` header (see docs/feedback.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Conflict, Forbidden, InvalidInput, NotFound, UnknownReference
from control_center.feedback.codes import lookup_forms, new_ref_code
from control_center.models import (
    AdminUnit,
    Device,
    Feedback,
    FeedbackCategoryRow,
    FeedbackNote,
    FeedbackPriority,
    FeedbackStatus,
    Open311Client,
)
from protocol.feedback import FeedbackSubmitted

RATE_LIMIT = 20  # submissions per kiosk per RATE_WINDOW before new ones are flagged
RATE_WINDOW = timedelta(hours=1)
DEFAULT_DUE_DAYS = 10

_NEXT: dict[str, set[FeedbackStatus]] = {
    "triage": {FeedbackStatus.NEW, FeedbackStatus.TRIAGED, FeedbackStatus.ASSIGNED},
    "assign": {FeedbackStatus.TRIAGED, FeedbackStatus.ASSIGNED},
    "answer": {FeedbackStatus.TRIAGED, FeedbackStatus.ASSIGNED, FeedbackStatus.ANSWERED},
    "close": {FeedbackStatus.ANSWERED, FeedbackStatus.NEW, FeedbackStatus.TRIAGED,
              FeedbackStatus.ASSIGNED},
}


# -- categories (control_center.feedback.categories holds the list and its owners) ----------

def _due(session: Session, category: str, start: datetime) -> datetime:
    row = session.get(FeedbackCategoryRow, category)
    return start + timedelta(days=row.due_days if row is not None else DEFAULT_DUE_DAYS)


def _known_category(session: Session, category: str) -> str:
    return category if session.get(FeedbackCategoryRow, category) is not None else "other"


# -- intake ----------------------------------------------------------------------------------

def record_submission(
    session: Session, *, event: FeedbackSubmitted, device: Device, now: datetime
) -> Feedback:
    """Store a kiosk's submission (the caller already de-duplicated it by event id)."""
    recent = session.scalar(
        select(func.count()).select_from(Feedback)
        .where(Feedback.device_id == device.id, Feedback.received_at >= now - RATE_WINDOW)
    ) or 0
    ref = event.ref_code
    if session.scalar(select(Feedback.id).where(Feedback.ref_code == ref)) is not None:
        ref = f"{ref}-{event.event_id[:4].upper()}"  # two kiosks drew the same code
    category = _known_category(session, event.category)
    row = Feedback(
        ref_code=ref, event_id=event.event_id, device_id=device.id, unit_id=device.unit_id,
        origin_unit_id=device.unit_id,
        category=category, text=event.text, lang=event.lang, channel=event.channel.value,
        phone=event.phone if event.contact_consent else None,
        contact_consent=event.contact_consent, lat=device.lat, lon=device.lon,
        status=FeedbackStatus.NEW, submitted_at=event.at, received_at=now,
        due_at=_due(session, category, now), updated_at=now,
        flagged=(f"rate limit: more than {RATE_LIMIT} submissions from this kiosk within "
                 f"{RATE_WINDOW}") if recent >= RATE_LIMIT else None,
    )
    session.add(row)
    return row


def create_request(
    session: Session, *, client: Open311Client, unit_id: int, category: str, text: str,
    phone: str | None, lat: float | None, lon: float | None, address: str | None,
    now: datetime,
) -> Feedback:
    """A submission from an Open311 client, for a unit inside the client's subtree."""
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    if unit_id not in descendant_unit_ids(session, unit_ids=[client.unit_id]):
        raise Forbidden(f"jurisdiction_id is outside the unit this api_key was issued for "
                        f"(unit {client.unit_id} and the units below it)")
    if session.get(FeedbackCategoryRow, category) is None:
        raise InvalidInput(f"unknown service_code {category!r}")
    row = Feedback(
        ref_code=new_ref_code(), unit_id=unit_id, origin_unit_id=unit_id, category=category,
        text=text,
        channel="open311", client_id=client.id, phone=phone, contact_consent=phone is not None,
        lat=lat, lon=lon, address=address, status=FeedbackStatus.NEW, submitted_at=now,
        received_at=now, due_at=_due(session, category, now), updated_at=now,
    )
    session.add(row)
    session.commit()
    return row


def by_ref_code(session: Session, *, ref_code: str) -> Feedback:
    """The submission with this reference code, as the citizen may type it (see ``codes``)."""
    forms = lookup_forms(ref_code)
    row = session.scalar(select(Feedback).where(Feedback.ref_code.in_(forms)))
    if row is None:
        raise NotFound(f"no request {forms[0]!r}")
    return row


# -- the official's view ---------------------------------------------------------------------

def _scope(session: Session, scope_unit_id: int) -> set[int]:
    if session.get(AdminUnit, scope_unit_id) is None:
        raise UnknownReference(f"scope unit {scope_unit_id} does not exist")
    return descendant_unit_ids(session, unit_ids=[scope_unit_id])


def scope_units(session: Session, scope_unit_id: int) -> set[int]:
    """The official's unit and every unit below it (422 for an unknown unit)."""
    return _scope(session, scope_unit_id)


def list_feedback(
    session: Session, *, scope_unit_id: int, status: FeedbackStatus | None = None,
    include_flagged: bool = False, overdue_at: datetime | None = None, limit: int = 200,
) -> list[Feedback]:
    query = select(Feedback).where(Feedback.unit_id.in_(_scope(session, scope_unit_id)))
    if status is not None:
        query = query.where(Feedback.status == status)
    if not include_flagged:
        query = query.where(Feedback.flagged.is_(None))
    if overdue_at is not None:
        query = query.where(Feedback.due_at < overdue_at,
                            Feedback.status.not_in([FeedbackStatus.ANSWERED,
                                                    FeedbackStatus.CLOSED]))
    return list(session.scalars(query.order_by(Feedback.due_at, Feedback.id).limit(limit)))


def get_feedback(session: Session, *, feedback_id: int, scope_unit_id: int) -> Feedback:
    row = session.get(Feedback, feedback_id)
    if row is None or row.unit_id not in _scope(session, scope_unit_id):
        raise NotFound(f"feedback {feedback_id} does not exist in your unit")
    return row


def _move(row: Feedback, step: str) -> None:
    if row.status not in _NEXT[step]:
        raise Conflict(f"feedback {row.id} is {row.status.value}: '{step}' is not allowed now")


def triage(
    session: Session, *, feedback_id: int, scope_unit_id: int, category: str, unit_id: int,
    actor: Actor, now: datetime, priority: FeedbackPriority | None = None,
) -> Feedback:
    """Confirm the category (and the priority, when given) and route to a unit inside the
    official's subtree (``routing.route`` also passes it up the tree)."""
    row = get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope_unit_id)
    _move(row, "triage")
    if session.get(FeedbackCategoryRow, category) is None:
        raise UnknownReference(f"category {category!r} does not exist")
    if unit_id not in _scope(session, scope_unit_id):
        raise InvalidInput(f"unit {unit_id} is outside your unit's subtree")
    if category != row.category:
        row.due_at = _due(session, category, row.received_at)
    row.category, row.unit_id, row.updated_at = category, unit_id, now
    if priority is not None:
        row.priority = priority
    if row.status == FeedbackStatus.NEW:
        row.status = FeedbackStatus.TRIAGED
    audit.record(session, actor=actor, action="triage", object_type="feedback",
                 object_id=row.id, detail={"category": category, "unit_id": unit_id,
                                           "priority": row.priority.value}, at=now)
    session.commit()
    return row


def assign(
    session: Session, *, feedback_id: int, scope_unit_id: int, assignee: str,
    actor: Actor, now: datetime,
) -> Feedback:
    """Assign (or reassign) to a named official; the previous assignee goes into a note."""
    row = get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope_unit_id)
    _move(row, "assign")
    if row.assignee and row.assignee != assignee:
        row.notes.append(FeedbackNote(at=now, author=actor.name,
                                      text=f"reassigned from {row.assignee} to {assignee}"))
    row.assignee, row.status, row.updated_at = assignee, FeedbackStatus.ASSIGNED, now
    audit.record(session, actor=actor, action="assign", object_type="feedback",
                 object_id=row.id, detail={"assignee": assignee}, at=now)
    session.commit()
    return row


def add_note(
    session: Session, *, feedback_id: int, scope_unit_id: int, text: str,
    actor: Actor, author: str | None, now: datetime,
) -> FeedbackNote:
    row = get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope_unit_id)
    note = FeedbackNote(at=now, author=author or actor.name, text=text)
    row.notes.append(note)
    row.updated_at = now
    session.commit()
    return note


def answer(
    session: Session, *, feedback_id: int, scope_unit_id: int, text: str, answered_by: str,
    actor: Actor, now: datetime,
) -> Feedback:
    """Record the answer; the originating kiosk's manifest carries it."""
    row = get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope_unit_id)
    _move(row, "answer")
    row.answer, row.answered_by, row.answered_at = text, answered_by, now
    row.status, row.updated_at = FeedbackStatus.ANSWERED, now
    audit.record(session, actor=actor, action="answer", object_type="feedback",
                 object_id=row.id, detail={"device_id": row.device_id}, at=now)
    if row.device_id is not None:
        manifests_changed(session, [row.device_id])
    session.commit()
    return row


def close(
    session: Session, *, feedback_id: int, scope_unit_id: int, actor: Actor,
    now: datetime,
) -> Feedback:
    row = get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope_unit_id)
    _move(row, "close")
    row.status, row.closed_at, row.updated_at = FeedbackStatus.CLOSED, now, now
    audit.record(session, actor=actor, action="close", object_type="feedback",
                 object_id=row.id, detail={}, at=now)
    session.commit()
    return row
