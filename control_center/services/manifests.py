"""Build a device's manifest: items from active schedules, a content hash, a sealed body."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from control_center.errors import InvalidInput
from control_center.models import (
    Bulletin,
    BulletinKind,
    Distribution,
    MediaAsset,
    Schedule,
    ScheduleKind,
)
from control_center.services import text_bulletins
from control_center.services.expansion import GRACE, Recurrence, expand_recurring, item_id
from protocol.codec import MAX_PAYLOAD_BYTES
from protocol.feedback import FeedbackAnswer, FeedbackCategory, Survey
from protocol.manifest import AudioContent, ItemContent, Manifest, PlayItem, TextContent
from protocol.signing import Signer
from protocol.training import TrainingBundleRef

log = logging.getLogger(__name__)

MAX_ITEMS = 500


def media_url(public_base_url: str, sha256: str) -> str:
    return f"{public_base_url}/api/v1/media/{sha256}"


def schedule_instants(
    schedule: Schedule, *, now: datetime, horizon: timedelta, keep: timedelta = GRACE
) -> list[datetime]:
    """The instants of a schedule that belong in manifests built at ``now``: those that
    started at most ``keep`` ago (a relay's window: a device that boots mid-window joins it)."""
    if schedule.kind == ScheduleKind.ONE_OFF:
        start = schedule.start_at
        return [start] if start is not None and start >= now - keep else []
    if schedule.rrule is None or schedule.valid_from is None:
        return []
    rec = Recurrence(schedule.rrule, schedule.valid_from, schedule.valid_until, schedule.timezone)
    try:
        return expand_recurring(rec, window_start=now - keep, window_end=now + horizon)
    except InvalidInput as exc:  # stored rules were validated; a tz database change could do it
        log.error("schedule %s cannot be expanded any more: %s", schedule.id, exc)
        return []


def bulletin_content(
    bulletin: Bulletin, *, media: Mapping[str, MediaAsset], public_base_url: str,
    kiosk: bool = False,
) -> ItemContent | None:
    """What a device plays for a bulletin, or None when its content is missing (a relay's
    live content is built from its stream: ``live.relays.live_content_for``). A text
    bulletin is its text on a kiosk (``ends_at`` set per occurrence:
    ``text_bulletins.with_display_ends``) and its voice elsewhere (None until it is made)."""
    if bulletin.kind == BulletinKind.RELAY:
        return None
    if bulletin.kind == BulletinKind.TEXT:
        if kiosk:
            return TextContent(text=bulletin.text) if bulletin.text else None
        return text_bulletins.voice_content(
            bulletin, media=media, url=media_url(public_base_url, "{sha256}"))
    asset = media.get(bulletin.media_sha256 or "")
    if bulletin.kind == BulletinKind.AUDIO and asset is not None and asset.state == "ready":
        sha256, size, mime, duration_ms = asset.delivery_file()  # the Opus rendition
        return AudioContent(
            sha256=sha256,
            url=media_url(public_base_url, sha256),
            size=size,
            duration_ms=duration_ms,
            mime=mime,
        )
    log.warning("bulletin %s has no playable content; skipped", bulletin.id)
    return None


def schedule_orders(session: Session, *, schedule_ids: Iterable[int]) -> dict[int, int]:
    """The commune's rank of each schedule placed for a distribution (absent: order 0)."""
    ids = list(set(schedule_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Distribution.schedule_id, Distribution.rank)
        .where(Distribution.schedule_id.in_(ids), Distribution.rank != 0)
    )
    return {sid: rank for sid, rank in rows if sid is not None}


def _orders_of(schedules: Sequence[Schedule]) -> dict[int, int]:
    """Ranks looked up through the session the schedules were loaded in (none if detached)."""
    session = object_session(schedules[0]) if schedules else None
    if session is None:
        return {}
    return schedule_orders(session, schedule_ids=[s.id for s in schedules])


def build_items(
    *,
    schedules: Iterable[Schedule],
    instants: Mapping[int, Sequence[datetime]],
    bulletins: Mapping[int, Bulletin],
    contents: Mapping[int, ItemContent | None],
    orders: Mapping[int, int] | None = None,
) -> list[PlayItem]:
    """Every occurrence of the given schedules, sorted by start, capped at MAX_ITEMS.

    Only bulletins whose status is broadcastable (approved, scheduled) play: a bulletin sent
    back to draft keeps its schedules but leaves the manifests. ``orders`` maps a schedule id
    to ``PlayItem.order`` (the commune's rank); when not given it is read from the schedules'
    session (``schedule_orders``).
    """
    schedules = list(schedules)
    if orders is None:
        orders = _orders_of(schedules)
    items: list[PlayItem] = []
    for schedule in schedules:
        bulletin = bulletins.get(schedule.bulletin_id)
        content = contents.get(schedule.bulletin_id)
        if bulletin is None or content is None or not bulletin.status.broadcastable:
            continue
        for instant in instants.get(schedule.id, ()):
            items.append(
                PlayItem(
                    item_id=item_id(
                        schedule_id=schedule.id, revision=schedule.revision, instant=instant
                    ),
                    bulletin_id=bulletin.id,
                    title=bulletin.title,
                    priority=bulletin.priority,
                    start_at=instant,
                    content=content,
                    order=orders.get(schedule.id, 0),
                )
            )
    items.sort(key=lambda i: (i.start_at, i.item_id))
    return items[:MAX_ITEMS]


def content_hash(items: Sequence[PlayItem]) -> str:
    """SHA-256 over the items only (not version or issue time): equal content, equal hash."""
    data = [item.model_dump(mode="json") for item in items]
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def seal_manifest(
    signer: Signer, *, device_id: str, version: int, issued_at: datetime,
    items: Sequence[PlayItem], answers: Sequence[FeedbackAnswer] = (),
    categories: Sequence[FeedbackCategory] = (), bundles: Sequence[TrainingBundleRef] = (),
    trusted_keys: Sequence[str] = (), surveys: Sequence[Survey] = (),
) -> tuple[bytes, tuple[PlayItem, ...]]:
    """Sign the manifest; drop the latest items if the envelope would exceed the size cap."""
    kept = tuple(items)
    while True:
        manifest = Manifest(device_id=device_id, version=version, issued_at=issued_at, items=kept,
                            answers=tuple(answers), feedback_categories=tuple(categories),
                            training_bundles=tuple(bundles), trusted_keys=tuple(trusted_keys),
                            surveys=tuple(surveys))
        body = signer.seal(manifest)
        if len(body) <= MAX_PAYLOAD_BYTES or not kept:
            break
        shorter = max(0, len(kept) * 3 // 4)
        log.warning(
            "manifest for %s is %d bytes with %d items; keeping the first %d",
            device_id, len(body), len(kept), shorter,
        )
        kept = kept[:shorter]
    return body, kept
