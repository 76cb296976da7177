"""Officers (the training profile of a user account) and course assignments.

Creating an officer or an assignment, and listing them, is for training administrators
(``Permission.TRAINING_ADMIN``) and only inside their subtree; an officer acts as themself,
being the signed-in user (``of_user``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import ancestor_unit_ids, descendant_unit_ids
from control_center.errors import Conflict, Forbidden, UnknownReference
from control_center.models import AdminUnit, Assignment, Course, Officer, OfficerRole, User

NOT_AN_OFFICER = ("tài khoản của bạn chưa có hồ sơ học viên: hãy đề nghị quản trị đào tạo tạo "
                  "hồ sơ / your account has no officer profile: ask your training "
                  "administrator to create one")
SYSTEM_NOT_AN_OFFICER = ("token hệ thống không phải là cán bộ: hãy đăng nhập bằng tài khoản "
                         "của cán bộ / the system API token is not an officer: sign in as the "
                         "officer (POST /api/v1/auth/login) and use their session")


def create_officer(session: Session, *, user_id: int, code: str, role: OfficerRole,
                   actor: Actor, now: datetime) -> Officer:
    """The officer profile of a user of the actor's subtree (404 for a user outside it)."""
    actor.require(Permission.TRAINING_ADMIN)
    user = session.get(User, user_id)
    if user is None:
        raise UnknownReference(f"user {user_id} does not exist")
    actor.require_unit(user.unit_id, what=f"user {user_id}")
    if session.scalar(select(Officer.id).where(Officer.user_id == user_id)) is not None:
        raise Conflict(f"user {user.username!r} already has an officer profile")
    if session.scalar(select(Officer.id).where(Officer.code == code)) is not None:
        raise Conflict(f"officer code {code!r} is taken")
    officer = Officer(user_id=user_id, code=code, role=role, created_at=now)
    session.add(officer)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="officer",
                 object_id=officer.id, detail={"code": code, "user_id": user_id,
                                               "unit_id": user.unit_id, "role": role.value},
                 at=now)
    session.commit()
    session.refresh(officer)  # name and unit, read from the user
    return officer


def list_officers(session: Session, *, actor: Actor, unit_id: int | None = None
                  ) -> list[Officer]:
    """The officers of ``unit_id``'s subtree (the actor's own subtree when None)."""
    actor.require(Permission.TRAINING_ADMIN)
    query = select(Officer).order_by(Officer.name, Officer.id)
    if unit_id is not None:
        actor.require_unit(unit_id, what=f"unit {unit_id}")
        query = query.where(Officer.unit_id.in_(descendant_unit_ids(session,
                                                                    unit_ids=[unit_id])))
    elif actor.scope is not None:
        query = query.where(Officer.unit_id.in_(actor.scope))
    return list(session.scalars(query))


def of_user(session: Session, *, actor: Actor) -> Officer:
    """The signed-in user's own officer profile (403 saying what to do without one)."""
    if actor.user_id is None:
        raise Forbidden(SYSTEM_NOT_AN_OFFICER)
    officer = session.scalar(select(Officer).where(Officer.user_id == actor.user_id))
    if officer is None:
        raise Forbidden(NOT_AN_OFFICER)
    return officer


def assign(session: Session, *, course_id: int, unit_id: int, role: OfficerRole | None,
           due_at: datetime | None, actor: Actor, now: datetime) -> Assignment:
    """Assign a course to the officers of a unit of the actor's subtree (404 outside it)."""
    actor.require(Permission.TRAINING_ADMIN)
    if session.get(Course, course_id) is None:
        raise UnknownReference(f"course {course_id} does not exist")
    if session.get(AdminUnit, unit_id) is None:
        raise UnknownReference(f"unit {unit_id} does not exist")
    actor.require_unit(unit_id, what=f"unit {unit_id}")
    row = Assignment(course_id=course_id, unit_id=unit_id, role=role, due_at=due_at,
                     created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="assign", object_type="course",
                 object_id=course_id, detail={"unit_id": unit_id, "role": role,
                                              "due_at": due_at}, at=now)
    session.commit()
    return row


def list_assignments(session: Session, *, actor: Actor, course_id: int | None = None
                     ) -> list[Assignment]:
    """The assignments that reach the actor's subtree: made inside it or above its unit."""
    actor.require(Permission.TRAINING_ADMIN)
    query = select(Assignment).order_by(Assignment.id)
    if course_id is not None:
        query = query.where(Assignment.course_id == course_id)
    if actor.scope is not None:
        above = ancestor_unit_ids(session, unit_id=actor.unit_id) if actor.unit_id else []
        query = query.where(Assignment.unit_id.in_(actor.scope | set(above)))
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
