"""Relay bulletins on the air: their open windows, and the live items devices receive.

Each occurrence of a broadcastable relay bulletin is a window [instant, instant + window).
The relay runner asks :func:`open_relay_windows` which streams to segment; manifests carry
one ``LiveContent`` item per occurrence, whose ``ends_at`` and per-device ``token``
:func:`for_device` fills in (the stream's row is made with its bulletin:
``services.relay_bulletins``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.live_tokens import device_token
from control_center.errors import InvalidInput
from control_center.models import (
    Bulletin,
    BulletinKind,
    BulletinStatus,
    LiveKind,
    LiveStream,
    MediaAsset,
    MediaState,
    Schedule,
)
from control_center.services.conflicts import timing_instants, timing_of
from control_center.services.expansion import GRACE
from control_center.services.manifests import media_url
from protocol.base import Priority
from protocol.live import LiveContent, LiveFiller
from protocol.manifest import PlayItem

log = logging.getLogger(__name__)

_TEMPLATE_TOKEN = "per-device-token"  # replaced by for_device before anything is sealed


@dataclass(frozen=True, slots=True)
class RelayWindow:
    """One stream's time on the air: [start, end), occurrences that overlap merged."""

    stream_id: str
    source_url: str
    start: datetime
    end: datetime
    bulletin_id: int
    priority: Priority


@dataclass(frozen=True, slots=True)
class RelayPlacement:
    """What turns a relay bulletin's content template into one device's item."""

    secret: str
    window: timedelta

    @property
    def keep(self) -> timedelta:
        """How long after its start an occurrence stays in manifests (a device that boots
        mid-window joins it): its window, and at least the usual grace."""
        return max(self.window, GRACE)


def stream_url(public_base_url: str, stream_id: str) -> str:
    """Where devices pull the stream's segments (``{url}/next``)."""
    return f"{public_base_url}/api/v1/live/{stream_id}"


def relay_streams(session: Session, *, bulletin_ids: Iterable[int]) -> dict[int, LiveStream]:
    """The relay streams of these bulletins, by bulletin id (one query)."""
    ids = sorted(set(bulletin_ids))
    if not ids:
        return {}
    found = session.scalars(select(LiveStream).where(
        LiveStream.bulletin_id.in_(ids), LiveStream.kind == LiveKind.RELAY))
    return {s.bulletin_id: s for s in found if s.bulletin_id is not None}


def live_content_for(
    stream: LiveStream, *, public_base_url: str, filler: MediaAsset | None
) -> LiveContent:
    """The stream's manifest content, with a placeholder token and end (``for_device``)."""
    live_filler = None
    if filler is not None and filler.state == MediaState.READY:
        sha256, size, _, duration_ms = filler.delivery_file()
        live_filler = LiveFiller(sha256=sha256, url=media_url(public_base_url, sha256),
                                 size=size, duration_ms=duration_ms)
    return LiveContent(
        stream_id=stream.id, url=stream_url(public_base_url, stream.id), token=_TEMPLATE_TOKEN,
        ends_at=stream.created_at + timedelta(seconds=stream.window_s or 0),
        delay_ms=stream.delay_ms, gone_after_s=stream.gone_after_s, filler=live_filler)


def placement_of(stream: LiveStream) -> RelayPlacement:
    return RelayPlacement(stream.secret, timedelta(seconds=stream.window_s or 0))


def for_device(
    items: Sequence[PlayItem], *, placements: Mapping[int, RelayPlacement], device_id: str
) -> list[PlayItem]:
    """``items`` with each live item's ``ends_at`` (start + window) and this device's token;
    other items are returned as they are (only live items are copied)."""
    out = list(items)
    for index, item in enumerate(out):
        placement = placements.get(item.bulletin_id)
        if placement is None or not isinstance(item.content, LiveContent):
            continue
        content = item.content.model_copy(update={
            "ends_at": item.start_at + placement.window,
            "token": device_token(placement.secret, device_id)})
        out[index] = item.model_copy(update={"content": content})
    return out


def open_relay_windows(session: Session, *, now: datetime, lead: timedelta
                       ) -> list[RelayWindow]:
    """Windows of broadcastable relay bulletins (approved or scheduled, schedule not
    cancelled) open at ``now`` or starting within ``lead``, overlapping occurrences of one
    stream merged; sorted by start. Two queries."""
    rows = session.execute(
        select(LiveStream, Bulletin.priority)
        .join(Bulletin, Bulletin.id == LiveStream.bulletin_id)
        .where(LiveStream.kind == LiveKind.RELAY, Bulletin.kind == BulletinKind.RELAY,
               Bulletin.status.in_([BulletinStatus.APPROVED, BulletinStatus.SCHEDULED])))
    streams = {s.bulletin_id: (s, priority) for s, priority in rows}
    if not streams:
        return []
    schedules = session.scalars(select(Schedule).where(
        Schedule.bulletin_id.in_(sorted(b for b in streams if b is not None)),
        Schedule.cancelled_at.is_(None)).order_by(Schedule.id))
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for schedule in schedules:
        stream, _ = streams[schedule.bulletin_id]
        window = timedelta(seconds=stream.window_s or 0)
        try:
            instants = timing_instants(timing_of(schedule), start=now - window, end=now + lead)
        except InvalidInput as exc:  # a stored rule the time-zone database no longer takes
            log.error("relay schedule %s cannot be expanded: %s", schedule.id, exc)
            continue
        spans.setdefault(stream.id, []).extend(
            (start, start + window) for start in instants if start + window > now)
    found: list[RelayWindow] = []
    by_id = {s.id: (s, priority) for s, priority in streams.values()}
    for stream_id, intervals in spans.items():
        stream, priority = by_id[stream_id]
        for start, end in _merged(intervals):
            found.append(RelayWindow(stream_id, stream.source_url or "", start, end,
                                     stream.bulletin_id or 0, priority))
    found.sort(key=lambda w: (w.start, w.stream_id))
    return found


def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching intervals joined."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
