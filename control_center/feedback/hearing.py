""""Did you hear it?" answers counted per bulletin question and unit (read side)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from control_center.models import BulletinSurvey, SurveyAnswer, SurveyQuestion


@dataclass(frozen=True, slots=True)
class HeardCount:
    """One bulletin's question in one unit."""

    bulletin_id: int
    question_id: int
    question: str
    unit_id: int
    choices: tuple[str, ...]
    counts: tuple[int, ...]  # per choice, same order


def question_choices(question: SurveyQuestion) -> tuple[str, ...]:
    """The question's choice labels (stored as a JSON list)."""
    return tuple(str(label) for label in json.loads(question.choices))


def heard_counts(
    session: Session, *, unit_ids: Collection[int], start: datetime, end: datetime
) -> list[HeardCount]:
    """Answers given in [start, end) at kiosks of these units (unit_id of the answer).

    Sorted by bulletin, question position, then unit; units without answers are left out.
    """
    if not unit_ids:
        return []
    tallies = _tallies(session, SurveyAnswer.unit_id.in_(list(unit_ids)),
                       SurveyAnswer.answered_at >= start, SurveyAnswer.answered_at < end)
    questions = _questions(session, {question_id for question_id, _ in tallies})
    result = []
    for (question_id, unit_id), counts in tallies.items():
        question, bulletin_id = questions[question_id]
        result.append(HeardCount(
            bulletin_id=bulletin_id, question_id=question_id, question=question.text,
            unit_id=unit_id, choices=question_choices(question), counts=counts))
    result.sort(key=lambda c: (c.bulletin_id, questions[c.question_id][0].position, c.unit_id))
    return result


def survey_counts(
    session: Session, *, question_ids: Collection[int], unit_ids: Collection[int] | None
) -> list[tuple[int, int, tuple[int, ...]]]:
    """(unit id, question id, counts per choice) for these questions, at any time, in these
    units (None: every unit); sorted by unit, then question."""
    if not question_ids:
        return []
    conditions = [SurveyAnswer.question_id.in_(list(question_ids))]
    if unit_ids is not None:
        conditions.append(SurveyAnswer.unit_id.in_(list(unit_ids)))
    tallies = _tallies(session, *conditions)
    return sorted((unit_id, question_id, counts)
                  for (question_id, unit_id), counts in tallies.items())


def _tallies(session: Session, *conditions: ColumnElement[bool]
             ) -> dict[tuple[int, int], tuple[int, ...]]:
    """(question id, unit id) -> answers per choice, in the question's order."""
    found: dict[tuple[int, int], dict[int, int]] = {}
    for question_id, unit_id, choice, count in session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.unit_id, SurveyAnswer.choice, func.count())
        .where(*conditions)
        .group_by(SurveyAnswer.question_id, SurveyAnswer.unit_id, SurveyAnswer.choice)
    ):
        found.setdefault((question_id, unit_id), {})[choice] = count
    sizes = {q.id: len(question_choices(q)) for q, _ in
             _questions(session, {question_id for question_id, _ in found}).values()}
    return {key: tuple(by_choice.get(i, 0) for i in range(sizes[key[0]]))
            for key, by_choice in found.items()}


def _questions(
    session: Session, ids: Collection[int]
) -> dict[int, tuple[SurveyQuestion, int]]:
    if not ids:
        return {}
    rows = session.execute(
        select(SurveyQuestion, BulletinSurvey.bulletin_id)
        .join(BulletinSurvey, BulletinSurvey.id == SurveyQuestion.survey_id)
        .where(SurveyQuestion.id.in_(list(ids)))
    ).all()
    return {question.id: (question, bulletin_id) for question, bulletin_id in rows}
