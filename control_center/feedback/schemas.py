"""API schemas of the feedback workflow (kept apart from the SQLAlchemy models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from control_center.feedback.announcements import AnnouncementState
from control_center.models import FeedbackPriority, FeedbackStatus
from control_center.schemas.common import InputModel, OutputModel

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CategoryPublic(OutputModel):
    code: str
    unit_id: int | None
    name_vi: str
    name_en: str
    due_days: int
    active: bool


class CategoryUpsert(InputModel):
    code: Code
    name_vi: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    name_en: str = Field(default="", max_length=100)
    due_days: int = Field(default=7, ge=1, le=365)
    active: bool = True
    unit_id: int | None = Field(default=None, description="the owning unit, in the caller's "
                                "subtree; default: unchanged, or the caller's unit when new")


class NotePublic(OutputModel):
    id: int
    at: datetime
    author: str
    text: str


class FeedbackPublic(OutputModel):
    id: int
    ref_code: str
    device_id: str | None
    unit_id: int = Field(description="the unit handling it now")
    origin_unit_id: int | None = Field(description="the unit it was submitted in")
    category: str
    text: str
    lang: str
    channel: str
    client_id: int | None = Field(description="the Open311 client that sent it")
    phone: str | None
    contact_consent: bool
    status: FeedbackStatus
    priority: FeedbackPriority
    flagged: str | None
    assignee: str | None
    answer: str | None
    answered_by: str | None
    submitted_at: datetime
    received_at: datetime
    due_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    escalated_at: datetime | None = Field(description="when the overdue job passed it to the "
                                          "parent unit")
    notes: list[NotePublic] = []


class AnnouncementPublic(OutputModel):
    bulletin_id: int
    state: AnnouncementState
    kiosks: list[str]


class FeedbackAnswered(FeedbackPublic):
    announcement: AnnouncementPublic | None = Field(
        default=None, description="with announce: the bulletin made, and whether it is on the "
        "kiosks (scheduled) or waits for an approver (awaiting_approval)")


class TriageIn(InputModel):
    category: Code
    unit_id: int
    priority: FeedbackPriority | None = Field(default=None, description="default: unchanged")


class RouteIn(InputModel):
    unit_id: int = Field(description="a unit of the caller's subtree, or one above the "
                         "feedback's unit (escalation)")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class AssignIn(InputModel):
    assignee: Person


class NoteIn(InputModel):
    text: Text
    author: Person | None = None


class AnswerIn(InputModel):
    text: Text
    answered_by: Person = "cán bộ"
    announce: bool = Field(default=False, description="also show the answer as a text "
                           "bulletin on the kiosks of the submission's unit subtree")


class ClientCreate(InputModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    unit_id: int


class ClientPublic(OutputModel):
    id: int
    name: str
    unit_id: int
    key_prefix: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class ClientCreated(ClientPublic):
    api_key: str = Field(description="shown once: only its SHA-256 is kept")
