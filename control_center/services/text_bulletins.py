"""Text bulletins on devices: loudspeakers play the text's voice, kiosks show the text.

The voice is the text spoken by the center's TTS (``workers.bulletin_voices``), stored as a
media asset processed like an upload; a text bulletin whose voice is not ready yet is left out
of loudspeakers' manifests. A kiosk shows each occurrence from its instant until
``TextContent.ends_at``: ``shown_minutes`` after it, or the next ``shown_until`` local time of
day, or (neither set) the end of that local day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from control_center.errors import InvalidInput
from control_center.models import Bulletin, BulletinKind, MediaAsset, MediaState
from protocol.manifest import AudioContent, PlayItem, TextContent

DISPLAY_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
VOICE_PENDING = "đang tạo giọng đọc / voice being made"


def check_display(*, kind: BulletinKind, shown_minutes: int | None,
                  shown_until: str | None) -> None:
    """Only text bulletins take a display window, and only one of its two forms."""
    if shown_minutes is None and shown_until is None:
        return
    if kind != BulletinKind.TEXT:
        raise InvalidInput("shown_minutes and shown_until are for text bulletins (kiosks show "
                           "the text): drop them for this kind")
    if shown_minutes is not None and shown_until is not None:
        raise InvalidInput("give shown_minutes (a duration) or shown_until (a time of day, "
                           "HH:MM), not both")


def display_end(start_at: datetime, *, shown_minutes: int | None,
                shown_until: str | None) -> datetime:
    """When a kiosk stops showing the occurrence that starts at ``start_at``."""
    if shown_minutes is not None:
        return start_at + timedelta(minutes=shown_minutes)
    local = start_at.astimezone(DISPLAY_TZ)
    if shown_until is None:
        midnight = datetime.combine(local.date() + timedelta(days=1), time(), DISPLAY_TZ)
        return midnight.astimezone(start_at.tzinfo)
    hours, minutes = (int(part) for part in shown_until.split(":"))
    end = datetime.combine(local.date(), time(hours, minutes), DISPLAY_TZ)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), time(hours, minutes),
                               DISPLAY_TZ)
    return end.astimezone(start_at.tzinfo)


def display_keep(bulletin: Bulletin) -> timedelta:
    """How long after its instant an occurrence may still be shown (its manifests keep it
    that long): ``shown_minutes``, else at most a day (the end of that day, or the next
    ``shown_until``)."""
    if bulletin.shown_minutes is not None:
        return timedelta(minutes=bulletin.shown_minutes)
    return timedelta(days=1)


def voice_content(bulletin: Bulletin, *, media: Mapping[str, MediaAsset],
                  url: str) -> AudioContent | None:
    """A loudspeaker's content for a text bulletin: its ready voice (None while it is made).
    ``url``: where devices download the voice's delivery file (``{sha256}`` filled in)."""
    asset = media.get(bulletin.voice_sha256 or "")
    if asset is None or asset.state != MediaState.READY:
        return None
    sha256, size, mime, duration_ms = asset.delivery_file()
    return AudioContent(sha256=sha256, url=url.format(sha256=sha256), size=size,
                        duration_ms=duration_ms, mime=mime)


def with_display_ends(items: Sequence[PlayItem],
                      bulletins: Mapping[int, Bulletin]) -> list[PlayItem]:
    """A kiosk's items, each text notice given its occurrence's ``ends_at``."""
    out: list[PlayItem] = []
    for item in items:
        bulletin = bulletins.get(item.bulletin_id)
        if isinstance(item.content, TextContent) and bulletin is not None:
            ends_at = display_end(item.start_at, shown_minutes=bulletin.shown_minutes,
                                  shown_until=bulletin.shown_until)
            item = item.model_copy(update={
                "content": item.content.model_copy(update={"ends_at": ends_at})})
        out.append(item)
    return out


def voice_state(bulletin: Bulletin) -> str | None:
    """What the console says about a text bulletin's voice (None: not a text bulletin)."""
    if bulletin.kind != BulletinKind.TEXT:
        return None
    if bulletin.voice_sha256:
        return "ready"
    return "failed" if bulletin.voice_error else "pending"
