"""Learning records as xAPI 1.0.3 statements (https://github.com/adlnet/xAPI-Spec).

- a submitted attempt → verb ``passed`` or ``failed`` with ``result.score`` (scaled, raw,
  min, max), ``success`` and ``completion``; the object is the quiz activity, its parent the
  course;
- a lesson opened → verb ``experienced`` on the lesson activity.

The actor is an ``account`` on the center (``homePage`` = its public URL, ``name`` = the
officer code): no e-mail addresses leave the center. Statement ids are UUID 5 of the record's
IRI, so exporting twice gives the same ids (a learning record store de-duplicates them).

The export is for training administrators, over their own subtree (404 for a unit elsewhere).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.models import Attempt, Course, Lesson, LessonView, Officer, Quiz

VERBS = {
    "passed": ("http://adlnet.gov/expapi/verbs/passed", "đã đạt", "passed"),
    "failed": ("http://adlnet.gov/expapi/verbs/failed", "chưa đạt", "failed"),
    "experienced": ("http://adlnet.gov/expapi/verbs/experienced", "đã học", "experienced"),
}
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
LESSON = "http://adlnet.gov/expapi/activities/lesson"
COURSE = "http://adlnet.gov/expapi/activities/course"
Statement = dict[str, Any]


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _verb(name: str) -> dict[str, Any]:
    iri, vi, en = VERBS[name]
    return {"id": iri, "display": {"vi-VN": vi, "en-US": en}}


def _actor(officer: Officer, base: str) -> dict[str, Any]:
    return {"objectType": "Agent", "name": officer.name,
            "account": {"homePage": base, "name": officer.code}}


def _activity(iri: str, name: str, kind: str) -> dict[str, Any]:
    return {"objectType": "Activity", "id": iri,
            "definition": {"name": {"vi-VN": name}, "type": kind}}


def course_iri(base: str, course: Course) -> str:
    return f"{base}/training/courses/{course.code}"


def _context(base: str, course: Course) -> dict[str, Any]:
    return {"platform": "Thông tin cơ sở", "language": "vi-VN",
            "contextActivities": {"parent": [_activity(course_iri(base, course), course.title,
                                                       COURSE)]}}


def attempt_statement(attempt: Attempt, quiz: Quiz, course: Course, officer: Officer,
                      base: str) -> Statement:
    assert attempt.submitted_at is not None and attempt.score is not None
    iri = f"{course_iri(base, course)}/quizzes/{quiz.slug}"
    duration = (attempt.submitted_at - attempt.started_at).total_seconds()
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{iri}/attempts/{attempt.id}")),
        "actor": _actor(officer, base),
        "verb": _verb("passed" if attempt.passed else "failed"),
        "object": _activity(iri, quiz.title, ASSESSMENT),
        "result": {
            "score": {"scaled": round(attempt.score / 100.0, 4), "raw": attempt.correct or 0,
                      "min": 0, "max": attempt.total},
            "success": bool(attempt.passed), "completion": True,
            "duration": f"PT{max(duration, 0.0):.2f}S",
        },
        "context": _context(base, course),
        "timestamp": _ts(attempt.submitted_at),
        "version": "1.0.3",
    }


def lesson_statement(view: LessonView, lesson: Lesson, course: Course, officer: Officer,
                     base: str) -> Statement:
    iri = f"{course_iri(base, course)}/lessons/{lesson.slug}"
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{iri}/views/{officer.code}")),
        "actor": _actor(officer, base),
        "verb": _verb("experienced"),
        "object": _activity(iri, lesson.title, LESSON),
        "context": _context(base, course),
        "timestamp": _ts(view.first_at),
        "version": "1.0.3",
    }


def export_statements(session: Session, *, base_url: str, actor: Actor,
                      unit_id: int | None = None, since: datetime | None = None
                      ) -> list[Statement]:
    """Statements for the officers of ``unit_id``'s subtree (the actor's own unit when None;
    everyone for the system token)."""
    actor.require(Permission.TRAINING_ADMIN)
    unit_id = actor.unit_or_own(unit_id)
    base = base_url.rstrip("/")
    officers = select(Officer)
    if unit_id is not None:
        officers = officers.where(Officer.unit_id.in_(
            descendant_unit_ids(session, unit_ids=[unit_id])))
    by_id = {o.id: o for o in session.scalars(officers)}
    out: list[tuple[datetime, Statement]] = []
    attempts = select(Attempt, Quiz, Course).join(Quiz, Attempt.quiz_id == Quiz.id).join(
        Course, Quiz.course_id == Course.id).where(Attempt.submitted_at.is_not(None),
                                                   Attempt.officer_id.in_(list(by_id)))
    if since is not None:
        attempts = attempts.where(Attempt.submitted_at >= since)
    for attempt, quiz, course in session.execute(attempts):
        assert attempt.submitted_at is not None
        out.append((attempt.submitted_at,
                    attempt_statement(attempt, quiz, course, by_id[attempt.officer_id], base)))
    views = select(LessonView, Lesson, Course).join(Lesson, LessonView.lesson_id == Lesson.id
                                                    ).join(Course, Lesson.course_id == Course.id
                                                           ).where(
        LessonView.officer_id.in_(list(by_id)))
    if since is not None:
        views = views.where(LessonView.first_at >= since)
    for view, lesson, course in session.execute(views):
        out.append((view.first_at,
                    lesson_statement(view, lesson, course, by_id[view.officer_id], base)))
    out.sort(key=lambda pair: pair[0])
    return [s for _, s in out]
