"""Training of the units' officers: per course assignment that reaches an officer, whether the
officer completed the course and passed it (``training.reports.progress``, the rule of the
training reports), counted for the officer's unit. Progress as it stands at the report's
instant: the period does not bound it."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.effectiveness.figures import UnitFigures
from control_center.models import Assignment, Course
from control_center.training.officers import assigned_officers
from control_center.training.reports import progress


def add_training(session: Session, *, own: Mapping[int, UnitFigures]) -> None:
    """Add each unit's own officers' (officer, course) assignments to ``own``."""
    scope = set(own)
    course_ids = set(session.scalars(select(Assignment.course_id)))
    for course in session.scalars(select(Course).where(Course.id.in_(course_ids))):
        for officer in assigned_officers(session, course_id=course.id, unit_ids=scope):
            mark = progress(session, course=course, officer=officer)
            row = own[officer.unit_id]
            row.training_assigned += 1
            row.training_completed += int(mark.completed)
            row.training_passed += int(mark.passed)
