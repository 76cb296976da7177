"""Pydantic schemas of the training and forum API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from control_center.models import OfficerRole
from control_center.schemas.common import InputModel, Name, OutputModel

OfficerCode = Annotated[str, StringConstraints(strip_whitespace=True,
                                               pattern=r"^[A-Za-z0-9-]{3,32}$")]


class OfficerCreate(InputModel):
    """The officer profile of an existing user account (name and unit are the user's)."""

    user_id: int
    code: OfficerCode
    role: OfficerRole


class OfficerPublic(OutputModel):
    id: int
    user_id: int
    code: str
    name: str
    unit_id: int
    role: OfficerRole
    created_at: datetime


class LessonPublic(OutputModel):
    id: int
    position: int
    slug: str
    title: str


class QuizPublic(OutputModel):
    id: int
    slug: str
    title: str
    pass_mark: float
    attempt_limit: int | None
    shuffle: bool


class CoursePublic(OutputModel):
    id: int
    code: str
    version: int
    title: str
    description: str
    public: bool
    content_hash: str
    imported_at: datetime
    owner_unit_id: int | None
    lessons: list[LessonPublic]
    quizzes: list[QuizPublic]


class ImportResult(OutputModel):
    changed: bool
    course: CoursePublic


class AssignmentCreate(InputModel):
    course_id: int
    unit_id: int
    role: OfficerRole | None = None
    due_at: AwareDatetime | None = None


class AssignmentPublic(OutputModel):
    id: int
    course_id: int
    unit_id: int
    role: OfficerRole | None
    due_at: datetime | None
    created_at: datetime


class ChoiceOut(OutputModel):
    id: str
    text: str


class QuestionOut(OutputModel):
    key: str
    kind: str
    text: str
    choices: list[ChoiceOut]


class AttemptPublic(OutputModel):
    id: int
    quiz_id: int
    officer_id: int
    number: int
    started_at: datetime
    submitted_at: datetime | None
    correct: int | None
    total: int
    score: float | None
    passed: bool | None


class AttemptStarted(AttemptPublic):
    questions: list[QuestionOut]


class AnswersIn(InputModel):
    answers: dict[str, list[str]] = Field(description="question id → chosen choice ids")


class MarkedOut(OutputModel):
    key: str
    chosen: list[str]
    answer: list[str]
    correct: bool
    explanation: str


class AttemptResult(AttemptPublic):
    marked: list[MarkedOut]


class ReportRowOut(OutputModel):
    course_id: int
    course_code: str
    course_title: str
    unit_id: int
    unit_name: str
    assigned: int
    started: int
    completed: int
    passed: int
    average_score: float | None


class CategoryCreate(InputModel):
    unit_id: int
    name: Name
    description: str = ""


class CategoryOut(OutputModel):
    id: int
    unit_id: int
    unit_name: str
    name: str
    description: str
    threads: int
    unread: int


class ThreadCreate(InputModel):
    title: Name
    body: Annotated[str, StringConstraints(min_length=1, max_length=20000)]


class ReplyIn(InputModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=20000)]


class ThreadOut(OutputModel):
    id: int
    category_id: int
    title: str
    author_id: int
    pinned: bool
    locked: bool
    hidden: bool
    created_at: datetime
    last_post_at: datetime
    unread: bool = False
    replies: int = 0


class PostOut(OutputModel):
    id: int
    thread_id: int
    author_id: int
    author_name: str
    body: str
    hidden: bool
    created_at: datetime
    mentions: list[int] = Field(default_factory=list, description="unit ids named as @code")


class MentionOut(PostOut):
    thread_title: str


class ThreadDetail(ThreadOut):
    posts: list[PostOut]


class ModerateIn(InputModel):
    action: Annotated[str, Field(pattern=r"^(hide|unhide|lock|unlock|pin|unpin)$")]


class KioskPublish(InputModel):
    """Publish a course to the kiosks of these units' subtrees (public: citizens may take it;
    the course's own flag when absent)."""

    unit_ids: list[int] = Field(min_length=1, max_length=1000)
    public: bool | None = None


class KioskPublicationPublic(OutputModel):
    course_id: int
    unit_id: int
    public: bool
    bundle_sha256: str
    bundle_size: int
    course_version: int
    updated_at: datetime


class KioskPublishResult(OutputModel):
    publications: list[KioskPublicationPublic]
    bundle_url: str
    kiosks: list[str]  # the kiosks whose manifests now list the bundle


class KioskAttemptPublic(OutputModel):
    event_id: str
    device_id: str
    bundle_sha256: str
    course_code: str
    quiz_id: int | None
    officer_code: str | None
    officer_id: int | None
    attempt_id: int | None
    anonymous: bool
    flag: str | None
    correct: int
    total: int
    score: float  # the center's, re-scored from the answers
    passed: bool
    reported_score: float | None  # what the kiosk said
    taken_at: datetime
    received_at: datetime
