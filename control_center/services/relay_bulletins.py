"""The stream behind a relay bulletin (tiếp sóng): its fields checked, made and kept in step.

A relay bulletin has exactly one ``LiveStream`` (kind relay): the upstream URL, the window
each occurrence lasts, the optional filler and the secret device tokens derive from. Editing
the source keeps the stream's id and secret (tokens already in manifests stay valid). The
windows and the manifest content built from a stream are in ``control_center.live.relays``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.live_tokens import new_secret, new_stream_id
from control_center.errors import InvalidInput
from control_center.models import Bulletin, BulletinKind, LiveKind, LiveState, LiveStream
from control_center.services import media_store

RELAY_FIELDS = ("source_url", "window_minutes", "filler_sha256")
MAX_URL_CHARS = 2000
MAX_WINDOW_MINUTES = 1440
DELAY_MS = 4000
"""A relay's playout delay: its segments are 2 s (``workers.live_relays``), so each must be
written and carried, over a thin link too, before its instant plus this."""
GONE_AFTER_S = 10


def check_source_url(url: str) -> None:
    """Refuse what a segmenter cannot pull: anything but an http(s) URL with a host."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"source_url is {len(url)} characters long: at most "
                           f"{MAX_URL_CHARS} are kept; use the stream's shorter address")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise InvalidInput(f"source_url {url[:200]!r} is not a URL ({exc})") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"source_url must start with http:// or https:// (an Icecast/HTTP "
                           f"stream or an HLS playlist), not {url[:200]!r}")
    if not host:
        raise InvalidInput(f"source_url {url[:200]!r} names no host: give the full address, "
                           "e.g. https://radio.example.vn/vov1.m3u8")


def check_relay_fields(
    session: Session, *, kind: BulletinKind, source_url: str | None,
    window_minutes: int | None, filler_sha256: str | None,
) -> None:
    """A relay needs a source URL and a window (filler optional, ready media); other kinds
    take none of the three."""
    if kind != BulletinKind.RELAY:
        given = [name for name, value in zip(
            RELAY_FIELDS, (source_url, window_minutes, filler_sha256), strict=True)
            if value is not None]
        if given:
            raise InvalidInput(f"{', '.join(given)}: only a relay bulletin (kind=relay) takes "
                               f"these; drop them from this {kind.value} bulletin")
        return
    if not source_url:
        raise InvalidInput("a relay bulletin needs source_url: the http(s) address of the "
                           "upstream station's stream (Icecast/HTTP or an HLS playlist)")
    check_source_url(source_url)
    if window_minutes is None:
        raise InvalidInput("a relay bulletin needs window_minutes: how long each occurrence "
                           f"relays the source (1–{MAX_WINDOW_MINUTES})")
    if not 1 <= window_minutes <= MAX_WINDOW_MINUTES:
        raise InvalidInput(f"window_minutes must be between 1 and {MAX_WINDOW_MINUTES}, not "
                           f"{window_minutes}")
    if filler_sha256:
        media_store.require_ready(session, sha256=filler_sha256)


def create_stream(
    session: Session, *, bulletin: Bulletin, source_url: str, window_minutes: int,
    filler_sha256: str | None, now: datetime,
) -> LiveStream:
    """The relay bulletin's stream (prepared; its segmenter runs in the windows)."""
    stream = LiveStream(
        id=new_stream_id(), secret=new_secret(),
        kind=LiveKind.RELAY, title=bulletin.title, priority=bulletin.priority,
        state=LiveState.PREPARED, bulletin_id=bulletin.id, source_url=source_url,
        window_s=window_minutes * 60, unit_id=bulletin.unit_id, created_by=bulletin.created_by,
        delay_ms=DELAY_MS, gone_after_s=GONE_AFTER_S, filler_sha256=filler_sha256, runs=0,
        created_at=now,
    )
    session.add(stream)
    return stream


def stream_of(session: Session, *, bulletin_id: int) -> LiveStream | None:
    return session.scalar(select(LiveStream).where(LiveStream.bulletin_id == bulletin_id))


def update_stream(session: Session, *, bulletin: Bulletin, changes: Mapping[str, object]
                  ) -> None:
    """Apply the relay fields in ``changes`` and mirror the bulletin's title and priority;
    the stream keeps its id and secret."""
    stream = stream_of(session, bulletin_id=bulletin.id)
    if stream is None:
        return
    if "source_url" in changes:
        stream.source_url = str(changes["source_url"])
    window = changes.get("window_minutes")
    if isinstance(window, int):
        stream.window_s = window * 60
    if "filler_sha256" in changes:
        filler = changes["filler_sha256"]
        stream.filler_sha256 = filler if isinstance(filler, str) else None
    stream.title, stream.priority = bulletin.title, bulletin.priority
