"""Training API: officers, courses (zip import/export), assignments, quiz attempts, unit
reports (JSON and CSV) and the xAPI export.

A signed-in user acts as their own officer (``OfficerDep``); the system API token is no
officer. Administering training (importing, exporting and publishing courses, officers,
assignments, kiosk attempts, reports, xAPI) needs ``Permission.TRAINING_ADMIN`` and stays
inside the caller's subtree; the services check both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.core.bundles import bundle_url
from control_center.errors import PayloadTooLarge
from control_center.models import Attempt, Officer, Quiz
from control_center.schemas.common import ItemList
from control_center.training import courses, kiosk, officers, quizzes, reports, xapi
from control_center.training.schemas import (
    AnswersIn,
    AssignmentCreate,
    AssignmentPublic,
    AttemptPublic,
    AttemptResult,
    AttemptStarted,
    ChoiceOut,
    CoursePublic,
    ImportResult,
    KioskAttemptPublic,
    KioskPublicationPublic,
    KioskPublish,
    KioskPublishResult,
    MarkedOut,
    OfficerCreate,
    OfficerPublic,
    QuestionOut,
    ReportRowOut,
)

router = APIRouter(prefix="/training", tags=["training"])
MAX_COURSE_ZIP = 200 * 1024 * 1024


def current_officer(session: SessionDep, actor: ActorDep) -> Officer:
    """The signed-in user's own officer profile (403 for the system token or a user without
    one, saying what to do)."""
    return officers.of_user(session, actor=actor)


OfficerDep = Annotated[Officer, Depends(current_officer)]


@router.post("/officers", response_model=OfficerPublic, status_code=201)
def create_officer(data: OfficerCreate, session: SessionDep, actor: ActorDep,
                   now: NowDep) -> OfficerPublic:
    """The officer profile of a user of your subtree (training administrators)."""
    row = officers.create_officer(session, user_id=data.user_id, code=data.code,
                                  role=data.role, actor=actor, now=now)
    return OfficerPublic.model_validate(row)


@router.get("/officers", response_model=ItemList[OfficerPublic])
def list_officers(session: SessionDep, actor: ActorDep, unit_id: int | None = None
                  ) -> ItemList[OfficerPublic]:
    rows = officers.list_officers(session, actor=actor, unit_id=unit_id)
    return ItemList.of([OfficerPublic.model_validate(o) for o in rows])


@router.post("/courses/import", response_model=ImportResult)
async def import_course(file: UploadFile, center: CenterDep, actor: ActorDep, now: NowDep,
                        response: Response) -> ImportResult:
    """A zip of a course folder (docs/training.md); 201 when new or changed, 200 if same;
    403 to replace a course of a unit outside your subtree."""
    data = await file.read(MAX_COURSE_ZIP + 1)
    if len(data) > MAX_COURSE_ZIP:
        raise PayloadTooLarge(f"course zip over {MAX_COURSE_ZIP} bytes")

    def run() -> ImportResult:
        with center.sessions() as session:
            course, changed = courses.import_zip(session, data=data, store_dir=_store(center),
                                                 actor=actor, now=now)
            result = ImportResult(changed=changed, course=CoursePublic.model_validate(course))
            if changed:  # kiosks carrying this course get the new bundle
                kiosk.refresh_course(session, course=course, store_dir=_store(center),
                                     media_dir=center.settings.media_dir, now=now)
                session.commit()
            return result

    result = await run_in_threadpool(run)
    response.status_code = 201 if result.changed else 200
    return result


def _store(center: CenterDep) -> Path:
    return center.settings.data_dir / "training"


@router.get("/courses", response_model=ItemList[CoursePublic])
def list_courses(session: SessionDep) -> ItemList[CoursePublic]:
    return ItemList.of([CoursePublic.model_validate(c) for c in courses.list_courses(session)])


@router.get("/courses/{course_id}", response_model=CoursePublic)
def get_course(course_id: int, session: SessionDep) -> CoursePublic:
    return CoursePublic.model_validate(courses.get_course(session, course_id=course_id))


@router.get("/courses/{course_id}/export")
def export_course(course_id: int, session: SessionDep, center: CenterDep) -> Response:
    """The course folder as a zip, answer keys included: training administrators only (the
    route table's gate)."""
    course = courses.get_course(session, course_id=course_id)
    body = courses.export_zip(course, store_dir=_store(center))
    name = f"{course.code}-v{course.version}.zip"
    return Response(body, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/courses/{course_id}/kiosk", response_model=KioskPublishResult,
             status_code=201)
def publish_to_kiosks(course_id: int, data: KioskPublish, session: SessionDep,
                      center: CenterDep, actor: ActorDep, now: NowDep) -> KioskPublishResult:
    """Pack the course as a kiosk bundle and list it in the manifests of the kiosks of each
    unit's subtree (docs/training.md, "Offline modules on kiosks")."""
    rows = kiosk.publish(session, course_id=course_id, unit_ids=data.unit_ids,
                         public=data.public, store_dir=_store(center),
                         media_dir=center.settings.media_dir, actor=actor, now=now)
    result = KioskPublishResult(
        publications=[KioskPublicationPublic.model_validate(r) for r in rows],
        bundle_url=bundle_url(center.settings.public_base_url, rows[0].bundle_sha256),
        kiosks=kiosk.kiosks_under(session, unit_ids=data.unit_ids))
    return result


@router.get("/kiosk-attempts", response_model=ItemList[KioskAttemptPublic])
def kiosk_attempts(session: SessionDep, actor: ActorDep, course_id: int | None = None,
                   device_id: str | None = None) -> ItemList[KioskAttemptPublic]:
    """Attempts made at the kiosks of your subtree, newest first (anonymous ones included)."""
    rows = kiosk.list_kiosk_attempts(session, actor=actor, course_id=course_id,
                                     device_id=device_id)
    return ItemList.of([KioskAttemptPublic.model_validate(r) for r in rows])


@router.post("/assignments", response_model=AssignmentPublic, status_code=201)
def assign(data: AssignmentCreate, session: SessionDep, actor: ActorDep,
           now: NowDep) -> AssignmentPublic:
    row = officers.assign(session, course_id=data.course_id, unit_id=data.unit_id,
                          role=data.role, due_at=data.due_at, actor=actor, now=now)
    return AssignmentPublic.model_validate(row)


@router.get("/assignments", response_model=ItemList[AssignmentPublic])
def list_assignments(session: SessionDep, actor: ActorDep, course_id: int | None = None
                     ) -> ItemList[AssignmentPublic]:
    rows = officers.list_assignments(session, actor=actor, course_id=course_id)
    return ItemList.of([AssignmentPublic.model_validate(a) for a in rows])


def _started(quiz: Quiz, attempt: Attempt) -> AttemptStarted:
    shown = quizzes.shown_questions(quiz, attempt)
    return AttemptStarted(
        **AttemptPublic.model_validate(attempt).model_dump(),
        questions=[QuestionOut(key=q.key, kind=q.kind, text=q.text,
                               choices=[ChoiceOut(id=c, text=t) for c, t in q.choices])
                   for q in shown])


@router.post("/quizzes/{quiz_id}/attempts", response_model=AttemptStarted, status_code=201)
def start_attempt(quiz_id: int, session: SessionDep, officer: OfficerDep,
                  now: NowDep) -> AttemptStarted:
    """The officer's open attempt, or a new one (409 past the attempt limit or once passed);
    questions and choices come in the attempt's own shuffled order, without the answers."""
    quiz = quizzes.get_quiz(session, quiz_id=quiz_id)
    attempt = quizzes.start_attempt(session, quiz=quiz, officer=officer, now=now)
    return _started(quiz, attempt)


@router.get("/quizzes/{quiz_id}/attempts", response_model=ItemList[AttemptPublic])
def my_attempts(quiz_id: int, session: SessionDep, officer: OfficerDep
                ) -> ItemList[AttemptPublic]:
    rows = quizzes.attempts_of(session, quiz_id=quiz_id, officer_id=officer.id)
    return ItemList.of([AttemptPublic.model_validate(a) for a in rows])


@router.post("/attempts/{attempt_id}/submit", response_model=AttemptResult)
def submit(attempt_id: int, data: AnswersIn, session: SessionDep, officer: OfficerDep,
           now: NowDep) -> AttemptResult:
    attempt = quizzes.get_attempt(session, attempt_id=attempt_id, officer=officer)
    marked = quizzes.submit(session, attempt=attempt, answers=data.answers, now=now)
    return AttemptResult(
        **AttemptPublic.model_validate(attempt).model_dump(),
        marked=[MarkedOut(key=m.key, chosen=m.chosen, answer=m.answer, correct=m.correct,
                          explanation=m.explanation) for m in marked])


@router.get("/reports", response_model=ItemList[ReportRowOut])
def unit_report(unit_id: int, session: SessionDep, actor: ActorDep) -> ItemList[ReportRowOut]:
    rows = reports.unit_report(session, unit_id=unit_id, actor=actor)
    return ItemList.of([ReportRowOut.model_validate(r) for r in rows])


@router.get("/reports.csv")
def unit_report_csv(unit_id: int, session: SessionDep, actor: ActorDep) -> Response:
    body = reports.report_csv(reports.unit_report(session, unit_id=unit_id, actor=actor))
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="dao-tao-{unit_id}.csv"'})


@router.get("/xapi/statements")
def xapi_statements(session: SessionDep, center: CenterDep, actor: ActorDep,
                    unit_id: int | None = None, since: AwareDatetime | None = None
                    ) -> dict[str, Any]:
    """xAPI 1.0.3 statements (a StatementResult: ``{"statements": [...], "more": ""}``) of the
    officers of ``unit_id``'s subtree (your own unit's by default)."""
    statements = xapi.export_statements(session, base_url=center.settings.public_base_url,
                                        actor=actor, unit_id=unit_id, since=since)
    return {"statements": statements, "more": ""}
