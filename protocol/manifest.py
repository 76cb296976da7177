"""Center -> device messages: the retained manifest and one-shot commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from protocol.base import FrozenModel, Priority, UtcDatetime
from protocol.feedback import FeedbackAnswer, FeedbackCategory, Survey
from protocol.live import LiveContent, StreamId
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
    """A text notice, for kiosks: shown from the item's ``start_at`` until ``ends_at``.

    Loudspeakers never get one: the center sends them the bulletin's voice (``AudioContent``).
    ``ends_at`` is left out of the JSON when None, so agents without it still parse the item
    (a kiosk then shows the notice until the end of the lateness limit).
    """

    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=20_000)
    lang: str = "vi"
    ends_at: UtcDatetime | None = Field(default=None, exclude_if=lambda v: v is None)


ItemContent = Annotated[AudioContent | TextContent | LiveContent, Field(discriminator="type")]


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
    # kiosks: "Did you hear it?" questions to ask (optional; left out of the JSON when empty)
    surveys: tuple[Survey, ...] = Field(default=(), exclude_if=lambda v: len(v) == 0)
    # kiosks: training modules to download by hash and serve offline (optional, v1-compatible)
    training_bundles: tuple[TrainingBundleRef, ...] = ()
    # signing-key rotation (docs/protocol.md): when not empty, the exact set of center public
    # keys (base64) the device trusts from now on. Left out of the JSON when empty.
    trusted_keys: tuple[str, ...] = Field(default=(), max_length=4,
                                          exclude_if=lambda v: len(v) == 0)


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


class RotateCredential(FrozenModel):
    """Use this broker password from the next connection on (the old one stays the fallback
    until the new one has worked). Sent only on the device's own command topic."""

    type: Literal["rotate_credential"] = "rotate_credential"
    password: str = Field(min_length=16, max_length=200)


class MoveBroker(FrozenModel):
    """Connect to this broker with this password from now on: stored, acknowledged, then the
    agent restarts onto it. The center created the account there first. Sent only on the
    device's own command topic."""

    type: Literal["move_broker"] = "move_broker"
    url: str = Field(max_length=300, pattern=r"^mqtts?://[^/:\s]+(:[0-9]{1,5})?$")
    password: str = Field(min_length=16, max_length=200)


class ReleaseRef(FrozenModel):
    """Where an agent release's signed release manifest is, and its SHA-256."""

    version: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z.+_-]+$")
    manifest_url: str = Field(min_length=1, max_length=2000)
    manifest_sha256: Sha256Hex


class UpdateAgent(FrozenModel):
    """Install this agent release side by side, restart into it and confirm it within
    ``confirm_within_s``, or roll back by itself."""

    type: Literal["update"] = "update"
    release: ReleaseRef
    rollout_id: int | None = None
    confirm_within_s: int = Field(default=300, ge=30, le=3600)


class LiveCapture(FrozenModel):
    """Be the source of a live session: capture the device's microphone, encode it to
    Ogg/Opus and POST it chunk by chunk to ``{url}/source`` with ``token`` until ``until``,
    a ``stop`` command, or the center refusing it (the session ended)."""

    type: Literal["live_capture"] = "live_capture"
    stream_id: StreamId
    url: str = Field(min_length=1, max_length=2000)
    token: str = Field(min_length=16, max_length=128, pattern=r"^[0-9A-Za-z_-]+$")
    until: UtcDatetime


CommandAction = Annotated[
    PlayNow | StopPlayback | SetVolume | RotateCredential | UpdateAgent | MoveBroker
    | LiveCapture,
    Field(discriminator="type"),
]


class Command(FrozenModel):
    """A one-shot order with an id and an expiry; the agent answers with a CommandAck."""

    type: Literal["command"] = "command"
    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=100)
    device_id: str
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    action: CommandAction
