"""Device -> center messages: birth/will status and de-duplicated events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from protocol.base import FrozenModel, Priority, UtcDatetime
from protocol.feedback import FeedbackSubmitted, SurveyAnswered
from protocol.training import QuizAttemptSubmitted


class DeviceKind(StrEnum):
    SPEAKER = "speaker"
    KIOSK = "kiosk"


class Status(FrozenModel):
    """Retained on the status topic: the birth (online) or the last will (offline)."""

    type: Literal["status"] = "status"
    v: Literal[1] = 1
    device_id: str
    online: bool
    at: UtcDatetime
    agent_version: str = ""
    manifest_version: int | None = None


class _EventBase(FrozenModel):
    v: Literal[1] = 1
    event_id: str = Field(min_length=8, max_length=64)
    device_id: str
    at: UtcDatetime


class ManifestAccepted(_EventBase):
    type: Literal["manifest_accepted"] = "manifest_accepted"
    version: int


class MessageRejected(_EventBase):
    """A manifest or command was refused (bad signature, stale version, malformed...)."""

    type: Literal["message_rejected"] = "message_rejected"
    channel: str
    reason: str = Field(max_length=500)
    version: int | None = None


class MediaReady(_EventBase):
    type: Literal["media_ready"] = "media_ready"
    sha256: str
    size: int
    resumed_from: int = 0


class MediaFailed(_EventBase):
    type: Literal["media_failed"] = "media_failed"
    sha256: str
    reason: str = Field(max_length=500)


class _PlayEventBase(_EventBase):
    item_id: str
    bulletin_id: int
    priority: Priority
    scheduled_at: UtcDatetime


class PlayStarted(_PlayEventBase):
    type: Literal["play_started"] = "play_started"
    started_at: UtcDatetime


class PlayCompleted(_PlayEventBase):
    type: Literal["play_completed"] = "play_completed"
    started_at: UtcDatetime
    ended_at: UtcDatetime
    # live items: milliseconds of the source's audio actually played (not filler, not silence)
    heard_ms: int | None = Field(default=None, ge=0, exclude_if=lambda v: v is None)


class PlayInterrupted(_PlayEventBase):
    type: Literal["play_interrupted"] = "play_interrupted"
    started_at: UtcDatetime
    ended_at: UtcDatetime
    reason: str = Field(max_length=500)
    heard_ms: int | None = Field(default=None, ge=0, exclude_if=lambda v: v is None)


class LiveSourceState(StrEnum):
    LOST = "lost"  # no segment for the item's gone_after_s: filler (or silence) plays
    BACK = "back"  # segments come again: the source plays


class LiveSource(_EventBase):
    """A live item's source was lost or came back (at ``at``) while its window is open."""

    type: Literal["live_source"] = "live_source"
    item_id: str
    stream_id: str = Field(max_length=64)
    state: LiveSourceState
    reason: str = Field(default="", max_length=500)


class PlayShown(_PlayEventBase):
    """A kiosk showed a text notice; ``shown_at`` is the instant it first appeared."""

    type: Literal["play_shown"] = "play_shown"
    shown_at: UtcDatetime


class PlayFailed(_PlayEventBase):
    type: Literal["play_failed"] = "play_failed"
    reason: str = Field(max_length=500)


class CommandOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


class AgentFault(_EventBase):
    """A long-lived part of the agent failed unexpectedly and recovered (or is retrying).

    ``component`` names the loop or resource (``player``, ``downloader``, ``mqtt``,
    ``health``, ``housekeeper``, ``store``); ``count`` is how often it failed since the agent
    started; ``recovery`` says what the agent did about it."""

    type: Literal["agent_fault"] = "agent_fault"
    component: str = Field(min_length=1, max_length=40)
    error: str = Field(max_length=500)
    count: int = Field(default=1, ge=1)
    recovery: str = Field(default="", max_length=200)


class UpdateStage(StrEnum):
    DOWNLOADED = "downloaded"     # every file fetched and verified
    INSTALLED = "installed"       # the new environment is ready beside the running one
    RESTARTING = "restarting"     # switched over; the agent restarts into the new version
    CONFIRMED = "confirmed"       # healthy on the new version within the deadline: committed
    ROLLED_BACK = "rolled_back"   # not healthy in time (or crashed): back on the old version
    FAILED = "failed"             # refused before switching (download, checksum, install)


class UpdateReport(_EventBase):
    """How an ``update`` command goes, one event per stage."""

    type: Literal["update"] = "update"
    version: str = Field(max_length=64)
    stage: UpdateStage
    running_version: str = Field(default="", max_length=64)
    rollout_id: int | None = None
    reason: str = Field(default="", max_length=500)
    duration_ms: int | None = Field(default=None, ge=0)


class CommandAck(_EventBase):
    type: Literal["command_ack"] = "command_ack"
    command_id: str
    outcome: CommandOutcome
    reason: str = ""


DeviceEvent = Annotated[
    ManifestAccepted
    | MessageRejected
    | MediaReady
    | MediaFailed
    | PlayStarted
    | PlayCompleted
    | PlayInterrupted
    | PlayFailed
    | PlayShown
    | LiveSource
    | CommandAck
    | AgentFault
    | UpdateReport
    | FeedbackSubmitted
    | SurveyAnswered
    | QuizAttemptSubmitted,
    Field(discriminator="type"),
]
PlayEvent = PlayStarted | PlayCompleted | PlayInterrupted | PlayFailed | PlayShown

DEVICE_EVENT_ADAPTER: TypeAdapter[DeviceEvent] = TypeAdapter(DeviceEvent)
