"""Proof of play: rows scheduled by manifests, then moved along by device events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from control_center.models import PlayLog, PlayStatus
from control_center.services.expansion import schedule_id_of
from protocol.base import Priority
from protocol.events import (
    PlayCompleted,
    PlayEvent,
    PlayFailed,
    PlayInterrupted,
    PlayShown,
    PlayStarted,
)
from protocol.manifest import PlayItem

_TERMINAL = {PlayStatus.COMPLETED, PlayStatus.INTERRUPTED, PlayStatus.FAILED, PlayStatus.SHOWN}
_CHUNK = 400


@dataclass(frozen=True, slots=True)
class ManifestPlays:
    """One device's newly built manifest, as far as its play rows are concerned."""

    device_id: str
    items: Sequence[PlayItem]
    truncated_after: datetime | None = None


def record_manifest(
    session: Session, *, device_id: str, items: Sequence[PlayItem], cutoff: datetime,
    now: datetime, truncated_after: datetime | None = None,
) -> None:
    """Add ``scheduled`` rows for new items; cancel still-scheduled rows no longer listed.

    Rows older than ``cutoff`` left the manifest because of age, not a change: untouched.
    With a truncated manifest, rows after its last item are left alone too.
    """
    record_manifests(session, manifests=[ManifestPlays(device_id, items, truncated_after)],
                     cutoff=cutoff, now=now)


def record_manifests(
    session: Session, *, manifests: Sequence[ManifestPlays], cutoff: datetime, now: datetime,
) -> None:
    """:func:`record_manifest` for many devices at once: a few bulk statements per
    ``_CHUNK`` devices instead of several per device (a province-wide schedule touches
    thousands)."""
    for start in range(0, len(manifests), _CHUNK):
        _record_chunk(session, manifests[start:start + _CHUNK], cutoff=cutoff, now=now)


def _record_chunk(
    session: Session, manifests: Sequence[ManifestPlays], *, cutoff: datetime, now: datetime,
) -> None:
    by_device = {m.device_id: m for m in manifests}
    wanted = {(m.device_id, item.item_id): item for m in manifests for item in m.items}
    existing: dict[tuple[str, str], tuple[int, PlayStatus, Priority, int | None]] = {}
    item_ids = sorted({iid for _, iid in wanted})
    for start in range(0, len(item_ids), _CHUNK):
        rows = session.execute(
            select(PlayLog.device_id, PlayLog.item_id, PlayLog.id, PlayLog.status,
                   PlayLog.priority, PlayLog.bulletin_id)
            .where(PlayLog.device_id.in_(list(by_device)),
                   PlayLog.item_id.in_(item_ids[start:start + _CHUNK]))
        )
        existing.update({(d, iid): (pid, st, prio, bid) for d, iid, pid, st, prio, bid in rows
                         if (d, iid) in wanted})
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for (device_id, iid), item in wanted.items():
        row = existing.get((device_id, iid))
        if row is None:
            inserts.append({
                "device_id": device_id, "item_id": iid, "schedule_id": schedule_id_of(iid),
                "bulletin_id": item.bulletin_id, "priority": item.priority,
                "scheduled_at": item.start_at, "status": PlayStatus.SCHEDULED,
                "updated_at": now,
            })
            continue
        pid, status, priority, bulletin_id = row
        if status == PlayStatus.CANCELLED or (
            status == PlayStatus.SCHEDULED
            and (priority, bulletin_id) != (item.priority, item.bulletin_id)
        ):
            updates.append({"id": pid, "status": PlayStatus.SCHEDULED, "reason": None,
                            "priority": item.priority, "bulletin_id": item.bulletin_id,
                            "updated_at": now})
    if inserts:
        session.execute(insert(PlayLog), inserts)
    if updates:
        session.execute(update(PlayLog), updates)
    stale = select(PlayLog.id, PlayLog.device_id, PlayLog.item_id, PlayLog.scheduled_at).where(
        PlayLog.device_id.in_(list(by_device)),
        PlayLog.status == PlayStatus.SCHEDULED,
        PlayLog.scheduled_at >= cutoff,
    )
    gone = []
    for pid, device_id, iid, scheduled_at in session.execute(stale):
        limit = by_device[device_id].truncated_after
        if (device_id, iid) not in wanted and (limit is None or scheduled_at <= limit):
            gone.append(pid)
    for start in range(0, len(gone), _CHUNK):
        session.execute(
            update(PlayLog)
            .where(PlayLog.id.in_(gone[start:start + _CHUNK]))
            .values(status=PlayStatus.CANCELLED, reason="removed from the manifest", updated_at=now)
        )


def play_rows(session: Session, *, keys: set[tuple[str, str]]) -> dict[tuple[str, str], PlayLog]:
    """The play rows of these (device id, item id) pairs, by pair (a few queries for many),
    locked until the transaction ends (see :func:`apply_play_event`), in the order of their
    ids so that two batches never wait on each other in a circle."""
    rows: dict[tuple[str, str], PlayLog] = {}
    devices = sorted({d for d, _ in keys})
    items = sorted({i for _, i in keys})
    for start in range(0, len(devices), _CHUNK):
        for first in range(0, len(items), _CHUNK):
            for row in session.scalars(select(PlayLog).where(
                    PlayLog.device_id.in_(devices[start:start + _CHUNK]),
                    PlayLog.item_id.in_(items[first:first + _CHUNK]))
                    .order_by(PlayLog.id).with_for_update()):
                if (row.device_id, row.item_id) in keys:
                    rows[(row.device_id, row.item_id)] = row
    return rows


def apply_play_event(session: Session, *, event: PlayEvent, now: datetime,
                     rows: dict[tuple[str, str], PlayLog] | None = None) -> PlayLog:
    """Move the play row of ``event`` forward; create it for items the center never listed.

    ``rows``: the rows already read (:func:`play_rows`) for a batch of events; a row created
    here is added to it. The row is read for update: with several center processes a play's
    start and end may be stored at once by two of them, and without the lock the later commit
    would undo the other's change (PostgreSQL; SQLite has one writer at a time anyway)."""
    key = (event.device_id, event.item_id)
    if rows is not None:
        row = rows.get(key)
    else:
        row = session.scalar(
            select(PlayLog).where(
                PlayLog.device_id == event.device_id, PlayLog.item_id == event.item_id
            ).with_for_update()
        )
    if row is None:
        row = PlayLog(
            device_id=event.device_id, item_id=event.item_id,
            schedule_id=schedule_id_of(event.item_id), bulletin_id=event.bulletin_id,
            priority=event.priority, scheduled_at=event.scheduled_at,
            status=PlayStatus.SCHEDULED, updated_at=now,
        )
        session.add(row)
        if rows is not None:
            rows[key] = row
    if isinstance(event, PlayStarted):
        if row.status not in _TERMINAL:
            row.status = PlayStatus.STARTED
            row.started_at = event.started_at
    elif isinstance(event, PlayCompleted | PlayInterrupted) and event.heard_ms is not None:
        # a live window: each stretch played (before and after an emergency, or a restart)
        # adds what it heard; the row keeps the window's first start. Events are applied once
        # each (by event_id), so the sum is exact.
        completed = isinstance(event, PlayCompleted)
        row.status = PlayStatus.COMPLETED if completed else PlayStatus.INTERRUPTED
        row.started_at = min(filter(None, (row.started_at, event.started_at)))
        row.ended_at = max(filter(None, (row.ended_at, event.ended_at)))
        row.reason = None if completed else event.reason  # type: ignore[union-attr]
        row.heard_ms = (row.heard_ms or 0) + event.heard_ms
    elif isinstance(event, PlayCompleted):
        row.status = PlayStatus.COMPLETED
        row.started_at, row.ended_at, row.reason = event.started_at, event.ended_at, None
    elif isinstance(event, PlayInterrupted):
        row.status = PlayStatus.INTERRUPTED
        row.started_at, row.ended_at, row.reason = event.started_at, event.ended_at, event.reason
    elif isinstance(event, PlayShown):  # a kiosk's text notice: first shown at shown_at
        row.status = PlayStatus.SHOWN
        row.started_at, row.reason = event.shown_at, None
        row.ended_at = None
    elif isinstance(event, PlayFailed):
        row.status = PlayStatus.FAILED
        row.reason = event.reason
        row.ended_at = event.at
    row.updated_at = now
    return row


def list_plays(
    session: Session, *, devices: Select[str] | None = None,
    schedule_id: int | None = None, bulletin_id: int | None = None,
    status: PlayStatus | None = None, limit: int = 500, offset: int = 0,
) -> list[PlayLog]:
    """Play log rows ordered by scheduled time; ``devices`` selects the device ids to include."""
    query = select(PlayLog)
    if devices is not None:
        query = query.where(PlayLog.device_id.in_(devices))
    if schedule_id is not None:
        query = query.where(PlayLog.schedule_id == schedule_id)
    if bulletin_id is not None:
        query = query.where(PlayLog.bulletin_id == bulletin_id)
    if status is not None:
        query = query.where(PlayLog.status == status)
    query = query.order_by(PlayLog.scheduled_at, PlayLog.id).limit(limit).offset(offset)
    return list(session.scalars(query))
