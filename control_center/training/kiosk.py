"""Offline training modules on kiosks: bundles, their place in kiosk manifests, and the
attempts kiosks send back.

A course published to the kiosks of a unit's subtree is packed into a deterministic zip (the
same course and flag give the same bytes, hence the same SHA-256): ``bundle.json`` with the
lessons as HTML, the quizzes *with* their answer keys and explanations (the kiosk scores
offline), and every picture or sound the lessons use under ``media/<sha256>``. The zip is
stored in the media directory under its hash and served by ``GET /api/v1/media/{sha}``; the
answer keys it carries are recorded (``PublishedQuiz``) so that the center re-scores the
attempts kiosks send back against what the kiosk showed, and stores its own score.

Publishing is for training administrators, to the kiosks of their own subtree only.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.bundles import bundle_url
from control_center.core.changes import manifests_changed
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.errors import InvalidInput, NotFound
from control_center.models import (
    AdminUnit,
    Attempt,
    Course,
    Device,
    KioskAttempt,
    KioskPublication,
    MediaAsset,
    Officer,
    PublishedQuiz,
    Quiz,
)
from control_center.training.markdown import render as render_markdown
from protocol.events import DeviceKind
from protocol.quiz_scoring import QuizScore, score_answers
from protocol.training import (
    BundleCourse,
    BundleDocument,
    BundleLesson,
    BundleQuestion,
    BundleQuiz,
    QuizAttemptSubmitted,
    TrainingBundleRef,
)

log = logging.getLogger(__name__)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the bytes depend on the content only
_LIBRARY = re.compile(r"^media:([0-9a-f]{64})$")


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def build_bundle(session: Session, *, course: Course, public: bool, store_dir: Path,
                 media_dir: Path) -> bytes:
    """The course as a kiosk bundle (zip bytes); the same input gives the same bytes."""
    files: dict[str, bytes] = {}
    media: dict[str, str] = {}
    by_name = {f"media/{m.name}": m for m in course.media}

    def resolve(ref: str) -> tuple[str, str] | None:
        found = _LIBRARY.match(ref)
        if found is not None:
            asset = session.get(MediaAsset, found.group(1))
            if asset is None or asset.state != "ready":
                return None
            sha, _size, mime, _ms = asset.delivery_file()
            path = media_dir / sha
        elif ref in by_name:
            sha, mime = by_name[ref].sha256, by_name[ref].mime
            path = store_dir / sha
        else:
            return None
        if sha not in media:
            files[f"media/{sha}"] = path.read_bytes()
            media[sha] = mime
        return f"media/{sha}", mime  # relative to the kiosk's lesson page

    lessons = tuple(BundleLesson(n=i, slug=lesson.slug, title=lesson.title,
                                 html=render_markdown(lesson.source, resolve))
                    for i, lesson in enumerate(course.lessons, start=1))
    quizzes = tuple(BundleQuiz(
        id=quiz.id, slug=quiz.slug, title=quiz.title, pass_mark=quiz.pass_mark,
        attempt_limit=quiz.attempt_limit, shuffle=quiz.shuffle,
        questions=tuple(BundleQuestion(
            id=q.key, kind=q.kind.value, text=q.text,
            choices=tuple((c, t) for c, t in json.loads(q.choices_json)),
            answer=tuple(json.loads(q.answer_json)), explanation=q.explanation)
            for q in quiz.questions),
    ) for quiz in course.quizzes)
    document = BundleDocument(
        course=BundleCourse(code=course.code, title=course.title, version=course.version,
                            description=course.description, public=public,
                            content_hash=course.content_hash),
        lessons=lessons, quizzes=quizzes, media=media,
    )
    files["bundle.json"] = _bundle_json(document)
    return _zip(files)


def _bundle_json(document: BundleDocument) -> bytes:
    """``bundle.json``: sorted keys, one-space indent, UTF-8 as is; the same bytes as when the
    document was built as a dict, so an unchanged course keeps its bundle's hash."""
    return json.dumps(document.model_dump(mode="json"), ensure_ascii=False, sort_keys=True,
                      indent=1).encode()


def _store_bundle(session: Session, course: Course, media_dir: Path, data: bytes) -> str:
    """Store the bundle under its hash and record the answer keys it carries."""
    sha = hashlib.sha256(data).hexdigest()
    final = media_dir / sha
    if not final.exists():
        media_dir.mkdir(parents=True, exist_ok=True)
        part = media_dir / f".{sha}.bundle-part"
        part.write_bytes(data)
        os.replace(part, final)
    for quiz in course.quizzes:
        if session.get(PublishedQuiz, (sha, quiz.id)) is None:
            keys = [[q.key, json.loads(q.answer_json)] for q in quiz.questions]
            session.add(PublishedQuiz(bundle_sha256=sha, quiz_id=quiz.id,
                                      pass_mark=quiz.pass_mark, keys_json=json.dumps(keys)))
    return sha


def publish(session: Session, *, course_id: int, unit_ids: Iterable[int], public: bool | None,
            store_dir: Path, media_dir: Path, actor: Actor,
            now: datetime) -> list[KioskPublication]:
    """Publish a course to the kiosks of each unit's subtree (again: the bundle is rebuilt);
    every unit must lie in the actor's subtree (404 otherwise)."""
    actor.require(Permission.TRAINING_ADMIN)
    course = session.get(Course, course_id)
    if course is None:
        raise NotFound(f"course {course_id} does not exist")
    units = sorted(set(unit_ids))
    if not units:
        raise InvalidInput("unit_ids: name at least one unit")
    for unit_id in units:
        if session.get(AdminUnit, unit_id) is None:
            raise InvalidInput(f"unit {unit_id} does not exist")
        actor.require_unit(unit_id, what=f"unit {unit_id}")
    flag = course.public if public is None else public
    data = build_bundle(session, course=course, public=flag, store_dir=store_dir,
                        media_dir=media_dir)
    sha = _store_bundle(session, course, media_dir, data)
    rows = []
    for unit_id in units:
        row = session.scalar(select(KioskPublication).where(
            KioskPublication.course_id == course.id, KioskPublication.unit_id == unit_id))
        if row is None:
            row = KioskPublication(course_id=course.id, unit_id=unit_id, created_at=now)
            session.add(row)
        row.public, row.bundle_sha256, row.bundle_size = flag, sha, len(data)
        row.course_version, row.updated_at = course.version, now
        rows.append(row)
    audit.record(session, actor=actor, action="publish_kiosk", object_type="course",
                 object_id=course.id, detail={"unit_ids": units, "public": flag,
                                              "bundle": sha, "version": course.version},
                 at=now)
    manifests_changed(session, kiosks_under(session, unit_ids=units))
    session.commit()
    return rows


def refresh_course(session: Session, *, course: Course, store_dir: Path, media_dir: Path,
                   now: datetime) -> set[int]:
    """Rebuild the bundles of a re-imported course (not committed); the units whose kiosks
    must hear of it, their manifests noted as changed."""
    touched: set[int] = set()
    rows = list(session.scalars(select(KioskPublication).where(
        KioskPublication.course_id == course.id)))
    for flag in {r.public for r in rows}:
        data = build_bundle(session, course=course, public=flag, store_dir=store_dir,
                            media_dir=media_dir)
        sha = _store_bundle(session, course, media_dir, data)
        for row in rows:
            if row.public == flag and row.bundle_sha256 != sha:
                row.bundle_sha256, row.bundle_size = sha, len(data)
                row.course_version, row.updated_at = course.version, now
                touched.add(row.unit_id)
    if touched:
        manifests_changed(session, kiosks_under(session, unit_ids=touched))
    return touched


def kiosks_under(session: Session, *, unit_ids: Iterable[int]) -> list[str]:
    units = descendant_unit_ids(session, unit_ids=unit_ids)
    return list(session.scalars(select(Device.id).where(
        Device.kind == DeviceKind.KIOSK, Device.unit_id.in_(units)).order_by(Device.id)))


def kiosk_bundles(session: Session, *, public_base_url: str
                  ) -> dict[str, tuple[TrainingBundleRef, ...]]:
    """For every kiosk reached by a publication: its bundles (one per course, the newest
    publication winning), sorted by course code."""
    rows = list(session.execute(
        select(KioskPublication, Course.code, Course.title)
        .join(Course, Course.id == KioskPublication.course_id)
        .order_by(KioskPublication.updated_at, KioskPublication.id)))
    if not rows:
        return {}
    per_kiosk: dict[str, dict[str, TrainingBundleRef]] = {}
    for pub, code, title in rows:
        ref = TrainingBundleRef(
            sha256=pub.bundle_sha256, url=bundle_url(public_base_url, pub.bundle_sha256),
            size=pub.bundle_size, course_code=code, version=pub.course_version,
            title=title[:300], public=pub.public)
        for device_id in kiosks_under(session, unit_ids=[pub.unit_id]):
            per_kiosk.setdefault(device_id, {})[code] = ref
    return {k: tuple(v[c] for c in sorted(v)) for k, v in per_kiosk.items()}


class UnscorableAttempt(InvalidInput):
    """A kiosk attempt the center cannot re-score (its quiz is unknown): it is not stored."""


@dataclass(frozen=True, slots=True)
class RecordedAttempt:
    row: KioskAttempt
    mismatch: bool  # the kiosk reported another result than the center's


def _answer_key(session: Session, event: QuizAttemptSubmitted, quiz: Quiz
                ) -> tuple[list[tuple[str, list[str]]], float, str | None]:
    """The answer key and pass mark the kiosk was given: those packed into the event's bundle,
    else (a bundle the center has no record of) the quiz's current ones, with a flag."""
    published = session.get(PublishedQuiz, (event.bundle_sha256, quiz.id))
    if published is not None:
        keys = [(key, list(answer)) for key, answer in json.loads(published.keys_json)]
        return keys, published.pass_mark, None
    keys = [(q.key, json.loads(q.answer_json)) for q in quiz.questions]
    return keys, quiz.pass_mark, (f"bundle {event.bundle_sha256[:12]}… is not one the center "
                                  "published: scored against the quiz as it is now")


def _reported_otherwise(event: QuizAttemptSubmitted, result: QuizScore) -> str | None:
    """What the kiosk reported, when it is not the center's result."""
    if (event.correct, event.total, event.score, event.passed) == (
            result.correct, result.total, result.score, result.passed):
        return None
    return (f"the kiosk reported {event.correct}/{event.total} = {event.score:g}% "
            f"({'passed' if event.passed else 'failed'}); the center scored "
            f"{result.correct}/{result.total} = {result.score:g}%")


def record_kiosk_attempt(session: Session, *, event: QuizAttemptSubmitted, device: Device,
                         now: datetime) -> RecordedAttempt:
    """Store an attempt made at a kiosk (the caller already de-duplicated it by event id and
    checked that the sender is a kiosk) with the center's own score of its answers.

    Raises ``UnscorableAttempt`` when the quiz is not one of the course the event names."""
    quiz = session.get(Quiz, event.quiz_id)
    course = session.get(Course, quiz.course_id) if quiz is not None else None
    if quiz is None or course is None or course.code != event.course_code:
        raise UnscorableAttempt(f"quiz {event.quiz_id} of course {event.course_code!r} is "
                                "unknown: the attempt cannot be scored")
    keys, pass_mark, flag = _answer_key(session, event, quiz)
    result = score_answers(keys, event.answers, pass_mark=pass_mark)
    flags = [flag] if flag else []
    mismatch = _reported_otherwise(event, result)
    if mismatch:
        flags.append(mismatch)
        log.warning("kiosk %s: attempt %s re-scored: %s", device.id, event.event_id, mismatch)
    publication = session.scalar(select(KioskPublication).where(
        KioskPublication.bundle_sha256 == event.bundle_sha256).limit(1))
    public = publication.public if publication is not None else course.public
    officer: Officer | None = None
    if public:
        pass  # a public module: attempts are anonymous
    elif event.officer_code is None:
        flags.append("no officer code given for a module that is not public")
    else:
        officer = session.scalar(select(Officer).where(Officer.code == event.officer_code))
        if officer is None:
            flags.append(f"unknown officer code {event.officer_code!r}")
    answers = {k: sorted(set(v)) for k, v in event.answers.items()}
    row = KioskAttempt(
        event_id=event.event_id, device_id=device.id, bundle_sha256=event.bundle_sha256,
        course_code=event.course_code, quiz_id=quiz.id, officer_code=event.officer_code,
        officer_id=officer.id if officer else None, anonymous=officer is None,
        flag="; ".join(flags) or None,
        answers_json=json.dumps(answers, ensure_ascii=False, sort_keys=True),
        correct=result.correct, total=result.total, score=result.score, passed=result.passed,
        reported_score=event.score, taken_at=event.at, received_at=now,
    )
    if officer is not None:
        # The officer's own attempt, as if taken in the console: the unit reports count it.
        # The attempt limit is not enforced here: the kiosk was offline when it was taken.
        number = (session.scalar(select(func.max(Attempt.number)).where(
            Attempt.quiz_id == quiz.id, Attempt.officer_id == officer.id)) or 0) + 1
        attempt = Attempt(quiz_id=quiz.id, officer_id=officer.id, number=number, seed=0,
                          started_at=event.at, submitted_at=event.at,
                          answers_json=json.dumps(answers), correct=result.correct,
                          total=result.total, score=result.score, passed=result.passed)
        session.add(attempt)
        session.flush()
        row.attempt_id = attempt.id
    session.add(row)
    return RecordedAttempt(row, mismatch is not None)


def list_kiosk_attempts(session: Session, *, actor: Actor, course_id: int | None = None,
                        device_id: str | None = None, limit: int = 500) -> list[KioskAttempt]:
    """Attempts made at the kiosks of the actor's subtree, newest first."""
    actor.require(Permission.TRAINING_ADMIN)
    query = select(KioskAttempt).order_by(KioskAttempt.taken_at.desc()).limit(limit)
    if actor.scope is not None:
        query = query.where(KioskAttempt.device_id.in_(
            select(Device.id).where(Device.unit_id.in_(actor.scope))))
    if course_id is not None:
        query = query.where(KioskAttempt.quiz_id.in_(
            select(Quiz.id).where(Quiz.course_id == course_id)))
    if device_id is not None:
        query = query.where(KioskAttempt.device_id == device_id)
    return list(session.scalars(query))
