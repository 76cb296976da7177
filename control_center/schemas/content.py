"""Media, bulletins and schedules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from control_center.models import BulletinKind, BulletinStatus, MediaState, ScheduleKind
from control_center.schemas.common import DeliveryReport, InputModel, OutputModel, Sha256
from control_center.schemas.fleet import DeviceId
from protocol.base import Priority

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
SourceUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000)]
WindowMinutes = Annotated[int, Field(ge=1, le=1440)]
ShownMinutes = Annotated[int, Field(ge=1, le=10_080)]
ShownUntil = Annotated[str, StringConstraints(strip_whitespace=True,
                                              pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
_SHOWN_MINUTES = ("kind=text: kiosks show each occurrence for this many minutes (at most a "
                  "week); give this or shown_until, neither: until the end of that day")
_SHOWN_UNTIL = ("kind=text: kiosks show each occurrence until this local time of day, HH:MM "
                "(the next day's when the occurrence is later); neither: the end of that day")


class RenditionPublic(OutputModel):
    """An encoded, loudness-normalised file made from an upload."""

    format: str = Field(description="opus (delivery, Ogg) or mp3 (fallback)")
    sha256: str
    size: int
    mime: str
    codec: str
    bitrate: int = Field(description="bits per second")
    duration_ms: int
    loudness_lufs: float = Field(description="integrated loudness measured after encoding")
    true_peak_dbtp: float
    url: str = Field(description="public download by hash (Range supported)")


class MediaPublic(OutputModel):
    """An upload (``sha256``, ``size``, ``mime``, ``codec`` describe the original file)."""

    sha256: str
    size: int
    mime: str
    duration_ms: int
    codec: str
    original_name: str
    created_at: datetime
    url: str = Field(description="the original file (public, by hash, Range supported)")
    state: MediaState = Field(description="processing, then ready or failed")
    error: str | None = Field(default=None, description="why processing failed")
    progress: float | None = Field(default=None, description="0..1 while processing")
    source_lufs: float | None = Field(default=None, description="the original's loudness")
    delivery: RenditionPublic | None = Field(
        default=None, description="what manifests reference (Opus in Ogg) once ready")
    renditions: list[RenditionPublic] = Field(default_factory=list)
    waveform_url: str | None = None


SPEECH_MAX_CHARS = 5_000
"""The longest text ``POST /media/speech`` speaks (about nine minutes of speech)."""
SpeechText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=SPEECH_MAX_CHARS)]


class SpeechCreate(InputModel):
    """Text to speak (Vietnamese; numbers, dates, times and abbreviations are read out)."""

    text: SpeechText = Field(description=f"at most {SPEECH_MAX_CHARS} characters")
    name: str = Field(default="", max_length=200, description="a name for the media list")


class SpeechState(StrEnum):
    """Where a speech job is: being spoken or processed, ready, or given up."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class SpeechJobPublic(OutputModel):
    """A text being spoken: poll ``status_url`` until ``state`` is ``done`` or ``failed``."""

    id: str
    state: SpeechState = Field(
        description="pending (being spoken, or its media processing), done (sha256 ready for a "
        "bulletin) or failed (error says why)")
    status_url: str = Field(description="the path to poll (GET), e.g. "
                            "/api/v1/media/speech/{id}")
    created_at: datetime
    sha256: str | None = Field(default=None, description="the speech's media, once stored")
    error: str | None = Field(default=None, description="why it failed")
    media: MediaPublic | None = Field(default=None, description="the media, once stored")


class BulletinCreate(InputModel):
    title: Title
    category: Category = ""
    priority: Priority = Priority.NORMAL
    kind: BulletinKind = BulletinKind.AUDIO
    media_sha256: Sha256 | None = Field(
        default=None, description="required for kind=audio (ready media); refused for kind=text")
    text: Text | None = Field(
        default=None, description="required for kind=text; for kind=audio, its transcript")
    source_url: SourceUrl | None = Field(
        default=None, description="required for kind=relay: the upstream stream (Icecast/HTTP "
        "or an HLS playlist), http:// or https://; refused for other kinds")
    window_minutes: WindowMinutes | None = Field(
        default=None, description="required for kind=relay: how long each occurrence relays")
    filler_sha256: Sha256 | None = Field(
        default=None, description="kind=relay, optional: ready media played while the source "
        "is gone (none: silence)")
    shown_minutes: ShownMinutes | None = Field(default=None, description=_SHOWN_MINUTES)
    shown_until: ShownUntil | None = Field(default=None, description=_SHOWN_UNTIL)


class BulletinUpdate(InputModel):
    """The fields to change; the result is checked like a create (a text bulletin takes no
    ``media_sha256``, an audio one keeps ready media)."""

    title: Title | None = None
    category: Category | None = None
    priority: Priority | None = None
    media_sha256: Sha256 | None = None
    text: Text | None = None
    source_url: SourceUrl | None = Field(default=None, description="relay bulletins only")
    window_minutes: WindowMinutes | None = Field(default=None, description="relay only")
    filler_sha256: Sha256 | None = Field(default=None, description="relay only; null: none")
    shown_minutes: ShownMinutes | None = Field(default=None, description=_SHOWN_MINUTES)
    shown_until: ShownUntil | None = Field(default=None, description=_SHOWN_UNTIL)


class BulletinPublic(OutputModel):
    id: int
    title: str
    category: str
    priority: Priority
    kind: BulletinKind
    media_sha256: str | None
    text: str | None
    source_url: str | None = Field(default=None, description="relay: the upstream stream")
    window_minutes: int | None = Field(default=None, description="relay: each occurrence's "
                                       "length in minutes")
    filler_sha256: str | None = Field(default=None, description="relay: played while the "
                                      "source is gone")
    voice_sha256: str | None = Field(default=None, description="text: the media of its text "
                                     "spoken by the center (null until made)")
    voice_error: str | None = Field(default=None, description="text: why making the voice "
                                    "failed")
    shown_minutes: int | None = Field(default=None, description="text: kiosks' display window "
                                      "in minutes")
    shown_until: str | None = Field(default=None, description="text: kiosks' display end, "
                                    "local HH:MM")
    created_at: datetime
    updated_at: datetime
    status: BulletinStatus = Field(
        description="draft → submitted → approved (or rejected) → scheduled; only approved "
        "and scheduled bulletins are broadcast")
    unit_id: int | None = Field(description="the owning unit (null: made with the API token)")
    created_by: str
    submitted_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    review_note: str
    approval_skipped: bool = Field(description="an emergency sent without approval")


class ReviewNote(InputModel):
    """An optional note with submit/approve; required to reject (the reason)."""

    note: str = Field(default="", max_length=2000)


class Targets(InputModel):
    """Who hears it: the union of unit subtrees, groups and single devices."""

    unit_ids: list[int] = Field(default_factory=list)
    group_ids: list[int] = Field(default_factory=list)
    device_ids: list[DeviceId] = Field(default_factory=list)


class ScheduleCreate(InputModel):
    """One-off: give ``start_at``. Recurring: give ``rrule`` and ``valid_from``."""

    bulletin_id: int
    start_at: AwareDatetime | None = None
    rrule: str | None = Field(default=None, max_length=1000,
                              examples=["FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0;BYSECOND=0"])
    valid_from: AwareDatetime | None = Field(
        default=None, description="recurring: first possible occurrence; its local wall time "
        "in `timezone` is the RRULE's DTSTART")
    valid_until: AwareDatetime | None = None
    timezone: str | None = Field(default=None, description="IANA zone; default TT_TIMEZONE")
    targets: Targets


class ScheduleUpdate(InputModel):
    """Fields to change; any change makes a new revision (new item ids) and republishes."""

    bulletin_id: int | None = None
    start_at: AwareDatetime | None = None
    rrule: str | None = Field(default=None, max_length=1000)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    timezone: str | None = None
    targets: Targets | None = None


class SchedulePublic(OutputModel):
    id: int
    bulletin_id: int
    kind: ScheduleKind
    start_at: datetime | None
    rrule: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    timezone: str
    revision: int
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    targets: Targets
    device_ids: list[str] = Field(description="devices the targets resolve to now")
    next_instants: list[datetime] | None = Field(
        default=None, description="upcoming occurrences in UTC (single-schedule answers only)")
    delivery: DeliveryReport | None = None
