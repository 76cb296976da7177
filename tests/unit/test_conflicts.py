"""Overlap detection between schedules, with fixed instants and a real migrated SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.models import (
    AdminUnit,
    Bulletin,
    BulletinKind,
    Device,
    MediaAsset,
    MediaRendition,
    MediaState,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.services.conflicts import (
    find_conflicts,
    overlapping,
    summarize,
    text_duration,
)
from control_center.services.schedule_timing import Timing
from protocol.base import Priority
from protocol.events import DeviceKind

TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 07:00 local, Sunday 1 March
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
S = timedelta(seconds=1)
DAILY_6 = "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0"


def test_text_is_read_at_150_words_a_minute_and_lasts_at_least_5_s() -> None:
    assert text_duration("Sáng mai cắt điện") == timedelta(seconds=5)
    assert text_duration(" ".join(["từ"] * 300)) == timedelta(minutes=2)
    assert text_duration("") == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("mine", "mine_len", "theirs", "their_len", "expected"),
    [
        (T0, 10, T0, 10, 10.0),             # same start: the shorter length
        (T0, 3, T0, 10, 3.0),
        (T0 + 8 * S, 5, T0, 10, 2.0),       # mine starts while theirs still plays
        (T0, 10, T0 + 4 * S, 3, 3.0),       # theirs plays inside mine
        (T0 + 10 * S, 5, T0, 10, None),     # back to back: no overlap
        (T0, 10, T0 + 10 * S, 5, None),
        (T0 + 30 * 60 * S, 10, T0, 10, None),  # 06:30 vs 06:00
    ],
)
def test_overlapping_measures_half_open_intervals(
    mine: datetime, mine_len: int, theirs: datetime, their_len: int, expected: float | None,
) -> None:
    found = overlapping([mine], mine_len * S, [theirs], their_len * S)
    assert found == ([] if expected is None else [(mine, theirs, expected)])


def test_overlapping_finds_every_pair_in_sorted_lists() -> None:
    mine = [T0 + timedelta(days=d) for d in range(5)]
    theirs = [T0 + timedelta(days=d, seconds=2) for d in (1, 3, 9)]
    found = overlapping(mine, 5 * S, theirs, 60 * S)
    assert [(m.day, t.day, s) for m, t, s in found] == [(3, 3, 3.0), (5, 5, 3.0)]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'center.db'}")
    upgrade_database(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _seed(session: Session) -> dict[str, int]:
    unit = AdminUnit(code="xa-a", name="Xã A", level="commune", created_at=NOW)
    session.add(unit)
    session.flush()
    for dev in ("loa-1", "loa-2"):
        session.add(Device(id=dev, name=dev, kind=DeviceKind.SPEAKER, unit_id=unit.id,
                           mqtt_password_hash="x", created_at=NOW))
    asset = MediaAsset(sha256="a" * 64, size=1, mime="audio/wav", duration_ms=10_300,
                       codec="pcm", created_at=NOW, state=MediaState.READY)
    asset.renditions = [MediaRendition(format="opus", sha256="b" * 64, size=1, mime="audio/ogg",
                                       codec="opus", bitrate=32000, duration_ms=10_000,
                                       loudness_lufs=-16, true_peak_dbtp=-1, created_at=NOW)]
    session.add(asset)
    session.flush()
    ids = {"unit": unit.id}
    for key, kind in (("audio", BulletinKind.AUDIO), ("text", BulletinKind.TEXT)):
        bulletin = Bulletin(title=f"Tin {key}", priority=Priority.NORMAL, kind=kind,
                            media_sha256=asset.sha256 if key == "audio" else None,
                            text="Ngày mai cắt điện" if key == "text" else None,
                            created_at=NOW, updated_at=NOW)
        session.add(bulletin)
        session.flush()
        ids[key] = bulletin.id
    return ids


def _daily(session: Session, bulletin_id: int, target: ScheduleTarget,
           rule: str = DAILY_6) -> Schedule:
    schedule = Schedule(bulletin_id=bulletin_id, kind=ScheduleKind.RECURRING, rrule=rule,
                        valid_from=datetime(2026, 2, 1, tzinfo=UTC), timezone=TZ, revision=1,
                        created_at=NOW, updated_at=NOW, targets=[target])
    session.add(schedule)
    session.flush()
    return schedule


def _timing(rule: str | None = DAILY_6, start_at: datetime | None = None,
            until: datetime | None = None) -> Timing:
    if start_at is not None:
        return Timing(ScheduleKind.ONE_OFF, start_at, None, None, None, TZ)
    return Timing(ScheduleKind.RECURRING, None, rule, datetime(2026, 2, 28, 17, tzinfo=UTC),
                  until, TZ)


def test_two_daily_0600_slots_clash_every_day_for_14_days(db: Session) -> None:
    ids = _seed(db)
    existing = _daily(db, ids["audio"], ScheduleTarget(device_id="loa-1"))
    text = db.get(Bulletin, ids["text"])
    assert text is not None
    found = find_conflicts(db, timing=_timing(), bulletin=text, device_ids={"loa-1", "loa-2"},
                           now=NOW, local_tz=TZ)
    assert len(found) == 14 and {o.device_id for o in found} == {"loa-1"}
    first = found[0]
    assert (first.other_schedule_id, first.other_title, first.overlap_s) == (
        existing.id, "Tin audio", 5.0)  # the text lasts 5 s, inside the 10 s audio
    assert first.start.isoformat() == "2026-03-02T06:00:00+07:00"
    assert first.other_start == first.start
    assert found[-1].start.isoformat() == "2026-03-15T06:00:00+07:00"
    assert summarize(found) == [(first, 14)]
    # ending after three days bounds the check
    until = datetime(2026, 3, 4, 17, tzinfo=UTC)
    assert len(find_conflicts(db, timing=_timing(until=until), bulletin=text,
                              device_ids={"loa-1"}, now=NOW, local_tz=TZ)) == 3


def test_0630_does_not_clash_and_a_start_inside_the_audio_does(db: Session) -> None:
    ids = _seed(db)
    _daily(db, ids["audio"], ScheduleTarget(unit_id=ids["unit"]))  # reaches both devices
    audio = db.get(Bulletin, ids["audio"])
    assert audio is not None
    rule_0630 = "FREQ=DAILY;BYHOUR=6;BYMINUTE=30;BYSECOND=0"
    assert find_conflicts(db, timing=_timing(rule_0630), bulletin=audio,
                          device_ids={"loa-1", "loa-2"}, now=NOW, local_tz=TZ) == []
    inside = T0 - timedelta(hours=7) + timedelta(seconds=8)  # 06:00:08 local on 2 March
    found = find_conflicts(db, timing=_timing(start_at=inside), bulletin=audio,
                           device_ids={"loa-1", "loa-2"}, now=NOW, local_tz=TZ)
    assert [(o.device_id, o.overlap_s) for o in found] == [("loa-1", 2.0), ("loa-2", 2.0)]


def test_cancelled_excluded_and_other_devices_are_ignored(db: Session) -> None:
    ids = _seed(db)
    mine = _daily(db, ids["audio"], ScheduleTarget(device_id="loa-1"))
    other = _daily(db, ids["audio"], ScheduleTarget(device_id="loa-2"))
    audio = db.get(Bulletin, ids["audio"])
    assert audio is not None
    # editing a schedule does not clash with itself; loa-2's schedule is elsewhere
    assert find_conflicts(db, timing=_timing(), bulletin=audio, device_ids={"loa-1"}, now=NOW,
                          local_tz=TZ, exclude_schedule_id=mine.id) == []
    other.cancelled_at = NOW
    db.flush()
    assert find_conflicts(db, timing=_timing(), bulletin=audio, device_ids={"loa-2"}, now=NOW,
                          local_tz=TZ) == []
