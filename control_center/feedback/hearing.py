""""Did you hear it?" answers counted per bulletin question and unit (read side)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
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
    rows = session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.unit_id, SurveyAnswer.choice,
               func.count())
        .where(SurveyAnswer.unit_id.in_(list(unit_ids)),
               SurveyAnswer.answered_at >= start, SurveyAnswer.answered_at < end)
        .group_by(SurveyAnswer.question_id, SurveyAnswer.unit_id, SurveyAnswer.choice)
    ).all()
    tallies: dict[tuple[int, int], dict[int, int]] = {}
    for question_id, unit_id, choice, count in rows:
        tallies.setdefault((question_id, unit_id), {})[choice] = count
    questions = _questions(session, {question_id for question_id, _ in tallies})
    result = []
    for (question_id, unit_id), by_choice in tallies.items():
        question, bulletin_id = questions[question_id]
        choices = question_choices(question)
        result.append(HeardCount(
            bulletin_id=bulletin_id, question_id=question_id, question=question.text,
            unit_id=unit_id, choices=choices,
            counts=tuple(by_choice.get(index, 0) for index in range(len(choices))),
        ))
    result.sort(key=lambda c: (c.bulletin_id, questions[c.question_id][0].position, c.unit_id))
    return result


def _questions(
    session: Session, ids: Collection[int]
) -> dict[int, tuple[SurveyQuestion, int]]:
    rows = session.execute(
        select(SurveyQuestion, BulletinSurvey.bulletin_id)
        .join(BulletinSurvey, BulletinSurvey.id == SurveyQuestion.survey_id)
        .where(SurveyQuestion.id.in_(list(ids)))
    ).all()
    return {question.id: (question, bulletin_id) for question, bulletin_id in rows}
