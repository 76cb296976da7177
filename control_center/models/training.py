"""Officer training: officers (the training profile of a user account), courses (lessons,
quizzes, questions), assignments, attempts, lesson views, kiosk publications and attempts, and
the officers' forum (categories, threads, posts, read markers).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from control_center.models.accounts import User
from control_center.models.base import Base, UtcDateTime, str_enum


class OfficerRole(StrEnum):
    EDITOR = "editor"          # writes bulletins
    TECHNICIAN = "technician"  # runs the loudspeaker system
    LEADER = "leader"          # the unit's head
    MODERATOR = "moderator"    # moderates the forums of the unit's subtree


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class Officer(Base):
    """The training profile of one user account: the code typed at kiosks and the officer role.
    The name and unit are the user's (read from ``users``, usable in queries too)."""

    __tablename__ = "training_officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"),
                                         unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # typed at kiosks
    role: Mapped[OfficerRole] = mapped_column(str_enum(OfficerRole))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    unit_id: Mapped[int] = column_property(
        select(User.unit_id).where(User.id == user_id).correlate_except(User)
        .scalar_subquery())
    name: Mapped[str] = column_property(
        select(func.coalesce(func.nullif(User.full_name, ""), User.username))
        .where(User.id == user_id).correlate_except(User).scalar_subquery())


class Course(Base):
    __tablename__ = "training_courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the imported folder
    source: Mapped[str] = mapped_column(Text)  # course.yaml as imported (for export)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # whoever imported it first: their unit (None: the root's, on a center without units)
    owner_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    lessons: Mapped[list[Lesson]] = relationship(
        cascade="all, delete-orphan", order_by="Lesson.position")
    quizzes: Mapped[list[Quiz]] = relationship(
        cascade="all, delete-orphan", order_by="Quiz.position")
    media: Mapped[list[CourseMedia]] = relationship(
        cascade="all, delete-orphan", order_by="CourseMedia.name")


class Lesson(Base):
    __tablename__ = "training_lessons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)  # the Markdown file as imported (for export)


class CourseMedia(Base):
    """A picture or sound of a course, stored by SHA-256 in ``<data>/training/``."""

    __tablename__ = "training_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)


class Quiz(Base):
    __tablename__ = "training_quizzes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    pass_mark: Mapped[float] = mapped_column(Float)  # percent
    attempt_limit: Mapped[int | None] = mapped_column(Integer)
    shuffle: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)  # the YAML file as imported (for export)
    questions: Mapped[list[Question]] = relationship(
        cascade="all, delete-orphan", order_by="Question.position")


class Question(Base):
    __tablename__ = "training_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(
        ForeignKey("training_quizzes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))  # the id in the YAML file
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind))
    text: Mapped[str] = mapped_column(Text)
    choices_json: Mapped[str] = mapped_column(Text)  # [[choice id, text], ...] in file order
    answer_json: Mapped[str] = mapped_column(Text)  # sorted list of correct choice ids
    explanation: Mapped[str] = mapped_column(Text, default="")


class Assignment(Base):
    """Every officer of ``role`` (any role when null) in the subtree of ``unit_id``."""

    __tablename__ = "training_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    role: Mapped[OfficerRole | None] = mapped_column(str_enum(OfficerRole))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Attempt(Base):
    __tablename__ = "training_attempts"
    __table_args__ = (UniqueConstraint("quiz_id", "officer_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(
        ForeignKey("training_quizzes.id", ondelete="CASCADE"), index=True)
    officer_id: Mapped[int] = mapped_column(
        ForeignKey("training_officers.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per officer and quiz
    seed: Mapped[int] = mapped_column(Integer)  # the shuffle's seed
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answers_json: Mapped[str | None] = mapped_column(Text)
    correct: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)  # percent
    passed: Mapped[bool | None] = mapped_column(Boolean)


class LessonView(Base):
    __tablename__ = "training_lesson_views"

    officer_id: Mapped[int] = mapped_column(
        ForeignKey("training_officers.id", ondelete="CASCADE"), primary_key=True)
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("training_lessons.id", ondelete="CASCADE"), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ForumCategory(Base):
    """A forum of one unit (the national one is the root unit's), seen by its subtree."""

    __tablename__ = "forum_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ForumThread(Base):
    __tablename__ = "forum_threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("forum_categories.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    author_id: Mapped[int] = mapped_column(
        ForeignKey("training_officers.id", ondelete="RESTRICT"))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)
    last_post_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ForumPost(Base):
    __tablename__ = "forum_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("forum_threads.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(
        ForeignKey("training_officers.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ForumMention(Base):
    """A unit named in a post as ``@<unit code>``."""

    __tablename__ = "forum_mentions"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="CASCADE"), primary_key=True, index=True)


class ForumRead(Base):
    """The newest post an officer has seen in a thread (unread markers)."""

    __tablename__ = "forum_reads"

    officer_id: Mapped[int] = mapped_column(
        ForeignKey("training_officers.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True)
    last_post_id: Mapped[int] = mapped_column(Integer)


class KioskPublication(Base):
    """A course published to the kiosks of a unit's subtree, packed as a bundle (by SHA-256)."""

    __tablename__ = "training_kiosk_publications"
    __table_args__ = (UniqueConstraint("course_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("admin_units.id", ondelete="RESTRICT"), index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    bundle_sha256: Mapped[str] = mapped_column(String(64), index=True)  # file in the media dir
    bundle_size: Mapped[int] = mapped_column(Integer)
    course_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PublishedQuiz(Base):
    """The answer key of a quiz as packed into one kiosk bundle: what the center re-scores the
    kiosk's attempts against (the course may have been re-imported since)."""

    __tablename__ = "training_published_quizzes"

    bundle_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    quiz_id: Mapped[int] = mapped_column(
        ForeignKey("training_quizzes.id", ondelete="CASCADE"), primary_key=True)
    pass_mark: Mapped[float] = mapped_column(Float)
    keys_json: Mapped[str] = mapped_column(Text)  # [[question key, [choice ids]], ...] in order


class KioskAttempt(Base):
    """A quiz taken at a kiosk, stored once by its event id with the center's own score (the
    kiosk's answers re-scored; ``reported_score`` is what the kiosk said).

    With a known officer code it is also an ``Attempt`` of that officer (``attempt_id``), so
    the unit reports count it; otherwise it is anonymous (``flag`` says why when unexpected).
    """

    __tablename__ = "training_kiosk_attempts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    course_code: Mapped[str] = mapped_column(String(64))
    quiz_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_quizzes.id", ondelete="SET NULL"), index=True)
    officer_code: Mapped[str | None] = mapped_column(String(32))
    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_officers.id", ondelete="SET NULL"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_attempts.id", ondelete="SET NULL"))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    flag: Mapped[str | None] = mapped_column(Text)
    answers_json: Mapped[str] = mapped_column(Text)
    correct: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    reported_score: Mapped[float | None] = mapped_column(Float)  # the kiosk's own score
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
