"""Citizen feedback for officials: the queue of their unit's subtree and the workflow steps.

Scope: a signed-in feedback officer acts on their own unit's subtree; with the system API
token the request names the unit in the ``X-Unit-Id`` header. Submissions outside that
subtree answer 404 (docs/feedback.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.errors import InvalidInput
from control_center.feedback import categories, routing, service
from control_center.feedback.announcements import announce_answer
from control_center.feedback.schemas import (
    AnnouncementPublic,
    AnswerIn,
    AssignIn,
    CategoryPublic,
    CategoryUpsert,
    FeedbackAnswered,
    FeedbackPublic,
    NoteIn,
    NotePublic,
    RouteIn,
    TriageIn,
)
from control_center.models import FeedbackStatus
from control_center.schemas.common import ItemList

router = APIRouter(prefix="/feedback", tags=["feedback"])


def unit_scope(
    actor: ActorDep,
    x_unit_id: Annotated[int | None, Header(description="the unit (system token only)")] = None,
) -> int:
    """The user's own unit; the system token must name one in ``X-Unit-Id``."""
    if actor.unit_id is not None:
        return actor.unit_id
    if x_unit_id is None:
        raise InvalidInput("the system token must name the unit in the X-Unit-Id header")
    return x_unit_id


ScopeDep = Annotated[int, Depends(unit_scope)]


@router.get("/categories", response_model=ItemList[CategoryPublic])
def list_categories(session: SessionDep, all: bool = False) -> ItemList[CategoryPublic]:
    rows = categories.list_categories(session, active_only=not all)
    return ItemList.of([CategoryPublic.model_validate(r) for r in rows])


@router.put("/categories", response_model=CategoryPublic)
def upsert_category(data: CategoryUpsert, session: SessionDep, actor: ActorDep,
                    now: NowDep) -> CategoryPublic:
    """Create or change a category of a unit of the caller's subtree (at most
    ``categories.MAX_PER_UNIT`` per unit); the kiosks offering it are republished."""
    row = categories.upsert_category(session, code=data.code, name_vi=data.name_vi,
                                     name_en=data.name_en, due_days=data.due_days,
                                     active=data.active, unit_id=data.unit_id, actor=actor,
                                     now=now)
    return CategoryPublic.model_validate(row)


@router.get("", response_model=ItemList[FeedbackPublic])
def list_feedback(session: SessionDep, scope: ScopeDep, now: NowDep,
                  status: FeedbackStatus | None = None, include_flagged: bool = False,
                  overdue: bool = False) -> ItemList[FeedbackPublic]:
    rows = service.list_feedback(session, scope_unit_id=scope, status=status,
                                 include_flagged=include_flagged,
                                 overdue_at=now if overdue else None)
    return ItemList.of([FeedbackPublic.model_validate(r) for r in rows])


@router.get("/{feedback_id}", response_model=FeedbackPublic)
def get_feedback(feedback_id: int, session: SessionDep, scope: ScopeDep) -> FeedbackPublic:
    row = service.get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope)
    return FeedbackPublic.model_validate(row)


@router.post("/{feedback_id}/triage", response_model=FeedbackPublic)
def triage(feedback_id: int, data: TriageIn, session: SessionDep, scope: ScopeDep,
           actor: ActorDep, now: NowDep) -> FeedbackPublic:
    row = service.triage(session, feedback_id=feedback_id, scope_unit_id=scope,
                         category=data.category, unit_id=data.unit_id, actor=actor, now=now,
                         priority=data.priority)
    return FeedbackPublic.model_validate(row)


@router.post("/{feedback_id}/route", response_model=FeedbackPublic)
def route(feedback_id: int, data: RouteIn, session: SessionDep, scope: ScopeDep,
          actor: ActorDep, now: NowDep) -> FeedbackPublic:
    """Pass it to a unit of the caller's subtree, or up to a unit above its unit (escalation);
    the receiving unit's officers see it in their queue."""
    row = routing.route(session, feedback_id=feedback_id, scope_unit_id=scope,
                        unit_id=data.unit_id, note=data.note or None, actor=actor, now=now)
    return FeedbackPublic.model_validate(row)


@router.post("/{feedback_id}/assign", response_model=FeedbackPublic)
def assign(feedback_id: int, data: AssignIn, session: SessionDep, scope: ScopeDep,
           actor: ActorDep, now: NowDep) -> FeedbackPublic:
    row = service.assign(session, feedback_id=feedback_id, scope_unit_id=scope,
                         assignee=data.assignee, actor=actor, now=now)
    return FeedbackPublic.model_validate(row)


@router.post("/{feedback_id}/notes", response_model=NotePublic, status_code=201)
def add_note(feedback_id: int, data: NoteIn, session: SessionDep, scope: ScopeDep,
             actor: ActorDep, now: NowDep) -> NotePublic:
    note = service.add_note(session, feedback_id=feedback_id, scope_unit_id=scope,
                            text=data.text, author=data.author, actor=actor, now=now)
    return NotePublic.model_validate(note)


@router.post("/{feedback_id}/answer", response_model=FeedbackAnswered)
def answer(feedback_id: int, data: AnswerIn, session: SessionDep, center: CenterDep,
           scope: ScopeDep, actor: ActorDep, now: NowDep) -> FeedbackAnswered:
    """Answer; the originating kiosk's manifest is republished so the answer shows there.
    With ``announce``, also a text bulletin for the subtree's kiosks, on the air at once for
    a caller who may approve, else waiting for an approver (``announcement.state``)."""
    row = service.answer(session, feedback_id=feedback_id, scope_unit_id=scope,
                         text=data.text, answered_by=data.answered_by, actor=actor, now=now)
    out = FeedbackAnswered.model_validate(row)
    if data.announce:
        made = announce_answer(session, feedback=row, actor=actor, now=now,
                               default_tz=center.settings.timezone)
        if made is not None:
            out.announcement = AnnouncementPublic(bulletin_id=made.bulletin_id,
                                                  state=made.state, kiosks=list(made.kiosks))
    return out


@router.post("/{feedback_id}/close", response_model=FeedbackPublic)
def close(feedback_id: int, session: SessionDep, scope: ScopeDep, actor: ActorDep,
          now: NowDep) -> FeedbackPublic:
    row = service.close(session, feedback_id=feedback_id, scope_unit_id=scope, actor=actor,
                        now=now)
    return FeedbackPublic.model_validate(row)
