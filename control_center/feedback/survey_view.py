"""A bulletin's survey as the API and the console show it: questions, period, counts per unit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.errors import NotFound
from control_center.feedback.hearing import question_choices, survey_counts
from control_center.feedback.survey_schemas import QuestionOut, SurveyOut, UnitCount
from control_center.feedback.surveys import played_units, survey_of
from control_center.models import AdminUnit
from control_center.services import workflow


def survey_view(session: Session, *, bulletin_id: int, actor: Actor,
                now: datetime) -> SurveyOut | None:
    """The bulletin's survey with its counts in the actor's subtree (None: not marked); 404
    for a bulletin the actor cannot see."""
    workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    survey = survey_of(session, bulletin_id)
    if survey is None:
        return None
    questions = [QuestionOut(id=q.id, position=q.position, text=q.text, kind=q.kind,
                             choices=list(question_choices(q))) for q in survey.questions]
    counted = survey_counts(session, question_ids=[q.id for q in questions],
                            unit_ids=actor.scope)
    asking = played_units(session, bulletin_ids=[bulletin_id]).get(bulletin_id, set())
    asking = {u for u in asking if actor.covers(u)}
    unit_ids = asking | {unit_id for unit_id, _, _ in counted}
    names = {unit_id: name for unit_id, name in session.execute(
        select(AdminUnit.id, AdminUnit.name).where(AdminUnit.id.in_(unit_ids)))}
    return SurveyOut(
        bulletin_id=bulletin_id, starts_at=survey.starts_at, ends_at=survey.ends_at,
        asking=survey.starts_at <= now < survey.ends_at, created_by=survey.created_by,
        created_at=survey.created_at, questions=questions, asking_unit_ids=sorted(asking),
        counts=[UnitCount(unit_id=unit_id, unit_name=names.get(unit_id, ""),
                          question_id=question_id, counts=list(counts), total=sum(counts))
                for unit_id, question_id, counts in counted])


def require_view(session: Session, *, bulletin_id: int, actor: Actor,
                 now: datetime) -> SurveyOut:
    """As :func:`survey_view`, 404 when the bulletin has no survey."""
    view = survey_view(session, bulletin_id=bulletin_id, actor=actor, now=now)
    if view is None:
        raise NotFound(f"bản tin {bulletin_id} chưa có câu hỏi «Bạn có nghe thấy không?» / "
                       f"bulletin {bulletin_id} has no survey (PUT one first)")
    return view
