""""Did you hear it?": mark an approved bulletin so the kiosks where it played ask about it.

PUT marks (or changes) the survey, GET shows it with its answers counted per unit of the
caller's subtree, DELETE stops asking (the answers stay counted).
"""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, NowDep, SessionDep
from control_center.feedback import surveys
from control_center.feedback.survey_schemas import SurveyIn, SurveyOut
from control_center.feedback.survey_view import require_view

router = APIRouter(prefix="/bulletins", tags=["bulletins"])


@router.put("/{bulletin_id}/survey", response_model=SurveyOut)
def put_survey(
    bulletin_id: int, data: SurveyIn, session: SessionDep, actor: ActorDep, now: NowDep
) -> SurveyOut:
    """1-3 questions; the period starts now and lasts 7 days unless told otherwise."""
    surveys.set_survey(session, bulletin_id=bulletin_id, data=data, actor=actor, now=now)
    return require_view(session, bulletin_id=bulletin_id, actor=actor, now=now)


@router.get("/{bulletin_id}/survey", response_model=SurveyOut)
def get_survey(bulletin_id: int, session: SessionDep, actor: ActorDep, now: NowDep
               ) -> SurveyOut:
    return require_view(session, bulletin_id=bulletin_id, actor=actor, now=now)


@router.delete("/{bulletin_id}/survey", response_model=SurveyOut)
def delete_survey(bulletin_id: int, session: SessionDep, actor: ActorDep, now: NowDep
                  ) -> SurveyOut:
    """Stop asking now; the survey and its counts stay readable."""
    surveys.stop_survey(session, bulletin_id=bulletin_id, actor=actor, now=now)
    return require_view(session, bulletin_id=bulletin_id, actor=actor, now=now)
