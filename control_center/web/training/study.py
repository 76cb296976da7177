"""Self-study pages of the signed-in officer: assigned courses with progress, lessons, quizzes
(taken as a plain HTML form), results with explanations; and the unit report with CSV for
training administrators (their own subtree only)."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select

from control_center.api.deps import CenterDep
from control_center.core.downloads import disposition
from control_center.errors import Conflict, NotFound
from control_center.models import AdminUnit, CourseMedia, Lesson, LessonView, MediaAsset
from control_center.training import courses, officers, quizzes, reports
from control_center.training.markdown import Resolver
from control_center.training.markdown import render as render_markdown
from control_center.web.shell import FORM_CSRF, ViewerDep, render
from control_center.web.training.common import PREFIX, OfficerDep, officer_of

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIBRARY_REF = re.compile(r"media:([0-9a-f]{64})")


@router.get("")
def home(center: CenterDep, viewer: ViewerDep, me: OfficerDep) -> Response:
    with center.read_sessions() as session:
        items = []
        for course_id, due_at in officers.assignments_of(session, officer=me).items():
            course = courses.get_course(session, course_id=course_id)
            items.append((course, due_at, reports.progress(session, course=course, officer=me)))
        items.sort(key=lambda t: (t[1] is None, t[1] or datetime.max, t[0].title))
        unit = session.get(AdminUnit, me.unit_id)
        return render(viewer, "training_home.html", me=me, unit=unit, items=items,
                      now=center.clock())


@router.get("/courses/{course_id}")
def course_page(center: CenterDep, me: OfficerDep, course_id: int) -> Response:
    with center.read_sessions() as session:
        course = courses.get_course(session, course_id=course_id)
        seen = set(session.scalars(select(LessonView.lesson_id).where(
            LessonView.officer_id == me.id)))
        results = {q.id: quizzes.attempts_of(session, quiz_id=q.id, officer_id=me.id)
                   for q in course.quizzes}
        return render(center, "training_course.html", me=me, course=course, seen=seen,
                      results=results)


def _resolver(media: dict[str, CourseMedia], assets: dict[str, MediaAsset]) -> Resolver:
    def resolve(ref: str) -> tuple[str, str] | None:
        if ref.startswith("media:") and ref[6:] in assets:
            sha, _size, mime, _ms = assets[ref[6:]].delivery_file()
            return f"/api/v1/media/{sha}", mime
        m = media.get(ref)
        return (f"{PREFIX}/media/{m.sha256}", m.mime) if m is not None else None

    return resolve


@router.get("/lessons/{lesson_id}")
def lesson_page(center: CenterDep, me: OfficerDep, lesson_id: int) -> Response:
    with center.sessions() as session:
        lesson = session.get(Lesson, lesson_id)
        if lesson is None:
            raise NotFound(f"lesson {lesson_id} does not exist")
        course = courses.get_course(session, course_id=lesson.course_id)
        media = {f"media/{m.name}": m for m in course.media}
        refs = set(LIBRARY_REF.findall(lesson.source))
        assets = {a.sha256: a for a in session.scalars(
            select(MediaAsset).where(MediaAsset.sha256.in_(refs)))}
        html = render_markdown(lesson.source, _resolver(media, assets))
        if session.get(LessonView, (me.id, lesson.id)) is None:
            session.add(LessonView(officer_id=me.id, lesson_id=lesson.id,
                                   first_at=center.clock()))
            session.commit()
        index = [x.id for x in course.lessons].index(lesson.id)
        following = course.lessons[index + 1] if index + 1 < len(course.lessons) else None
        return render(center, "training_lesson.html", me=me, course=course, lesson=lesson,
                      body=html, following=following)


@router.get("/media/{sha256}")
def course_media(center: CenterDep, _viewer: ViewerDep, sha256: str) -> Response:
    with center.read_sessions() as session:
        row = session.scalar(select(CourseMedia).where(CourseMedia.sha256 == sha256))
    if row is None:
        raise NotFound(f"no course media {sha256}")
    shown = disposition(row.sha256, row.mime)  # nosniff and sandbox: web.headers
    return FileResponse(center.settings.data_dir / "training" / row.sha256, media_type=row.mime,
                        filename=shown.filename, content_disposition_type=shown.kind,
                        headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.get("/quizzes/{quiz_id}")
def quiz_page(center: CenterDep, viewer: ViewerDep, me: OfficerDep, quiz_id: int) -> Response:
    with center.read_sessions() as session:
        quiz = quizzes.get_quiz(session, quiz_id=quiz_id)
        course = courses.get_course(session, course_id=quiz.course_id)
        history = quizzes.attempts_of(session, quiz_id=quiz.id, officer_id=me.id)
        open_ = next((a for a in history if a.submitted_at is None), None)
        shown = quizzes.shown_questions(quiz, open_) if open_ is not None else []
        return render(viewer, "training_quiz.html", me=me, quiz=quiz, course=course,
                      history=history, attempt=open_, shown=shown,
                      passed=any(a.passed for a in history),
                      left=quizzes.attempts_left(session, quiz=quiz, officer=me))


@router.post("/quizzes/{quiz_id}/start", dependencies=[FORM_CSRF])
def quiz_start(center: CenterDep, me: OfficerDep, quiz_id: int) -> Response:
    with center.sessions() as session:
        quiz = quizzes.get_quiz(session, quiz_id=quiz_id)
        with contextlib.suppress(Conflict):  # the quiz page says why (passed, no attempt left)
            quizzes.start_attempt(session, quiz=quiz, officer=me, now=center.clock())
    return RedirectResponse(f"{PREFIX}/quizzes/{quiz_id}", status_code=303)


@router.post("/attempts/{attempt_id}/submit", dependencies=[FORM_CSRF])
async def quiz_submit(
    request: Request, center: CenterDep, me: OfficerDep, attempt_id: int
) -> Response:
    form = await request.form()
    answers: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key.startswith("q_") and isinstance(value, str):
            answers.setdefault(key[2:], []).append(value)
    with center.sessions() as session:
        attempt = quizzes.get_attempt(session, attempt_id=attempt_id, officer=me)
        if attempt.submitted_at is None:
            quizzes.submit(session, attempt=attempt, answers=answers, now=center.clock())
    return RedirectResponse(f"{PREFIX}/attempts/{attempt_id}", status_code=303)


@router.get("/attempts/{attempt_id}")
def attempt_page(center: CenterDep, me: OfficerDep, attempt_id: int) -> Response:
    with center.read_sessions() as session:
        attempt = quizzes.get_attempt(session, attempt_id=attempt_id, officer=me)
        quiz = quizzes.get_quiz(session, quiz_id=attempt.quiz_id)
        if attempt.submitted_at is None:
            return RedirectResponse(f"{PREFIX}/quizzes/{quiz.id}", status_code=303)
        return render(center, "training_result.html", me=me, quiz=quiz, attempt=attempt,
                      marked=quizzes.marked_answers(quiz, attempt),
                      left=quizzes.attempts_left(session, quiz=quiz, officer=me))


@router.get("/reports")
def report_page(center: CenterDep, viewer: ViewerDep, unit_id: int | None = None) -> Response:
    actor = viewer.actor
    with center.read_sessions() as session:
        me = officer_of(viewer, session)
        units = [u for u in session.scalars(select(AdminUnit).order_by(AdminUnit.id))
                 if actor.covers(u.id)]
        chosen = unit_id if unit_id is not None else actor.unit_id
        rows = (reports.unit_report(session, unit_id=chosen, actor=actor)
                if chosen is not None else [])
        return render(viewer, "training_report.html", me=me, units=units, unit_id=chosen,
                      rows=rows, csv_url=f"{PREFIX}/reports.csv?unit_id={chosen}")


@router.get("/reports.csv")
def report_csv(center: CenterDep, viewer: ViewerDep, unit_id: int) -> Response:
    with center.read_sessions() as session:
        body = reports.report_csv(reports.unit_report(session, unit_id=unit_id,
                                                      actor=viewer.actor))
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="dao-tao-{unit_id}.csv"'})
