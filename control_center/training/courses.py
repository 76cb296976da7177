"""Import a course folder (or a zip of one) into the database, and export it back.

Course media live by SHA-256 in ``<data>/training/``; ``media:<sha256>`` references name an
audio asset of the media library (processed by ``media/``), which must exist and be ready.
Importing the same code again replaces the course's content and raises its version, keeping
quizzes by file name (so attempts stay attached); an identical folder changes nothing.

Importing is for training administrators (``Permission.TRAINING_ADMIN``). A course belongs to
the unit of whoever imported it first; only a training administrator whose subtree covers that
unit may replace it (403 otherwise).
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.errors import Forbidden, InvalidInput, NotFound
from control_center.models import (
    AdminUnit,
    Course,
    CourseMedia,
    Lesson,
    MediaAsset,
    MediaState,
    Question,
    QuestionKind,
    Quiz,
)
from control_center.training.format import (
    CourseInvalid,
    CourseSpec,
    Problem,
    QuizSpec,
    read_course_folder,
)

MAX_ZIP_FILES = 2000
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # a course is text and small media: 1 GiB is plenty


def _check_library(session: Session, spec: CourseSpec) -> None:
    problems = []
    for sha, (name, line) in sorted(spec.library_refs.items()):
        asset = session.get(MediaAsset, sha)
        if asset is None or asset.state != MediaState.READY:
            state = "missing" if asset is None else asset.state.value
            problems.append(Problem(name, line, f"unknown media: media:{sha} is not a ready "
                                    f"asset of the media library ({state}): upload it first"))
    if problems:
        raise CourseInvalid(problems)


def _fill_quiz(quiz: Quiz, spec: QuizSpec, position: int) -> None:
    quiz.position, quiz.title, quiz.pass_mark = position, spec.title, spec.pass_mark
    quiz.attempt_limit, quiz.shuffle, quiz.source = spec.attempt_limit, spec.shuffle, spec.source
    quiz.questions = [
        Question(position=i, key=q.key, kind=QuestionKind(q.kind), text=q.text,
                 choices_json=json.dumps([list(c) for c in q.choices], ensure_ascii=False),
                 answer_json=json.dumps(list(q.answer)), explanation=q.explanation)
        for i, q in enumerate(spec.questions)
    ]


def _root_unit_id(session: Session) -> int | None:
    return session.scalar(select(func.min(AdminUnit.id)).where(AdminUnit.parent_id.is_(None)))


def owner_unit_id(session: Session, course: Course) -> int | None:
    """The unit the course belongs to (a course imported before units existed: the root's)."""
    return course.owner_unit_id if course.owner_unit_id is not None else _root_unit_id(session)


def _check_owner(session: Session, course: Course, actor: Actor) -> None:
    owner = owner_unit_id(session, course)
    if not actor.covers(owner):
        raise Forbidden(f"khóa học {course.code!r} thuộc đơn vị {owner}, ngoài phạm vi của bạn "
                        f"/ course {course.code!r} belongs to unit {owner}: only a training "
                        "administrator over that unit may replace it")


def import_folder(session: Session, *, folder: Path, store_dir: Path, actor: Actor,
                  now: datetime) -> tuple[Course, bool]:
    """Import ``folder``; answer the course and whether anything changed."""
    actor.require(Permission.TRAINING_ADMIN)
    spec = read_course_folder(folder)
    course = session.scalar(select(Course).where(Course.code == spec.code))
    if course is not None:
        _check_owner(session, course, actor)
    _check_library(session, spec)
    if course is not None and course.content_hash == spec.content_hash:
        return course, False
    store_dir.mkdir(parents=True, exist_ok=True)
    for m in spec.media:
        target = store_dir / m.sha256
        if not target.exists():
            part = target.with_suffix(".part")
            part.write_bytes(m.data)
            part.replace(target)
    if course is None:
        owner = actor.unit_id if actor.unit_id is not None else _root_unit_id(session)
        course = Course(code=spec.code, version=spec.version, owner_unit_id=owner)
        session.add(course)
    else:
        course.version = max(spec.version, course.version + 1)
    course.title, course.description, course.public = spec.title, spec.description, spec.public
    course.content_hash, course.source, course.imported_at = spec.content_hash, spec.source, now
    course.lessons = [Lesson(position=i, slug=x.slug, title=x.title, source=x.source)
                      for i, x in enumerate(spec.lessons)]
    course.media = [CourseMedia(name=m.name, sha256=m.sha256, mime=m.mime, size=len(m.data))
                    for m in spec.media]
    kept = {q.slug: q for q in course.quizzes}
    quizzes = []
    for i, qs in enumerate(spec.quizzes):
        quiz = kept.get(qs.slug) or Quiz(slug=qs.slug)
        _fill_quiz(quiz, qs, i)
        quizzes.append(quiz)
    course.quizzes = quizzes
    session.flush()
    audit.record(session, actor=actor, action="import", object_type="course",
                 object_id=course.id, detail={"code": spec.code, "version": course.version,
                                              "hash": spec.content_hash}, at=now)
    session.commit()
    return course, True


def import_zip(session: Session, *, data: bytes, store_dir: Path, actor: Actor,
               now: datetime) -> tuple[Course, bool]:
    """A zip of the folder (the folder itself or its contents at the top)."""
    actor.require(Permission.TRAINING_ADMIN)  # before unpacking anything
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"not a zip file: {exc}") from exc
    names = archive.namelist()
    if len(names) > MAX_ZIP_FILES:
        raise InvalidInput(f"too many files in the zip ({len(names)} > {MAX_ZIP_FILES})")
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise InvalidInput(f"the zip unpacks to {unpacked} bytes (> {MAX_UNPACKED_BYTES})")
    with tempfile.TemporaryDirectory(prefix="course-") as tmp:
        root = Path(tmp)
        for info in archive.infolist():
            rel = PurePosixPath(info.filename)
            if rel.is_absolute() or ".." in rel.parts:
                raise InvalidInput(f"unsafe path in the zip: {info.filename!r}")
            if info.is_dir():
                continue
            target = root.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as out:
                copied = 0
                while chunk := source.read(1 << 20):
                    copied += len(chunk)
                    if copied > info.file_size:  # the header lied about the size
                        raise InvalidInput(f"{info.filename!r} is larger than announced")
                    out.write(chunk)
        entries = [p for p in root.iterdir() if not p.name.startswith("__MACOSX")]
        folder = entries[0] if len(entries) == 1 and entries[0].is_dir() else root
        return import_folder(session, folder=folder, store_dir=store_dir, actor=actor, now=now)


def get_course(session: Session, *, course_id: int) -> Course:
    course = session.get(Course, course_id)
    if course is None:
        raise NotFound(f"course {course_id} does not exist")
    return course


def list_courses(session: Session) -> list[Course]:
    return list(session.scalars(select(Course).order_by(Course.title)))


def export_files(course: Course, *, store_dir: Path) -> dict[str, bytes]:
    """The course folder as imported: relative path → bytes."""
    files = {"course.yaml": course.source.encode()}
    for lesson in course.lessons:
        files[f"lessons/{lesson.slug}.md"] = lesson.source.encode()
    for quiz in course.quizzes:
        files[f"quizzes/{quiz.slug}.yaml"] = quiz.source.encode()
    for m in course.media:
        files[f"media/{m.name}"] = (store_dir / m.sha256).read_bytes()
    return files


def export_folder(course: Course, *, store_dir: Path, folder: Path) -> None:
    for rel, data in export_files(course, store_dir=store_dir).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def export_zip(course: Course, *, store_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, data in sorted(export_files(course, store_dir=store_dir).items()):
            info = zipfile.ZipInfo(f"{course.code}/{rel}", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
