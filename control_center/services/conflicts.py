"""Overlaps between a proposed schedule and the active schedules on the same devices.

A device plays one item at a time, so two schedules whose occurrences overlap on a device
delay one another (or an emergency interrupts). The check looks ahead 14 days (or until
``valid_until``); an occurrence lasts as long as its bulletin plays: the delivery file's
duration for audio, an estimate at 150 words per minute (at least 5 s) for text, its window
for a relay.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from control_center.core.targets import resolve_targets, spec_of
from control_center.models import (
    Bulletin,
    BulletinKind,
    LiveStream,
    MediaAsset,
    Schedule,
    ScheduleKind,
)
from control_center.services.expansion import Recurrence, expand_recurring, zone
from control_center.services.schedule_timing import Timing

HORIZON = timedelta(days=14)
WORDS_PER_MINUTE = 150
MIN_TEXT = timedelta(seconds=5)
MIN_AUDIO = timedelta(seconds=1)
MAX_OVERLAPS = 500


@dataclass(frozen=True, slots=True)
class Overlap:
    """One proposed occurrence on one device that plays over another schedule's."""

    device_id: str
    start: datetime  # the proposed occurrence, local time
    other_schedule_id: int
    other_bulletin_id: int
    other_title: str
    other_start: datetime  # local time
    overlap_s: float


def text_duration(text: str) -> timedelta:
    """How long reading ``text`` aloud takes, at 150 words per minute, at least 5 s."""
    words = len(text.split())
    return max(MIN_TEXT, timedelta(seconds=words * 60 / WORDS_PER_MINUTE))


def play_duration(bulletin: Bulletin, asset: MediaAsset | None,
                  window_s: int | None = None) -> timedelta:
    """How long one occurrence of ``bulletin`` plays (its delivery file, the text, or a
    relay's window of ``window_s``)."""
    if bulletin.kind == BulletinKind.RELAY:
        return max(MIN_AUDIO, timedelta(seconds=window_s or 0))
    if bulletin.kind == BulletinKind.TEXT:
        return text_duration(bulletin.text or "")
    if asset is None:
        return MIN_TEXT
    return max(MIN_AUDIO, timedelta(milliseconds=asset.delivery_file()[3]))


def bulletin_durations(session: Session, bulletins: Iterable[Bulletin]) -> dict[int, timedelta]:
    """``play_duration`` of each bulletin, by id (one query for the media, one for relay
    windows when there are relays)."""
    rows = list(bulletins)
    shas = {b.media_sha256 for b in rows if b.media_sha256}
    assets = {a.sha256: a for a in session.scalars(
        select(MediaAsset).where(MediaAsset.sha256.in_(shas)))} if shas else {}
    relay_ids = [b.id for b in rows if b.kind == BulletinKind.RELAY]
    windows = {bid: window for bid, window in session.execute(
        select(LiveStream.bulletin_id, LiveStream.window_s)
        .where(LiveStream.bulletin_id.in_(relay_ids)))} if relay_ids else {}
    return {b.id: play_duration(b, assets.get(b.media_sha256 or ""), windows.get(b.id))
            for b in rows}


def timing_instants(timing: Timing, *, start: datetime, end: datetime) -> list[datetime]:
    """The UTC occurrences of ``timing`` in [start, end]."""
    if timing.kind == ScheduleKind.ONE_OFF:
        at = timing.start_at
        return [at] if at is not None and start <= at <= end else []
    if timing.rrule is None or timing.valid_from is None:
        return []
    rec = Recurrence(timing.rrule, timing.valid_from, timing.valid_until, timing.timezone)
    return expand_recurring(rec, window_start=start, window_end=end)


def timing_of(schedule: Schedule) -> Timing:
    """The timing fields of a stored schedule."""
    return Timing(schedule.kind, schedule.start_at, schedule.rrule, schedule.valid_from,
                  schedule.valid_until, schedule.timezone)


def overlapping(
    mine: Sequence[datetime], mine_len: timedelta, theirs: Sequence[datetime],
    their_len: timedelta,
) -> list[tuple[datetime, datetime, float]]:
    """Pairs (my start, their start, seconds of overlap) of intervals that overlap.

    Both lists are sorted starts; intervals are half-open [start, start + length).
    """
    found: list[tuple[datetime, datetime, float]] = []
    for start in mine:
        end = start + mine_len
        i = bisect.bisect_right(theirs, start - their_len)  # first that may still be playing
        while i < len(theirs) and theirs[i] < end:
            other = theirs[i]
            seconds = (min(end, other + their_len) - max(start, other)).total_seconds()
            if seconds > 0:
                found.append((start, other, seconds))
            i += 1
    return found


def _active_on(
    session: Session, devices: set[str], exclude: int | None,
) -> list[tuple[Schedule, set[str]]]:
    query = (select(Schedule).where(Schedule.cancelled_at.is_(None))
             .options(selectinload(Schedule.targets)).order_by(Schedule.id))
    if exclude is not None:
        query = query.where(Schedule.id != exclude)
    found = []
    for schedule in session.scalars(query):
        shared = resolve_targets(session, spec=spec_of(schedule), check=False) & devices
        if shared:
            found.append((schedule, shared))
    return found


def find_conflicts(
    session: Session, *, timing: Timing, bulletin: Bulletin, device_ids: Iterable[str],
    now: datetime, local_tz: str, horizon: timedelta = HORIZON,
    exclude_schedule_id: int | None = None,
) -> list[Overlap]:
    """Per device, the proposed occurrences in [now, now + horizon] that overlap an occurrence
    of another active schedule on the same device; sorted by device, then time."""
    devices = set(device_ids)
    others = _active_on(session, devices, exclude_schedule_id)
    if not others:
        return []
    durations = bulletin_durations(session, [bulletin])
    mine_len = durations[bulletin.id]
    mine = timing_instants(timing, start=now, end=now + horizon)
    if not mine:
        return []
    bulletins = {b.id: b for b in session.scalars(select(Bulletin).where(
        Bulletin.id.in_({s.bulletin_id for s, _ in others})))}
    durations |= bulletin_durations(session, bulletins.values())
    tz = zone(local_tz)
    found: list[Overlap] = []
    for schedule, shared in others:
        other = bulletins.get(schedule.bulletin_id)
        if other is None:
            continue
        their_len = durations[other.id]
        theirs = timing_instants(timing_of(schedule), start=mine[0] - their_len,
                                 end=mine[-1] + mine_len)
        pairs = overlapping(mine, mine_len, theirs, their_len)
        found += [Overlap(device, start.astimezone(tz), schedule.id, other.id, other.title,
                          their.astimezone(tz), seconds)
                  for device in sorted(shared) for start, their, seconds in pairs]
    found.sort(key=lambda o: (o.device_id, o.start, o.other_schedule_id))
    return found[:MAX_OVERLAPS]


def summarize(overlaps: Sequence[Overlap]) -> list[tuple[Overlap, int]]:
    """One line per (device, other schedule): the first overlap and how many there are."""
    first: dict[tuple[str, int], Overlap] = {}
    counts: dict[tuple[str, int], int] = {}
    for overlap in overlaps:
        key = (overlap.device_id, overlap.other_schedule_id)
        first.setdefault(key, overlap)
        counts[key] = counts.get(key, 0) + 1
    return [(first[key], counts[key]) for key in first]
