""""Did you hear it?": mark a bulletin, pick the kiosks that ask, take their answers in.

Kiosks ask while now is within the survey's period, at every unit where a device had the
bulletin scheduled (a play row not cancelled). Manifests are built with the rule applied at
build time, so a new play row reaches its unit's kiosks with the next periodic rebuild; marking,
changing or stopping a survey rebuilds the kiosks concerned at once.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.permissions import Permission
from control_center.errors import Conflict, InvalidInput, NotFound
from control_center.feedback.hearing import question_choices
from control_center.feedback.survey_schemas import SurveyIn
from control_center.models import (
    Bulletin,
    BulletinSurvey,
    Device,
    PlayLog,
    PlayStatus,
    SurveyAnswer,
    SurveyQuestion,
    SurveyQuestionKind,
)
from control_center.services import workflow
from protocol.events import DeviceKind
from protocol.feedback import Survey, SurveyAnswered, SurveyKind
from protocol.feedback import SurveyQuestion as AskedQuestion

DEFAULT_DAYS = 7
CLOCK_SLACK = timedelta(minutes=10)  # a kiosk's clock may be this far off the center's


def editable_bulletin(session: Session, *, bulletin_id: int, actor: Actor) -> Bulletin:
    """The bulletin, if the actor may mark it: visible (404), its own subtree's and may
    schedule (403): marking chooses where kiosks ask, as scheduling chooses where it plays."""
    bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    actor.require(Permission.SCHEDULE)
    workflow.require_owner(actor, bulletin, doing=("hỏi người dân về", "survey"))
    return bulletin


def survey_of(session: Session, bulletin_id: int) -> BulletinSurvey | None:
    return session.scalar(select(BulletinSurvey).where(BulletinSurvey.bulletin_id == bulletin_id))


def set_survey(session: Session, *, bulletin_id: int, data: SurveyIn, actor: Actor,
               now: datetime) -> BulletinSurvey:
    """Mark (or change) the bulletin's survey; its kiosks' manifests are rebuilt on commit."""
    bulletin = editable_bulletin(session, bulletin_id=bulletin_id, actor=actor)
    if not bulletin.status.broadcastable:
        raise Conflict(f"bản tin {bulletin.id} chưa được duyệt: chỉ hỏi về bản tin đã duyệt / "
                       f"bulletin {bulletin.id} is {bulletin.status.value}: only an approved "
                       "bulletin can be surveyed")
    starts = data.starts_at or now
    ends = data.ends_at or starts + timedelta(days=data.days or DEFAULT_DAYS)
    if ends <= starts or ends <= now:
        raise InvalidInput("thời gian kết thúc phải sau thời gian bắt đầu và sau bây giờ / "
                           "'ends_at' must be after 'starts_at' and in the future")
    survey = survey_of(session, bulletin_id)
    wanted = [(q.text, q.kind, list(q.labels())) for q in data.questions]
    if survey is None:
        survey = BulletinSurvey(bulletin_id=bulletin_id, created_by=actor.name, created_at=now,
                                starts_at=starts, ends_at=ends)
        session.add(survey)
    else:
        survey.starts_at, survey.ends_at = starts, ends
    held = [(q.text, q.kind, list(question_choices(q))) for q in survey.questions]
    if held != wanted:
        _replace_questions(session, survey, wanted)
    manifests_changed(session, asking_kiosks(session, bulletin_id=bulletin_id))
    audit.record(session, actor=actor, action="survey_set", object_type="bulletin",
                 object_id=bulletin_id, at=now, detail={
                     "starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
                     "questions": [text for text, _, _ in wanted]})
    session.commit()
    return survey


def _replace_questions(session: Session, survey: BulletinSurvey,
                       wanted: list[tuple[str, SurveyQuestionKind, list[str]]]) -> None:
    ids = [q.id for q in survey.questions if q.id is not None]
    if ids and session.scalar(select(func.count()).select_from(SurveyAnswer)
                              .where(SurveyAnswer.question_id.in_(ids))):
        raise Conflict("đã có câu trả lời: chỉ đổi được thời gian, gửi lại đúng các câu hỏi cũ / "
                       "the questions already have answers: only the period can change (send "
                       "the same questions)")
    survey.questions.clear()
    session.flush()
    for position, (text, kind, labels) in enumerate(wanted, start=1):
        survey.questions.append(SurveyQuestion(
            position=position, text=text, kind=kind,
            choices=json.dumps(labels, ensure_ascii=False)))


def stop_survey(session: Session, *, bulletin_id: int, actor: Actor,
                now: datetime) -> BulletinSurvey:
    """Stop asking now (the answers stay counted); 404 when the bulletin has no survey."""
    editable_bulletin(session, bulletin_id=bulletin_id, actor=actor)
    survey = survey_of(session, bulletin_id)
    if survey is None:
        raise NotFound(f"bản tin {bulletin_id} không có câu hỏi nào / bulletin "
                       f"{bulletin_id} has no survey")
    if survey.ends_at > now:
        survey.ends_at = max(now, survey.starts_at)
    manifests_changed(session, asking_kiosks(session, bulletin_id=bulletin_id))
    audit.record(session, actor=actor, action="survey_stopped", object_type="bulletin",
                 object_id=bulletin_id, at=now, detail={"ends_at": survey.ends_at.isoformat()})
    session.commit()
    return survey


# -- where kiosks ask ---------------------------------------------------------------------------

def played_units(session: Session, *, bulletin_ids: Collection[int]) -> dict[int, set[int]]:
    """For each bulletin: the units of the devices that had it scheduled (not cancelled)."""
    found: dict[int, set[int]] = {}
    if not bulletin_ids:
        return found
    for bulletin_id, unit_id in session.execute(
        select(PlayLog.bulletin_id, Device.unit_id).distinct()
        .join(Device, Device.id == PlayLog.device_id)
        .where(PlayLog.bulletin_id.in_(list(bulletin_ids)),
               PlayLog.status != PlayStatus.CANCELLED)
    ):
        if bulletin_id is not None:
            found.setdefault(bulletin_id, set()).add(unit_id)
    return found


def asking_kiosks(session: Session, *, bulletin_id: int) -> set[str]:
    """The kiosks of the units where the bulletin was scheduled."""
    units = played_units(session, bulletin_ids=[bulletin_id]).get(bulletin_id, set())
    return set(session.scalars(select(Device.id).where(
        Device.kind == DeviceKind.KIOSK, Device.unit_id.in_(units)))) if units else set()


def kiosk_surveys(session: Session, *, kiosks: Mapping[str, int],
                  now: datetime) -> dict[str, tuple[Survey, ...]]:
    """For each kiosk (device id -> unit id) asking anything now: the surveys it asks."""
    rows = session.execute(
        select(BulletinSurvey, Bulletin.title).join(Bulletin, Bulletin.id ==
                                                    BulletinSurvey.bulletin_id)
        .where(BulletinSurvey.starts_at <= now, BulletinSurvey.ends_at > now)
        .order_by(BulletinSurvey.bulletin_id)
    ).all()
    if not rows or not kiosks:
        return {}
    units = played_units(session, bulletin_ids=[s.bulletin_id for s, _ in rows])
    by_unit: dict[int, list[Survey]] = {}
    for survey, title in rows:
        asked = Survey(bulletin_id=survey.bulletin_id, title=title[:500], ends_at=survey.ends_at,
                       questions=tuple(AskedQuestion(
                           question_id=q.id, text=q.text, kind=SurveyKind(q.kind.value),
                           choices=question_choices(q)) for q in survey.questions))
        for unit_id in units.get(survey.bulletin_id, ()):
            by_unit.setdefault(unit_id, []).append(asked)
    return {device_id: tuple(by_unit[unit]) for device_id, unit in kiosks.items()
            if unit in by_unit}


# -- answers ------------------------------------------------------------------------------------

def record_answer(session: Session, *, event: SurveyAnswered, device: Device,
                  now: datetime) -> str | None:
    """Count a kiosk's answer (the caller already de-duplicated it by event id). Returns None
    when counted, else why it was dropped (not a kiosk, unknown or closed question, a choice
    out of range)."""
    if device.kind != DeviceKind.KIOSK:
        return "not_a_kiosk"
    question = session.get(SurveyQuestion, event.question_id)
    if question is None:
        return "unknown_question"
    survey = session.get(BulletinSurvey, question.survey_id)
    if survey is None or not (survey.starts_at - CLOCK_SLACK <= event.at
                              <= survey.ends_at + CLOCK_SLACK):
        return "closed_question"
    if event.choice >= len(question_choices(question)):
        return "choice_out_of_range"
    session.add(SurveyAnswer(
        event_id=event.event_id, question_id=question.id, device_id=device.id,
        unit_id=device.unit_id, choice=event.choice, channel=event.channel.value,
        answered_at=event.at, received_at=now))
    return None
