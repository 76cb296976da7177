"""Officers (a temporary identity until accounts, issue 7) and course assignments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.targets import ancestor_unit_ids, descendant_unit_ids
from control_center.errors import Conflict, NotFound, UnknownReference
from control_center.models import AdminUnit, Assignment, Course, Officer, OfficerRole


def create_officer(session: Session, *, code: str, name: str, unit_id: int, role: OfficerRole,
                   actor: Actor, now: datetime) -> Officer:
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    if session.scalar(select(Officer.id).where(Officer.code == code)) is not None:
        raise Conflict(f"officer code {code!r} is taken")
    officer = Officer(code=code, name=name, unit_id=unit_id, role=role, created_at=now)
    session.add(officer)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="officer",
                 object_id=officer.id, detail={"code": code, "unit_id": unit_id,
                                               "role": role.value}, at=now)
    session.commit()
    return officer


def list_officers(session: Session, *, unit_id: int | None = None) -> list[Officer]:
    query = select(Officer).order_by(Officer.name)
    if unit_id is not None:
        query = query.where(Officer.unit_id.in_(descendant_unit_ids(session,
                                                                    unit_ids=[unit_id])))
    return list(session.scalars(query))


def get_officer(session: Session, *, officer_id: int) -> Officer:
    officer = session.get(Officer, officer_id)
    if officer is None:
        raise NotFound(f"officer {officer_id} does not exist")
    return officer


def by_code(session: Session, *, code: str) -> Officer:
    officer = session.scalar(select(Officer).where(Officer.code == code))
    if officer is None:
        raise NotFound(f"no officer with code {code!r}")
    return officer


def assign(session: Session, *, course_id: int, unit_id: int, role: OfficerRole | None,
           due_at: datetime | None, actor: Actor, now: datetime) -> Assignment:
    if session.get(Course, course_id) is None:
        raise UnknownReference(f"course {course_id} does not exist")
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    row = Assignment(course_id=course_id, unit_id=unit_id, role=role, due_at=due_at,
                     created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="assign", object_type="course",
                 object_id=course_id, detail={"unit_id": unit_id, "role": role,
                                              "due_at": due_at}, at=now)
    session.commit()
    return row


def list_assignments(session: Session, *, course_id: int | None = None) -> list[Assignment]:
    query = select(Assignment).order_by(Assignment.id)
    if course_id is not None:
        query = query.where(Assignment.course_id == course_id)
    return list(session.scalars(query))


def assignments_of(session: Session, *, officer: Officer) -> dict[int, datetime | None]:
    """Course id → the earliest due date among the assignments that reach the officer."""
    units = ancestor_unit_ids(session, unit_id=officer.unit_id)
    rows = session.scalars(select(Assignment).where(Assignment.unit_id.in_(units)))
    courses: dict[int, datetime | None] = {}
    for a in rows:
        if a.role is not None and a.role != officer.role:
            continue
        if a.course_id not in courses:
            courses[a.course_id] = a.due_at
        elif a.due_at is not None:
            held = courses[a.course_id]
            courses[a.course_id] = a.due_at if held is None else min(held, a.due_at)
    return courses


def assigned_officers(session: Session, *, course_id: int, unit_ids: set[int]
                      ) -> list[Officer]:
    """Officers of ``unit_ids`` whom an assignment of the course reaches."""
    found: dict[int, Officer] = {}
    for a in session.scalars(select(Assignment).where(Assignment.course_id == course_id)):
        reach = descendant_unit_ids(session, unit_ids=[a.unit_id]) & unit_ids
        if not reach:
            continue
        query = select(Officer).where(Officer.unit_id.in_(reach))
        if a.role is not None:
            query = query.where(Officer.role == a.role)
        for o in session.scalars(query):
            found[o.id] = o
    return sorted(found.values(), key=lambda o: o.id)
