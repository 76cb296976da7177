"""Citizen feedback: the submission a kiosk sends (an event) and the answer it gets back.

A submission travels kiosk -> center as a de-duplicated event through the agent's outbox;
the answer travels center -> kiosk inside the kiosk's signed, retained manifest
(``Manifest.answers``), together with the feedback categories the kiosk offers
(``Manifest.feedback_categories``). Audio never travels here: the transcript does.
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
