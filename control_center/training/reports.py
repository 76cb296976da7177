"""Unit reports: for each course assigned within a unit's subtree, how many officers were
assigned, started (opened a lesson or a quiz), completed (opened every lesson and submitted
every quiz), passed (passed every quiz) and their average score (the mean, over officers with
a submitted attempt, of their best score per quiz averaged over the course's quizzes).

Reports are for training administrators, on units of their own subtree (404 elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.csv_export import csv_text
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.errors import NotFound
from control_center.models import AdminUnit, Assignment, Attempt, Course, LessonView, Officer
from control_center.training.officers import assigned_officers


@dataclass(frozen=True, slots=True)
class ReportRow:
    course_id: int
    course_code: str
    course_title: str
    unit_id: int
    unit_name: str
    assigned: int
    started: int
    completed: int
    passed: int
    average_score: float | None


@dataclass(frozen=True, slots=True)
class OfficerProgress:
    started: bool
    completed: bool
    passed: bool
    score: float | None  # the mean of the best score per quiz, over submitted quizzes


def progress(session: Session, *, course: Course, officer: Officer) -> OfficerProgress:
    lesson_ids = {lesson.id for lesson in course.lessons}
    seen = set(session.scalars(select(LessonView.lesson_id).where(
        LessonView.officer_id == officer.id, LessonView.lesson_id.in_(lesson_ids))))
    quiz_ids = [q.id for q in course.quizzes]
    attempts = list(session.scalars(select(Attempt).where(
        Attempt.officer_id == officer.id, Attempt.quiz_id.in_(quiz_ids))))
    best: dict[int, float] = {}
    passed_quizzes: set[int] = set()
    for a in attempts:
        if a.score is not None:
            best[a.quiz_id] = max(best.get(a.quiz_id, 0.0), a.score)
        if a.passed:
            passed_quizzes.add(a.quiz_id)
    return OfficerProgress(
        started=bool(seen or attempts),
        completed=seen == lesson_ids and set(best) == set(quiz_ids),
        passed=bool(quiz_ids) and passed_quizzes == set(quiz_ids),
        score=round(sum(best.values()) / len(best), 2) if best else None,
    )


def _row(session: Session, course: Course, unit: AdminUnit, units: set[int]) -> ReportRow:
    officers = assigned_officers(session, course_id=course.id, unit_ids=units)
    marks = [progress(session, course=course, officer=o) for o in officers]
    scores = [m.score for m in marks if m.score is not None]
    return ReportRow(
        course_id=course.id, course_code=course.code, course_title=course.title,
        unit_id=unit.id, unit_name=unit.name, assigned=len(officers),
        started=sum(m.started for m in marks), completed=sum(m.completed for m in marks),
        passed=sum(m.passed for m in marks),
        average_score=round(sum(scores) / len(scores), 2) if scores else None)


def unit_report(session: Session, *, unit_id: int, actor: Actor) -> list[ReportRow]:
    """One row per course for the unit's subtree, then one per child unit's subtree."""
    actor.require(Permission.TRAINING_ADMIN)
    unit = session.get(AdminUnit, unit_id)
    actor.require_unit(unit_id, what=f"unit {unit_id}")
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    subtree = descendant_unit_ids(session, unit_ids=[unit_id])
    children = list(session.scalars(select(AdminUnit).where(AdminUnit.parent_id == unit_id)
                                    .order_by(AdminUnit.name)))
    course_ids = set(session.scalars(select(Assignment.course_id)))
    rows = []
    for course in session.scalars(select(Course).where(Course.id.in_(course_ids))
                                  .order_by(Course.title)):
        total = _row(session, course, unit, subtree)
        if total.assigned == 0:
            continue
        rows.append(total)
        for child in children:
            row = _row(session, course, child, descendant_unit_ids(session,
                                                                   unit_ids=[child.id]))
            if row.assigned:
                rows.append(row)
    return rows


CSV_HEADER = ["course_code", "course_title", "unit_id", "unit_name", "assigned", "started",
              "completed", "passed", "average_score"]


def report_csv(rows: list[ReportRow]) -> str:
    """Formula-safe CSV (see ``core.csv_export``)."""
    return csv_text(CSV_HEADER, ([r.course_code, r.course_title, r.unit_id, r.unit_name,
                                  r.assigned, r.started, r.completed, r.passed,
                                  "" if r.average_score is None else f"{r.average_score:.2f}"]
                                 for r in rows))
