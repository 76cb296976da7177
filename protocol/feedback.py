"""Citizen feedback: the submission a kiosk sends (an event) and the answer it gets back.

A submission travels kiosk -> center as a de-duplicated event through the agent's outbox;
the answer travels center -> kiosk inside the kiosk's signed, retained manifest
(``Manifest.answers``), together with the feedback categories the kiosk offers
(``Manifest.feedback_categories``). Audio never travels here: the transcript does.

"Did you hear it?": the questions a kiosk asks about a bulletin travel in its manifest
(``Manifest.surveys``); each answer comes back as a ``survey_answered`` event.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from protocol.base import FrozenModel, UtcDatetime

REF_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{3,15}$"


class FeedbackChannel(StrEnum):
    TOUCH = "touch"  # typed on the screen
    VOICE = "voice"  # dictated, recognised on the kiosk, corrected by the citizen


class FeedbackSubmitted(FrozenModel):
    """One citizen report made at a kiosk (event type ``feedback_submitted``)."""

    type: Literal["feedback_submitted"] = "feedback_submitted"
    v: Literal[1] = 1
    event_id: str = Field(min_length=8, max_length=64)
    device_id: str
    at: UtcDatetime
    ref_code: str = Field(pattern=REF_CODE_PATTERN)
    category: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=4000)
    lang: str = Field(default="vi", max_length=10)
    channel: FeedbackChannel = FeedbackChannel.TOUCH
    phone: str | None = Field(default=None, max_length=20)
    contact_consent: bool = False  # the phone number may be used to call back
    audio_kept: bool = False  # the recording stays on the kiosk (consent given); not uploaded


class FeedbackCategory(FrozenModel):
    """A category a kiosk offers, with its labels in Vietnamese and English."""

    code: str = Field(min_length=1, max_length=40)
    name_vi: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)


class FeedbackAnswer(FrozenModel):
    """An official's answer to a submission made at this kiosk (shown on its home screen)."""

    ref_code: str = Field(pattern=REF_CODE_PATTERN)
    category: str = Field(max_length=40)
    question: str = Field(max_length=300)
    answer: str = Field(min_length=1, max_length=4000)
    answered_at: UtcDatetime
    unit_name: str = Field(default="", max_length=200)


class SurveyKind(StrEnum):
    YES_NO = "yes_no"  # choices: yes, then no (a kiosk may answer it by voice)
    CHOICE = "choice"  # 2-4 labels


class SurveyQuestion(FrozenModel):
    """One "Did you hear it?" question a kiosk asks, with its choices in order."""

    question_id: int
    text: str = Field(min_length=1, max_length=200)
    kind: SurveyKind = SurveyKind.YES_NO
    choices: tuple[str, ...] = Field(min_length=2, max_length=4)


class Survey(FrozenModel):
    """A bulletin's questions, asked at this kiosk until ``ends_at``."""

    bulletin_id: int
    title: str = Field(max_length=500)
    ends_at: UtcDatetime
    questions: tuple[SurveyQuestion, ...] = Field(min_length=1, max_length=3)


class SurveyAnswered(FrozenModel):
    """A passer-by's answer to one survey question (event type ``survey_answered``)."""

    type: Literal["survey_answered"] = "survey_answered"
    v: Literal[1] = 1
    event_id: str = Field(min_length=8, max_length=64)
    device_id: str
    at: UtcDatetime
    question_id: int
    choice: int = Field(ge=0, le=3)  # the index of the chosen label
    channel: FeedbackChannel = FeedbackChannel.TOUCH
