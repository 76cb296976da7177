"""Offline training modules on kiosks: the bundle a kiosk downloads, and the attempts made there.

A course published to kiosks is packed by the center into a deterministic zip (its
``bundle.json``: lessons as HTML, quizzes *with* the answer key and explanations, since a kiosk
scores offline; the course's pictures and sounds under ``media/<sha256>``). The zip is named by
its SHA-256 and listed in the kiosk's signed manifest (``Manifest.training_bundles``); the
kiosk downloads and verifies it like media. An attempt made at the kiosk travels back as a
de-duplicated event (``quiz_attempt_submitted``) through the agent's outbox.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from protocol.base import FrozenModel, UtcDatetime

OFFICER_CODE_PATTERN = r"^[A-Za-z0-9-]{3,32}$"
BundleSha = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ChoiceIds = tuple[Annotated[str, Field(min_length=1, max_length=40)], ...]


class TrainingBundleRef(FrozenModel):
    """One course packed for kiosks, fetched by hash from ``url``."""

    sha256: BundleSha
    url: str = Field(min_length=1, max_length=2000)
    size: int = Field(gt=0)
    course_code: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    title: str = Field(default="", max_length=300)
    public: bool = False  # citizens may take it; attempts are anonymous


class QuizAttemptSubmitted(FrozenModel):
    """One quiz taken at a kiosk, scored there (event type ``quiz_attempt_submitted``)."""

    type: Literal["quiz_attempt_submitted"] = "quiz_attempt_submitted"
    v: Literal[1] = 1
    event_id: str = Field(min_length=8, max_length=64)
    device_id: str
    at: UtcDatetime
    bundle_sha256: BundleSha
    course_code: str = Field(min_length=1, max_length=64)
    quiz_id: int
    officer_code: str | None = Field(default=None, pattern=OFFICER_CODE_PATTERN)
    answers: dict[str, ChoiceIds] = Field(default_factory=dict, max_length=500)
    correct: int = Field(ge=0)
    total: int = Field(ge=0)
    score: float = Field(ge=0, le=100)  # percent, 2 decimals
    passed: bool


# -- the bundle's ``bundle.json`` (read by kiosks; written by the center) ----------------------

class BundleQuestion(FrozenModel):
    id: str = Field(min_length=1, max_length=40)
    kind: Literal["single", "multiple"]
    text: str
    choices: tuple[tuple[str, str], ...]  # (choice id, text) in file order
    answer: tuple[str, ...]  # the key: sorted choice ids
    explanation: str = ""


class BundleQuiz(FrozenModel):
    id: int  # the center's quiz id, sent back with attempts
    slug: str
    title: str
    pass_mark: float = Field(gt=0, le=100)
    attempt_limit: int | None = None
    shuffle: bool = True
    questions: tuple[BundleQuestion, ...]


class BundleLesson(FrozenModel):
    n: int = Field(ge=1)
    slug: str
    title: str
    html: str  # rendered by the center's safe Markdown renderer; media as media/<sha256>


class BundleCourse(FrozenModel):
    code: str
    title: str
    version: int
    description: str = ""
    public: bool = False
    content_hash: str


class BundleDocument(FrozenModel):
    format: Literal[1] = 1
    course: BundleCourse
    lessons: tuple[BundleLesson, ...] = ()
    quizzes: tuple[BundleQuiz, ...] = ()
    media: dict[str, str] = Field(default_factory=dict)  # sha256 -> MIME type
