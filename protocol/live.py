"""Live audio: a relay of an upper station or a live microphone, pulled by devices.

The center segments the source with ffmpeg (HLS, fMP4, Opus) and signs one ``LiveSegment``
descriptor per segment: the stream, the segment's place, its absolute instant
(``EXT-X-PROGRAM-DATE-TIME``) and the SHA-256 of its bytes. A device pulls segments over HTTP
with the token its signed manifest or command gave it, checks the descriptor's signature and
the bytes' hash (a man-in-the-middle cannot inject audio) and plays each sample at its
instant plus a fixed playout delay, by its measured clock: every speaker of a commune plays
the same sample at the same instant.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from protocol.base import FrozenModel, UtcDatetime

StreamId = Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]
_Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class LiveFiller(FrozenModel):
    """Audio played in a loop while the source is gone (downloaded by hash beforehand)."""

    sha256: _Sha256
    url: str = Field(min_length=1, max_length=2000)
    size: int = Field(gt=0)
    duration_ms: int = Field(gt=0)


class LiveContent(FrozenModel):
    """Live audio for a window: from the item's ``start_at`` until ``ends_at``.

    ``url`` is the stream's base URL (``{url}/next`` serves the segments), ``token`` this
    device's token for this stream. When no segment has come for ``gone_after_s`` the device
    reports the source lost and plays ``filler`` (or silence) until segments come again.
    """

    type: Literal["live"] = "live"
    stream_id: StreamId
    url: str = Field(min_length=1, max_length=2000)
    token: str = Field(min_length=16, max_length=128, pattern=r"^[0-9A-Za-z_-]+$")
    ends_at: UtcDatetime
    delay_ms: int = Field(default=1500, ge=200, le=10_000)
    gone_after_s: int = Field(default=10, ge=2, le=600)
    filler: LiveFiller | None = Field(default=None, exclude_if=lambda v: v is None)


class LiveSegment(FrozenModel):
    """The signed descriptor of one segment (sent beside its bytes, in a response header).

    ``run`` counts the segmenter's starts for this stream (a restart begins a new run, whose
    first segment needs the decoder restarted); ``seq`` counts segments within a run.
    ``init_sha256`` names the run's initialisation segment, fetched by hash. The end of a
    stream is not a segment: the center answers 410 once a stopped stream has no more.
    """

    type: Literal["live_segment"] = "live_segment"
    v: Literal[1] = 1
    stream_id: StreamId
    run: int = Field(ge=1)
    seq: int = Field(ge=0)
    pdt: UtcDatetime
    duration_ms: int = Field(ge=0, le=60_000)
    sha256: _Sha256
    init_sha256: _Sha256
