"""Center -> device messages: the retained manifest and one-shot commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from protocol.base import FrozenModel, Priority, UtcDatetime
from protocol.feedback import FeedbackAnswer, FeedbackCategory
from protocol.training import TrainingBundleRef

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AudioContent(FrozenModel):
    """A recorded bulletin: the agent downloads it by hash and plays it from its cache."""

    type: Literal["audio"] = "audio"
    sha256: Sha256Hex
    url: str = Field(min_length=1, max_length=2000)
    size: int = Field(gt=0)
    duration_ms: int = Field(gt=0)
    mime: str = "application/octet-stream"


class TextContent(FrozenModel):
    """A text bulletin (shown on kiosks; spoken by on-device TTS in a later version)."""

    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=20_000)
    lang: str = "vi"


ItemContent = Annotated[AudioContent | TextContent, Field(discriminator="type")]


class PlayItem(FrozenModel):
    """One concrete occurrence of a bulletin on a device at an absolute instant."""

    item_id: str = Field(min_length=1, max_length=200)
    bulletin_id: int
    title: str = Field(max_length=500)
    priority: Priority = Priority.NORMAL
    start_at: UtcDatetime
    content: ItemContent
    # Among due items of equal priority the lower order plays first (the commune's ranking of
    # clashing priority items). Left out of the JSON when 0, so unranked items serialise
    # exactly as before and agents without this field still accept them.
    order: int = Field(default=0, ge=0, le=10_000, exclude_if=lambda v: v == 0)


class Manifest(FrozenModel):
    """Everything one device should play, with a version that only grows."""

    type: Literal["manifest"] = "manifest"
    v: Literal[1] = 1
    device_id: str
    version: int = Field(ge=1)
    issued_at: UtcDatetime
    items: tuple[PlayItem, ...] = ()
    # kiosks: answers to feedback made there, and the categories offered (optional, v1-compatible)
    answers: tuple[FeedbackAnswer, ...] = ()
    feedback_categories: tuple[FeedbackCategory, ...] = ()
    # kiosks: training modules to download by hash and serve offline (optional, v1-compatible)
    training_bundles: tuple[TrainingBundleRef, ...] = ()


class PlayNow(FrozenModel):
    """Play an item immediately (it interrupts anything of lower priority)."""

    type: Literal["play_now"] = "play_now"
    item: PlayItem


class StopPlayback(FrozenModel):
    """Stop whatever is playing; it is reported as interrupted."""

    type: Literal["stop"] = "stop"


class SetVolume(FrozenModel):
    """Set the output volume in percent."""

    type: Literal["set_volume"] = "set_volume"
    level: int = Field(ge=0, le=100)


CommandAction = Annotated[PlayNow | StopPlayback | SetVolume, Field(discriminator="type")]


class Command(FrozenModel):
    """A one-shot order with an id and an expiry; the agent answers with a CommandAck."""

    type: Literal["command"] = "command"
    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=100)
    device_id: str
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    action: CommandAction
